"""The egress of an isolated runtime: its only way out of its network namespace, for model pulls.

Inside the namespace the runtime's ``HTTPS_PROXY``/``HTTP_PROXY`` lead (through a bridge, see
:mod:`.isolation`) to this handler in its supervisor, on a Unix socket in the provisioner's
private directory. It serves ``CONNECT host:443`` only (model pulls are HTTPS; Ollama's registry,
``registry.ollama.ai``, and the stores its blobs are fetched from are on port 443), and refuses
with 403 any target that would reach this host or the machine's own link:

* a loopback name (``localhost``, ``*.localhost``, ``ip6-localhost``, ``ip6-loopback``);
* an address that is loopback, unspecified (``0.0.0.0/8``, ``::``), link-local
  (``169.254.0.0/16`` — the cloud metadata service — and ``fe80::/10``) or multicast, after an
  IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is read as the IPv4 address it carries;
* an address of this host itself (the kernel routes it locally: services bound to ``0.0.0.0``).

Without an operator proxy a name is resolved here, *every* address it resolves to must pass, and
the connection goes to one of those checked addresses (never resolved a second time, so a name
cannot change its answer between the check and the connect). With the operator's own
``HTTPS_PROXY`` the target is checked as written (names are the proxy's to resolve: what it may
reach is its policy) and a fresh ``CONNECT`` is sent, with ``Proxy-Authorization: Basic`` when
the proxy URL has credentials.

Standard library only: it runs inside the supervisor.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import socket
from urllib.parse import SplitResult, unquote, urlsplit

from flowllama.providers.local.keyed_front import HeadHandler, answer, relay

HTTPS_PORT = 443  # the only port a runtime may connect to
CONNECT_TIMEOUT_S = 30.0
LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})
_HOSTNAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?",
                       re.IGNORECASE)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # "this network": Linux connects it locally

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """A target the runtime may not reach (the message says why)."""


def egress_handler(upstream_proxy: str | None) -> HeadHandler:
    """The egress: serve ``CONNECT`` through ``upstream_proxy`` (``http://[user:pass@]host:port``)
    or directly, to the targets the module doc allows."""
    proxy = urlsplit(upstream_proxy) if upstream_proxy else None

    def handle(conn: socket.socket, head: bytes, rest: bytes) -> None:
        target = connect_target(head)
        if target is None:
            answer(conn, "405 Method Not Allowed", "only CONNECT host:port is served")
            return
        host, port = target
        try:
            if proxy is not None:
                check_target(host, port)
                upstream = socket.create_connection(
                    (proxy.hostname or "", proxy.port or 80), timeout=CONNECT_TIMEOUT_S)
                first = _proxy_head(host, port, proxy) + rest
            else:
                upstream = connect_direct(host, port)
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                first = rest
        except Refused as exc:
            answer(conn, "403 Forbidden", str(exc))
            return
        except OSError as exc:
            answer(conn, "502 Bad Gateway", f"cannot reach {host}:{port}: {exc}")
            return
        upstream.settimeout(None)
        relay(conn, upstream, first)

    return handle


def connect_target(head: bytes) -> tuple[str, int] | None:
    """(host, port) of a ``CONNECT host:port HTTP/1.x`` request line, else None."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"CONNECT":
        return None
    host, sep, port = parts[1].decode("ascii", "replace").rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def check_target(host: str, port: int) -> None:
    """Raise ``Refused`` unless ``host:port`` may be asked for as written (module doc): port
    443, a host name that is not a loopback name, or an address that passes
    :func:`check_address`."""
    if port != HTTPS_PORT:
        raise Refused(f"port {port} refused: only HTTPS (port {HTTPS_PORT}) is allowed out")
    address = _literal_address(host)
    if address is not None:
        check_address(address)
        return
    if not _HOSTNAME.fullmatch(host):
        raise Refused(f"{host!r} is not a host name")
    name = host.lower().rstrip(".")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        raise Refused(f"{host} is this host's loopback: refused")


def check_address(address: IPAddress) -> None:
    """Raise ``Refused`` when ``address`` is loopback, unspecified, link-local, multicast or
    one of this host's own (an IPv4-mapped IPv6 address counts as the IPv4 it carries)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    this_network = isinstance(address, ipaddress.IPv4Address) and address in _THIS_NETWORK
    if address.is_loopback or address.is_unspecified or this_network:
        raise Refused(f"{address} is this host's loopback or unspecified: refused")
    if address.is_link_local or address.is_multicast:
        raise Refused(f"{address} is link-local or multicast: refused")
    if _is_this_host(address):
        raise Refused(f"{address} is an address of this host: refused")


def connect_direct(host: str, port: int) -> socket.socket:
    """Check ``host:port``, resolve it, check every address it resolves to, and connect to the
    first of those addresses that answers. Raises ``Refused``, or ``OSError`` when none does."""
    check_target(host, port)
    resolved = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_, sockaddr in resolved:
        check_address(ipaddress.ip_address(sockaddr[0]))
    error: OSError = OSError(f"{host} has no address")
    for family, kind, proto, _name, sockaddr in resolved:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(sockaddr)  # the checked address itself, not the name again
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error


def _literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one, in any form a resolver accepts (``127.1``,
    ``2130706433`` and ``0x7f.1`` are IPv4 addresses too), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _is_this_host(address: IPAddress) -> bool:
    """Whether the kernel would deliver to ``address`` locally: a UDP "connect" (no packet is
    sent) picks it as its own source address exactly when it is one of this host's."""
    family = socket.AF_INET if isinstance(address, ipaddress.IPv4Address) else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((str(address), HTTPS_PORT))
            return ipaddress.ip_address(probe.getsockname()[0].split("%", 1)[0]) == address
    except OSError:
        return False  # no route: a connection could not reach anything either


def _proxy_head(host: str, port: int, proxy: SplitResult) -> bytes:
    """The ``CONNECT`` request for the operator's proxy, built afresh from the checked target
    (nothing else of the runtime's request is passed on)."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.username is not None:
        token = base64.b64encode(
            f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
