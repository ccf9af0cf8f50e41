"""The redirect policy and the body cap helpers of ``http_limits``."""

from __future__ import annotations

import pytest
from rhoconnect_client.exceptions import ResponseTooLarge
from rhoconnect_client.http_limits import capped, redirect_refusal, refuse_announced

HERE = "http://sync.example:9292/application/clientlogin"


@pytest.mark.parametrize(
    ("target", "method", "status", "reason"),
    [
        ("http://evil.example:9292/application/clientlogin", "POST", 307, "another origin"),
        ("http://sync.example:9293/application/clientlogin", "POST", 307, "another origin"),
        ("https://sync.example:9292/application/clientlogin", "GET", 302, "another origin"),
        ("http://sync.example:9292/login", "POST", 302, "turn the POST into a GET"),
        ("http://sync.example:9292/login", "POST", 301, "turn the POST into a GET"),
    ],
)
def test_refused_redirects(target: str, method: str, status: int, reason: str) -> None:
    assert reason in (redirect_refusal(HERE, target, method, status) or "")


def test_https_to_http_is_refused_even_on_the_same_host() -> None:
    reason = redirect_refusal("https://sync.example/application", "http://sync.example/x", "GET", 302)
    assert reason == "it leaves https for an unencrypted connection"


@pytest.mark.parametrize(
    ("target", "method", "status"),
    [
        ("http://sync.example:9292/other", "POST", 307),
        ("http://SYNC.example:9292/other", "POST", 308),
        ("/relative/path", "GET", 302),
        ("http://sync.example:9292/x", "GET", 301),
    ],
)
def test_same_origin_redirects_that_keep_the_method_are_followed(
    target: str, method: str, status: int
) -> None:
    absolute = target if target.startswith("http") else "http://sync.example:9292" + target
    assert redirect_refusal(HERE, absolute, method, status) is None


def test_default_ports_count_as_the_same_origin() -> None:
    assert redirect_refusal("https://a.example/x", "https://a.example:443/y", "POST", 307) is None


def test_a_streamed_body_is_not_sent_again() -> None:
    reason = redirect_refusal(HERE, "http://sync.example:9292/y", "POST", 307, replayable=False)
    assert reason == "the request body cannot be sent again"


def test_capped_raises_as_soon_as_the_limit_is_passed() -> None:
    seen: list[bytes] = []
    chunks = iter([b"a" * 4, b"b" * 4, b"c" * 4, b"never read"])
    with pytest.raises(ResponseTooLarge, match="larger than the 10 bytes limit"):
        for chunk in capped(chunks, 10, "http://h:1/x"):
            seen.append(chunk)
    assert seen == [b"a" * 4, b"b" * 4]
    assert next(chunks) == b"never read"


def test_announced_length_over_the_limit_is_refused() -> None:
    refuse_announced("1024", 1024, "http://h:1/x")
    refuse_announced(None, 1, "http://h:1/x")
    refuse_announced("junk", 1, "http://h:1/x")
    with pytest.raises(ResponseTooLarge, match=r"larger than the 1 KiB limit \(Content-Length 1025\)"):
        refuse_announced("1025", 1024, "http://h:1/x")
