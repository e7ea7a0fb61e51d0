"""Where a webhook may be sent: public http(s) addresses only, unless an operator allows more.

A webhook URL is user input that makes *our* servers open connections, so every address it
leads to is checked: loopback, private, link-local, CGNAT, unspecified, multicast and reserved
ranges, cloud metadata endpoints, and IPv4 addresses hidden inside IPv6 forms (mapped, 6to4,
NAT64, Teredo) are refused. Legacy numeric host forms (``2130706433``, ``0x7f000001``,
``0177.0.0.1``, ``127.1``) are refused outright: parsers disagree about them, which is how
filters get bypassed.

The check runs when a webhook is registered and again before every send, on the addresses the
name resolves to *then*; the sender connects to one of exactly those addresses (see
``sender.py``), so a DNS answer that changes between check and connect (rebinding) cannot
redirect a delivery. ``FLOWLLAMA_WEBHOOKS__ALLOW_HOSTS`` lists hosts or CIDR ranges that are let
through anyway (development, tests). Only ports 80 and 443 are allowed unless
``FLOWLLAMA_WEBHOOKS__ALLOW_PORTS`` lists more, and a URL carrying a control character (CR, LF,
raw or percent-encoded) is refused: it could split the request line or headers.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flowllama.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from flowllama.settings import WebhookSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]
"""``(host, port) -> addresses``; injectable so tests can answer like a hostile DNS server."""

ALLOWED_SCHEMES = frozenset({"http", "https"})
METADATA_HOSTS = frozenset({
    "metadata.google.internal", "metadata.goog", "metadata", "instance-data",
    "instance-data.ec2.internal",
})
METADATA_ADDRESSES = frozenset({
    ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200"),
})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# A DNS name: labels of letters, digits and hyphens (IDNs arrive here already as punycode).
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
                       r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_CANONICAL_IPV4 = re.compile(rf"^{_OCTET}(\.{_OCTET}){{3}}$")
# A control character, raw or percent-encoded (%00-%1F, %7F): CR/LF would split a header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]|%(?:[01][0-9a-f]|7f)", re.IGNORECASE)
DEFAULT_PORTS = frozenset({80, 443})


class UnsafeUrl(InvalidInput):
    """A webhook URL that may not be called (always reported on the ``url`` field)."""

    code = "unsafe_url"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="url")


class Unresolvable(UnsafeUrl):
    """The host has no address right now: refused at registration, retried at send time."""

    code = "unresolvable_host"


@dataclass(frozen=True)
class WebhookUrl:
    """A parsed webhook URL: ``host`` is lower-case (an IPv6 literal without brackets)."""

    scheme: str
    host: str
    port: int
    target: str
    """Path and query, as sent in the request line (``/`` when empty)."""

    @property
    def host_header(self) -> str:
        """The ``Host`` header value: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> WebhookUrl:
    """Split ``url`` into the parts the checks need, refusing anything but plain http(s)."""
    if _CONTROL.search(url):
        raise UnsafeUrl("The URL contains a control character (such as CR or LF)")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"Not a valid URL: {exc}") from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UnsafeUrl("Only http and https URLs can receive webhooks")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("Credentials in the URL are not allowed; use the signature to "
                        "authenticate deliveries")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("The URL has no host")
    scheme = parts.scheme.lower()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookUrl(scheme, host, port or (443 if scheme == "https" else 80), target)


