"""One webhook POST, connected only to an address the SSRF rules just approved.

The URL is checked again at send time (its DNS answer may have changed since registration),
and the request goes to the checked IP itself — the URL is rewritten to the address, with the
original ``Host`` header and, for https, the original name as SNI and for certificate checks —
so no second DNS lookup can lead the connection somewhere else. Redirects are never followed
(a 3xx is a failed attempt), proxies from the environment are ignored (the proxy's address
would not be checked), and the answer's body is never read.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from flowllama import __version__
from flowllama.webhooks.ssrf import CheckedTarget, IPAddress, Unresolvable, UnsafeUrl, UrlPolicy

USER_AGENT = f"FlowLlama-Webhooks/{__version__}"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class SendResult:
    """What one attempt got: a status code, or an error; ``permanent`` errors are not retried
    (the URL is refused by the SSRF rules)."""

    status_code: int | None = None
    error: str | None = None
    permanent: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def address_url(target: CheckedTarget, address: IPAddress) -> str:
    """The URL that reaches ``address`` directly, keeping the path and query."""
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"{target.url.scheme}://{host}:{target.url.port}{target.url.target}"


class WebhookSender:
    """POSTs signed bodies; thread-safe (one connection pool shared by the dispatcher)."""

    def __init__(self, policy: UrlPolicy, *, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.policy = policy
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False,
            transport=transport, headers={"User-Agent": USER_AGENT},
        )

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        """POST ``body`` to ``url``; every failure is reported in the result, none raised."""
        started = time.perf_counter()
        try:
            target = self.policy.check(url)
        except Unresolvable as exc:  # DNS may come back: retry later
            return SendResult(error=exc.message, duration_s=time.perf_counter() - started)
        except UnsafeUrl as exc:
            return SendResult(error=f"refused: {exc.message}", permanent=True,
                              duration_s=time.perf_counter() - started)
        result = self._post(target, body, headers)
        return SendResult(result.status_code, result.error, False,
                          time.perf_counter() - started)

    def _post(self, target: CheckedTarget, body: bytes, headers: Mapping[str, str]
              ) -> SendResult:
        error = "no address to connect to"
        for address in target.addresses:  # the next checked address only if connecting failed
            request = self._client.build_request(
                "POST", address_url(target, address), content=body,
                headers={**headers, "Host": target.url.host_header},
                extensions={"sni_hostname": target.url.host},
            )
            try:
                response = self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                error = _describe(exc)
                continue
            except httpx.HTTPError as exc:
                return SendResult(error=_describe(exc))
            response.close()  # the body is not ours to read (it could be endless)
            error_text = None if 200 <= response.status_code < 300 else _status_error(response)
            return SendResult(status_code=response.status_code, error=error_text)
        return SendResult(error=error)

    def close(self) -> None:
        self._client.close()


def _status_error(response: httpx.Response) -> str:
    if response.is_redirect:
        return f"HTTP {response.status_code}: redirects are not followed"
    return f"HTTP {response.status_code}"


def _describe(exc: httpx.HTTPError) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]
