"""Names and tags derived from a deployment id."""

from __future__ import annotations

import pytest

from flowllama.providers.naming import (
    deployment_id_from_name,
    resource_labels,
    resource_name,
    resource_tags,
)

DEPLOYMENT = "3f2a9c0e5b7d4e1f8a6b2c9d0e1f2a3b"
USER = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def test_name_and_tags_come_from_the_deployment() -> None:
    assert resource_name(DEPLOYMENT) == f"fl-{DEPLOYMENT}"
    assert resource_tags(DEPLOYMENT, USER) == {
        "flowllama:deployment": DEPLOYMENT,
        "flowllama:user": USER,
        "Name": f"fl-{DEPLOYMENT}",
    }
    assert resource_labels(DEPLOYMENT, USER) == {
        "flowllama-deployment": DEPLOYMENT,
        "flowllama-user": USER,
    }


def test_name_round_trips_and_ignores_foreign_names() -> None:
    assert deployment_id_from_name(resource_name(DEPLOYMENT)) == DEPLOYMENT
    assert deployment_id_from_name("web-server") is None
    assert deployment_id_from_name("fl-Not_Ours") is None


@pytest.mark.parametrize("bad", ["", "ABC", "a_b", "a b", "-a", "a-", "x" * 61, "a;rm", "é"])
def test_ids_that_could_collide_or_break_a_cloud_name_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot name"):
        resource_name(bad)
    with pytest.raises(ValueError):
        resource_tags(DEPLOYMENT, bad)