def literal_address(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal in canonical form; None for a name.

    Raises :class:`UnsafeUrl` for numeric forms other than dotted-quad decimal (integer, hex,
    octal, shortened), which resolvers would quietly turn into an address.
    """
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise UnsafeUrl(f"Not a valid IPv6 address: {host}") from exc
    if _CANONICAL_IPV4.match(host):
        return ipaddress.IPv4Address(host)
    if _looks_numeric(host):
        raise UnsafeUrl("IP addresses must be written in dotted decimal (a.b.c.d)")
    return None


def _looks_numeric(host: str) -> bool:
    """True for anything a C resolver might read as an IPv4 address (``0x7f.1``, ``017…``)."""
    last_label = host.rsplit(".", 1)[-1]
    if re.fullmatch(r"(0x[0-9a-f]*|\d+)", last_label):
        return True  # a top-level label is never numeric in a real DNS name
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, NAT64, Teredo, compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not receive a webhook, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = refusal(inner)
            return f"{reason} (inside {address})" if reason else None
    checks: Sequence[tuple[bool, str]] = (
        (address in METADATA_ADDRESSES, "a cloud metadata address"),
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.version == 4 and address in _CGNAT, "a shared (CGNAT) address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    for refused, reason in checks:
        if refused:
            return f"{address} is {reason}"
    return None


class AllowList:
    """Hosts and networks an operator lets through despite the rules (development, tests).

    A host entry (``localhost``) allows that name whatever it resolves to; an address or CIDR
    entry (``127.0.0.1``, ``10.0.0.0/8``) allows those addresses however they are reached.
    """

    def __init__(self, entries: Sequence[str] = ()) -> None:
        self.hosts: frozenset[str] = frozenset()
        self.networks: tuple[IPNetwork, ...] = ()
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().strip("[]")
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not _HOSTNAME.match(entry):
                    raise ConfigError(f"webhooks.allow_hosts: {raw!r} is neither a host name "
                                      "nor an address or CIDR range") from None
                hosts.add(entry)
        self.hosts, self.networks = frozenset(hosts), tuple(networks)

    def allows_host(self, host: str) -> bool:
        return host.lower() in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to now (A and AAAA), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class CheckedTarget:
    """A URL and the addresses it may be connected to, every one of them checked."""

    url: WebhookUrl
    addresses: tuple[IPAddress, ...]


class UrlPolicy:
    """The SSRF rules with an allow-list and a resolver; one per process is enough."""

    def __init__(self, allow: AllowList | None = None, resolver: Resolver | None = None,
                 ports: Collection[int] | None = DEFAULT_PORTS) -> None:
        """``ports``: the ports a webhook may use (``None``: any)."""
        self.allow = allow or AllowList()
        self.resolver = resolver or system_resolver
        self.ports = None if ports is None else frozenset(ports)

    def check(self, url: str) -> CheckedTarget:
        """Parse, resolve and check ``url``; raises :class:`UnsafeUrl` when any address it
        resolves to is refused (one bad record is enough: the client might pick it)."""
        parsed = parse_url(url)
        if self.ports is not None and parsed.port not in self.ports:
            allowed = ", ".join(str(port) for port in sorted(self.ports))
            raise UnsafeUrl(f"Port {parsed.port} is not allowed for webhooks (allowed: {allowed})")
        host = parsed.host
        if host in METADATA_HOSTS and not self.allow.allows_host(host):
            raise UnsafeUrl(f"{host} is a cloud metadata endpoint")
        literal = literal_address(host)
        if literal is None and not _HOSTNAME.match(host):
            raise UnsafeUrl(f"Not a valid host name: {host}")
        addresses = [literal] if literal is not None else self._resolve(host, parsed.port)
        if not self.allow.allows_host(host):
            for address in addresses:
                reason = refusal(address)
                if reason and not self.allow.allows_address(address):
                    raise UnsafeUrl(f"Webhooks cannot be sent to {host}: {reason}")
        return CheckedTarget(parsed, tuple(addresses))

    def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise Unresolvable(f"{host} does not resolve: {exc}") from exc
        if not addresses:
            raise Unresolvable(f"{host} does not resolve to any address")
        return addresses


def url_policy(settings: WebhookSettings, resolver: Resolver | None = None) -> UrlPolicy:
    """The policy the operator configured (``FLOWLLAMA_WEBHOOKS__ALLOW_HOSTS``/``ALLOW_PORTS``)."""
    return UrlPolicy(AllowList(settings.allow_hosts), resolver, settings.allow_ports)
