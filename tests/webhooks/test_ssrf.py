"""The SSRF rules: which webhook URLs and addresses are refused, and the allow-list."""

from __future__ import annotations

import ipaddress

import pytest

from flowllama.errors import ConfigError
from flowllama.webhooks.ssrf import (
    AllowList,
    IPAddress,
    Unresolvable,
    UnsafeUrl,
    UrlPolicy,
    parse_url,
    refusal,
)


def resolver_for(answers: dict[str, list[str]]) -> UrlPolicy:
    def resolve(host: str, _port: int) -> list[IPAddress]:
        if host not in answers:
            raise OSError("Name or service not known")
        return [ipaddress.ip_address(a) for a in answers[host]]

    return UrlPolicy(resolver=resolve)


PUBLIC = resolver_for({"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07::1"]})


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook",
    "http://127.8.9.10:8080/",
    "http://10.0.0.5/",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.1.1/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:7f00:1::]/",          # 6to4 around 127.0.0.1
    "http://[64:ff9b::a00:1]/",         # NAT64 around 10.0.0.1
])
def test_refuses_internal_addresses(url: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        PUBLIC.check(url)
    assert caught.value.field == "url"
    assert caught.value.status_code == 422


@pytest.mark.parametrize("url", [
    "http://2130706433/",        # decimal 127.0.0.1
    "http://0x7f000001/",        # hex
    "http://0177.0.0.1/",        # octal first octet
    "http://0x7f.0.0.1/",
    "http://127.1/",             # shortened
    "http://017700000001/",
    "http://3232235777/",        # decimal 192.168.1.1
    "http://0/",
])
def test_refuses_numeric_host_forms(url: str) -> None:
    with pytest.raises(UnsafeUrl, match=r"dotted decimal|not a public|loopback"):
        PUBLIC.check(url)


@pytest.mark.parametrize("url", [
    "ftp://hooks.example.com/", "file:///etc/passwd", "gopher://hooks.example.com/",
    "javascript:alert(1)", "http:///nohost", "hooks.example.com/path",
    "http://user:pass@hooks.example.com/", "http://hooks.example.com:99999/",
    "http://metadata.google.internal/computeMetadata/v1/", "http://metadata/",
    "http://bad_host!.example.com/",
])
def test_refuses_bad_schemes_credentials_and_metadata_names(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        PUBLIC.check(url)


def test_hostname_resolving_to_a_private_address_is_refused() -> None:
    policy = resolver_for({"internal.example.com": ["10.1.2.3"]})
    with pytest.raises(UnsafeUrl, match="private"):
        policy.check("https://internal.example.com/hook")


def test_one_private_record_among_public_ones_is_enough_to_refuse() -> None:
    policy = resolver_for({"mixed.example.com": ["93.184.215.14", "127.0.0.1"]})
    with pytest.raises(UnsafeUrl, match="loopback"):
        policy.check("https://mixed.example.com/")


def test_unresolvable_host_is_refused_as_such() -> None:
    with pytest.raises(Unresolvable):
        PUBLIC.check("https://nowhere.example.com/")


def test_public_url_passes_with_every_checked_address() -> None:
    target = PUBLIC.check("https://Hooks.Example.com/in?x=1")
    assert target.url.host == "hooks.example.com"
    assert target.url.port == 443
    assert target.url.target == "/in?x=1"
    assert [str(a) for a in target.addresses] == ["93.184.215.14", "2606:2800:21f:cb07::1"]


def test_public_literal_addresses_pass() -> None:
    assert PUBLIC.check("http://8.8.8.8/").addresses == (ipaddress.ip_address("8.8.8.8"),)
    assert refusal(ipaddress.ip_address("2606:4700:4700::1111")) is None


def test_allow_list_by_address_and_by_cidr() -> None:
    policy = UrlPolicy(AllowList(["127.0.0.1", "10.0.0.0/8"]), ports=[80, 9000])
    assert policy.check("http://127.0.0.1:9000/").url.port == 9000
    assert policy.check("http://10.9.8.7/").addresses
    with pytest.raises(UnsafeUrl):
        policy.check("http://127.0.0.2/")
    with pytest.raises(UnsafeUrl):
        policy.check("http://[::1]/")


def test_allow_list_by_host_name() -> None:
    def resolve(_host: str, _port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]

    policy = UrlPolicy(AllowList(["localhost"]), resolver=resolve, ports=None)
    assert policy.check("http://LOCALHOST:8000/").url.host == "localhost"


def test_allow_list_does_not_relax_numeric_forms() -> None:
    with pytest.raises(UnsafeUrl, match="dotted decimal"):
        UrlPolicy(AllowList(["127.0.0.0/8"])).check("http://2130706433/")


def test_allow_list_rejects_garbage() -> None:
    with pytest.raises(ConfigError):
        AllowList(["not a host!"])


def test_host_header_keeps_non_default_ports() -> None:
    assert parse_url("https://h.example.com/").host_header == "h.example.com"
    assert parse_url("http://h.example.com:8080/").host_header == "h.example.com:8080"
    assert parse_url("http://[2001:db8::1]:81/").host_header == "[2001:db8::1]:81"


def test_settings_refuse_a_bad_allow_list_entry() -> None:
    from pydantic import ValidationError

    from flowllama.settings import WebhookSettings

    assert WebhookSettings(allow_hosts=["127.0.0.1", "::1/128", "localhost"]).allow_hosts
    with pytest.raises(ValidationError, match="allow_hosts"):
        WebhookSettings(allow_hosts=["http://bad/"])


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/a\r\nX-Injected: 1", "https://hooks.example.com/\n",
    "https://hooks.example.com/a%0D%0AX-Injected:%201", "https://hooks.example.com/?q=%0a",
    "https://hooks.example.com/%00", "https://hooks.example.com/\t",
])
def test_control_characters_raw_or_percent_encoded_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="control character"):
        PUBLIC.check(url)


def test_only_ports_80_and_443_unless_widened() -> None:
    assert PUBLIC.check("https://8.8.8.8:443/").url.port == 443
    with pytest.raises(UnsafeUrl, match="Port 8443"):
        PUBLIC.check("https://8.8.8.8:8443/")
    widened = UrlPolicy(ports=[443, 8443])
    assert widened.check("https://8.8.8.8:8443/").url.port == 8443
    from pydantic import ValidationError

    from flowllama.settings import WebhookSettings

    with pytest.raises(ValidationError, match="allow_ports"):
        WebhookSettings(allow_ports=[0])
