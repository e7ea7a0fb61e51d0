"""The egress of an isolated runtime (its way out for model pulls), in this process over real
sockets: CONNECT to port 443 only, never to this host (loopback in any spelling, its own
addresses), its link (the metadata service) or an unspecified address, directly or through the
operator's proxy; a name is checked on every address it resolves to and connected to by the
checked address."""

from __future__ import annotations

import base64
import ipaddress
import socket
from typing import Any

import pytest
from tests.providers.local.conftest import HeadServer

from flowllama.providers.local import egress, keyed_front

REFUSED_TARGETS = [
    "127.0.0.1:443", "[::1]:443", "[::ffff:127.0.0.1]:443", "[::ffff:7f00:1]:443",
    "127.1:443", "2130706433:443", "0x7f.1:443",  # what resolvers read as 127.0.0.1
    "localhost:443", "LOCALHOST.:443", "api.localhost:443", "ip6-localhost:443",
    "169.254.169.254:443", "[fe80::1]:443", "[fe80::1%25eth0]:443", "[::ffff:169.254.169.254]:443",
    "0.0.0.0:443", "0.1.2.3:443", "[::]:443", "[::ffff:0.0.0.0]:443", "224.0.0.1:443",
    "registry.ollama.ai:80", "registry.ollama.ai:8000", "93.184.215.14:22",
]


def _egress(proxy: str | None = None) -> int:
    listener = keyed_front.tcp_listener("127.0.0.1", 0)
    keyed_front.serve_heads(listener, egress.egress_handler(proxy), "egress")
    port: int = listener.getsockname()[1]
    return port


def _ask(port: int, request: bytes) -> bytes:
    """The egress's answer (status line and body) to ``request``."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    return answer


def _own_address() -> str | None:
    """A non-loopback address of this host (the one it would send from), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 443))  # TEST-NET-1: nothing is sent
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


@pytest.mark.parametrize("target", REFUSED_TARGETS)
def test_targets_on_this_host_its_link_or_other_ports_are_refused_directly_and_by_proxy(
    target: str, head_server: HeadServer,
) -> None:
    proxy = socket.create_server(("127.0.0.1", 0))
    seen = head_server(proxy, lambda conn, _head: conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n"))
    request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
    for port in (_egress(), _egress(f"http://127.0.0.1:{proxy.getsockname()[1]}")):
        answer = _ask(port, request)
        assert answer.startswith(b"HTTP/1.1 403"), (target, answer)
    assert seen == []  # nothing was asked of the operator's proxy either


def test_this_hosts_own_address_is_refused() -> None:
    own = _own_address()
    if own is None:
        pytest.skip("this host has no non-loopback address")
    with socket.create_server((own, 0)) as service:  # a service of this host on that address
        target = f"{own}:443"
        assert _ask(_egress(), f"CONNECT {target} HTTP/1.1\r\n\r\n".encode()).startswith(
            b"HTTP/1.1 403")
        with pytest.raises(egress.Refused, match="address of this host"):
            egress.check_address(ipaddress.ip_address(service.getsockname()[0]))


def test_only_connect_is_served() -> None:
    answer = _ask(_egress(), b"GET http://registry.ollama.ai/ HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 405")


def test_the_proxy_gets_a_fresh_connect_for_the_checked_target(head_server: HeadServer) -> None:
    proxy = socket.create_server(("127.0.0.1", 0))
    seen = head_server(proxy, lambda conn, _head: conn.sendall(
        b"HTTP/1.1 200 Connection established\r\n\r\n"))
    port = _egress(f"http://user%40corp:p%3Ass@127.0.0.1:{proxy.getsockname()[1]}")
    answer = _ask(port, b"CONNECT registry.ollama.ai:443 HTTP/1.1\r\n"
                        b"Proxy-Authorization: Basic runtime-made\r\nX-Other: 1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200")
    token = base64.b64encode(b"user@corp:p:ss")
    assert seen == [b"CONNECT registry.ollama.ai:443 HTTP/1.1\r\n"
                    b"Host: registry.ollama.ai:443\r\n"
                    b"Proxy-Authorization: Basic " + token + b"\r\n\r\n"]


def _resolving(monkeypatch: pytest.MonkeyPatch, *answers: list[str]) -> list[str]:
    """Make name resolution answer ``answers[0]`` (then ``answers[1]``, ...); returns the
    names asked for."""
    asked: list[str] = []

    def getaddrinfo(host: str, port: int, *_args: Any, **_kwargs: Any) -> list[Any]:
        addresses = answers[min(len(asked), len(answers) - 1)]
        asked.append(host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in addresses]

    monkeypatch.setattr(egress.socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_name_is_refused_when_any_address_it_resolves_to_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for addresses in (["192.0.2.10", "127.0.0.1"], ["::ffff:127.0.0.1"], ["169.254.169.254"]):
        _resolving(monkeypatch, addresses)
        with pytest.raises(egress.Refused):
            egress.connect_direct("mirror.example", 443)


def test_a_name_is_connected_to_by_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A rebinding name: public at the check, loopback if anything asked again.
    asked = _resolving(monkeypatch, ["192.0.2.10"], ["127.0.0.1"])
    connected: list[Any] = []

    class Recording(socket.socket):  # TCP connects are recorded, not made
        def connect(self, address: Any) -> None:
            if self.type != socket.SOCK_STREAM:
                return super().connect(address)  # the "own address?" probe
            connected.append(address)
            return None

    monkeypatch.setattr(egress.socket, "socket", Recording)
    egress.connect_direct("mirror.example", 443).close()
    assert asked == ["mirror.example"]
    assert connected == [("192.0.2.10", 443)]
