"""Webhook URLs (percent-encoding, IDNA, refusals) and the choice of proxy.

Expected encodings come from independent implementations where there is one: ``idna`` for
host names, urllib3 (what python-requests uses) for proxy bypass rules and request targets.
"""

from __future__ import annotations

import pytest
import urllib3.util
from hypothesis import given
from hypothesis import strategies as st

from glustereventsd.sinks.http import url as weburl
from glustereventsd.sinks.http.proxies import ProxyRules, bypassed, choose, masked, parse_proxy, rules_from_environment
from glustereventsd.sinks.http.url import UrlError


@pytest.mark.parametrize("url,target,host_header", [
    ("http://h/a b", "/a%20b", "h"),
    ("http://h/ä?q=ä", "/%C3%A4?q=%C3%A4", "h"),
    ("http://h/€", "/%E2%82%AC", "h"),
    ("http://h/already%20encoded/%e2%82%ac", "/already%20encoded/%e2%82%ac", "h"),
    ("http://h/100%", "/100%25", "h"),
    ("http://h/p?a=1&b=x/y?z", "/p?a=1&b=x/y?z", "h"),
    ("http://h", "/", "h"),
    ("https://bücher.example/x", "/x", "xn--bcher-kva.example"),
    ("http://BÜCHER.example:8080/", "/", "xn--bcher-kva.example:8080"),
    ("https://h:443/", "/", "h"),
    ("http://[::1]:9000/x", "/x", "[::1]:9000"),
    ("http://my_host:80/x#frag", "/x", "my_host"),
])
def test_request_target_and_host(url: str, target: str, host_header: str) -> None:
    parsed = weburl.parse(url)
    assert (parsed.target, parsed.host_header) == (target, host_header)


def test_targets_agree_with_urllib3() -> None:
    """urllib3 (python-requests' transport) encodes these paths the same way."""
    for path in ("/a b", "/ä", "/€", "/x%20y", "/q?a=b c"):
        ours = weburl.parse(f"http://h{path}").target
        theirs = urllib3.util.parse_url(f"http://h{path}").request_uri
        assert ours == theirs, path


@pytest.mark.parametrize("url,words", [
    ("http://h/a\r\nX-Injected: 1", "control characters"),
    ("http://h/\tx", "control characters"),
    ("http://h\x00st/", "control characters"),
    ("ftp://h/", "must start with http"),
    ("http:///x", "has no host"),
    ("http://user:pw@h/", "credentials"),
    ("http://h:99999/", "invalid port"),
    ("http://h:0/", "invalid port"),
    ("http://h\u3000x/", "whitespace"),
    ("http://☃.example/", "not a valid international name"),
    ("http://[::1/x", "not a valid URL"),
    ("http://ex℀mple.com/", "not a valid URL"),
    ("http://[1:2]/", "not a valid URL|no valid IPv6 address"),  # Python 3.9's urlsplit lets it through to ours
    ("http://[::1]x/", "malformed"),
    ("http://[v1.x]/", "no valid IPv6 address"),
    ("http://h:abc/", "invalid port"),
])
def test_bad_urls_are_refused_with_a_reason(url: str, words: str) -> None:
    with pytest.raises(UrlError, match=words) as caught:
        weburl.parse(url)
    assert "\r" not in str(caught.value) and "\n" not in str(caught.value) and "pw" not in str(caught.value)


@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_and_a_target_is_always_wire_safe(tail: str) -> None:
    try:
        parsed = weburl.parse("http://h/" + tail)
    except UrlError:
        return
    assert parsed.target.isascii() and " " not in parsed.target
    assert all(0x20 < ord(char) < 0x7F for char in parsed.target)


def test_ipv6_zone_ids_connect_through_their_interface_and_stay_out_of_host() -> None:
    parsed = weburl.parse("http://[fe80::1%25eth0]:8080/x")
    assert (parsed.host, parsed.host_header) == ("fe80::1%eth0", "[fe80::1]:8080")


def test_display_hides_query_and_escapes() -> None:
    assert weburl.display("https://h/p?token=SECRET#x") == "https://h/p"
    assert weburl.printable("a\x1b[31mb") == "a\\x1b[31mb"


def test_proxy_urls() -> None:
    proxy = parse_proxy("http://bob:p%3Ass@proxy.example:3128")
    assert (proxy.host, proxy.port, proxy.shown) == ("proxy.example", 3128, "http://proxy.example:3128")
    assert "p:ss" not in repr(proxy) and proxy.authorization == "Basic Ym9iOnA6c3M="
    assert parse_proxy("proxy.example").port == 80
    assert masked("http://bob:secret@proxy:3128") == "http://***@proxy:3128"
    assert masked("http://alice:4242/Sup3rSecret@proxy:3128") == "http://***@proxy:3128"  # unencoded /
    for bad, words in (("https://proxy:3128", "over TLS"), ("socks5://proxy:1080", "SOCKS"), ("http://", "no host"),
                       ("http://alice:4242/Sup3rSecret@proxy:3128", "percent-encode")):
        with pytest.raises(UrlError, match=words):
            parse_proxy(bad)


@pytest.mark.parametrize("no_proxy,host,port,expected", [
    ("example.com", "example.com", 80, True),
    ("example.com", "api.example.com", 80, True),
    (".example.com", "api.example.com", 443, True),
    ("example.com", "notexample.com", 80, False),
    ("example.com:8080", "example.com", 8080, True),
    ("example.com:8080", "example.com", 80, False),
    ("10.0.0.0/8", "10.1.2.3", 80, True),
    ("10.0.0.0/8", "11.1.2.3", 80, False),
    ("127.0.0.1", "127.0.0.1", 9000, True),
    ("localhost, .internal", "db.internal", 80, True),
    ("*", "anything", 1, True),
    ("", "anything", 1, False),
])
def test_no_proxy_rules(no_proxy: str, host: str, port: int, expected: bool) -> None:
    assert bypassed(no_proxy, host, port) is expected


def test_environment_lower_case_first_and_httpoxy() -> None:
    env = {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2", "HTTPS_PROXY": "http://secure:3",
           "NO_PROXY": "internal"}
    rules = rules_from_environment(env)
    assert (rules.http, rules.https, rules.no_proxy) == ("http://lower:2", "http://secure:3", "internal")
    cgi = rules_from_environment({"HTTP_PROXY": "http://attacker:1", "REQUEST_METHOD": "GET"})
    assert cgi.http == ""
    assert rules_from_environment({"ALL_PROXY": "http://all:4"}).https == "http://all:4"


def test_layers_webhook_then_config_then_environment() -> None:
    env = ProxyRules("http://env:1", "http://env:1", "bypass.example")
    config = ProxyRules("http://conf:2", "http://conf:2", "")
    none = ProxyRules()
    assert choose("https", "h", 443, "", none, env) == parse_proxy("http://env:1")
    assert choose("https", "bypass.example", 443, "", none, env) is None
    assert choose("https", "bypass.example", 443, "", config, env) == parse_proxy("http://conf:2")
    assert choose("https", "h", 443, "http://own:3", config, env) == parse_proxy("http://own:3")
    assert choose("https", "h", 443, "none", config, env) is None
    assert choose("http", "h", 80, "", ProxyRules("none", "none", ""), env) is None
