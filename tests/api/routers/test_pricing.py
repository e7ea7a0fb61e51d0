"""``/api/pricing/estimate``: recommendation, per-cloud best, sources, and bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_estimate_recommends_and_compares_clouds(client: TestClient) -> None:
    response = client.get("/api/pricing/estimate", params={
        "model": "llama3.1:8b", "context_size": 8192, "spot_tolerance": "high"})
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "snapshot"
    assert body["as_of"]
    best = body["recommended"]
    assert best["price_per_hour"] > 0
    parts = best["breakdown"]
    assert parts["compute"] == round(best["price_per_hour"] * 730, 2)
    assert best["price_per_month"] == round(parts["compute"] + parts["disk"] + parts["egress"], 2)
    assert set(body["by_cloud"]) == {"aws", "gcp"}
    assert body["candidates"][0] == best
    prices = [c["price_per_month"] for c in body["candidates"]]
    assert prices == sorted(prices)
    assert body["requirements"]["total_bytes"] > 0
    assert body["rationale"]


def test_cloud_and_region_filters(client: TestClient) -> None:
    body = client.get("/api/pricing/estimate", params={
        "model": "llama3.2:1b", "clouds": "gcp", "regions": "us-central1"}).json()
    assert body["candidates"]
    assert {c["cloud"] for c in body["candidates"]} == {"gcp"}
    assert {c["region"] for c in body["candidates"]} == {"us-central1"}


def test_unknown_model_is_404_with_suggestions(client: TestClient) -> None:
    response = client.get("/api/pricing/estimate", params={"model": "lama3.1:8b"})
    assert response.status_code == 404
    assert "llama3.1:8b" in response.json()["error"]["message"]


def test_context_above_maximum_is_422_naming_it(client: TestClient) -> None:
    response = client.get("/api/pricing/estimate",
                          params={"model": "llama3.2:1b", "context_size": 10_000_000})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "context_size"
    response = client.get("/api/pricing/estimate",
                          params={"model": "gemma2:2b", "context_size": 100_000})
    assert response.status_code == 422
    assert "8192" in response.json()["error"]["message"]


def test_impossible_constraints_are_200_with_reason(client: TestClient) -> None:
    response = client.get("/api/pricing/estimate", params={
        "model": "llama3.1:70b", "instance_type": "g4dn.xlarge", "context_size": 32768})
    assert response.status_code == 200
    body = response.json()
    assert body["candidates"] == []
    assert body["recommended"] is None
    assert body["reason"]


def test_bad_enum_names_field(client: TestClient) -> None:
    response = client.get("/api/pricing/estimate",
                          params={"model": "llama3.2:1b", "spot_tolerance": "maybe"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "spot_tolerance"
