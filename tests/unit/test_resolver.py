"""Name lookups off the loop: one lookup per name however many wait, answers kept, a hung name holds one thread."""

from __future__ import annotations

import threading
import time

import pytest

from glustereventsd.sinks.http import resolver
from glustereventsd.sinks.http.resolver import Resolver


def collect(res: Resolver, want: int, timeout: float = 5.0) -> list[resolver.Answer]:
    deadline = time.monotonic() + timeout
    got: list[resolver.Answer] = []
    while len(got) < want and time.monotonic() < deadline:
        while res.answers:
            got.append(res.answers.popleft())
        time.sleep(0.01)
    return got


def test_one_lookup_per_name_and_answers_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    release = threading.Event()

    def lookup(host: str, port: int) -> list[resolver.Address]:
        calls.append(host)
        release.wait(5)
        return [(resolver.socket.AF_INET, ("127.0.0.1", port))]

    monkeypatch.setattr(resolver, "lookup_now", lookup)
    res = Resolver(lambda: None)
    for token in ("a", "b", "c"):
        assert res.lookup(token, "hook.example", 80)
    release.set()
    answers = collect(res, 3)
    assert sorted(a.token for a in answers) == ["a", "b", "c"] and calls == ["hook.example"]
    assert res.cached("hook.example", 80) == ([(resolver.socket.AF_INET, ("127.0.0.1", 80))], "")
    res.close()


def test_a_name_that_hangs_does_not_hold_up_another(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def lookup(host: str, port: int) -> list[resolver.Address]:
        if host == "hangs.example":
            release.wait(10)
        return [(resolver.socket.AF_INET, ("127.0.0.1", port))]

    monkeypatch.setattr(resolver, "lookup_now", lookup)
    res = Resolver(lambda: None)
    for index in range(resolver.MAX_THREADS // 2):  # retries of the hung name coalesce into one lookup
        res.lookup(f"retry{index}", "hangs.example", 80)
    res.lookup("fine", "fine.example", 80)
    answers = collect(res, 1, timeout=3)
    assert [a.token for a in answers] == ["fine"]
    release.set()
    res.close()


def test_failures_are_cached_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def lookup(host: str, port: int) -> list[resolver.Address]:
        calls.append(host)
        raise OSError(0, f"cannot resolve {host}: Name or service not known")

    monkeypatch.setattr(resolver, "lookup_now", lookup)
    now = [100.0]
    res = Resolver(lambda: None, clock=lambda: now[0])
    res.lookup("t", "nowhere.example", 80)
    assert collect(res, 1)[0].error.startswith("cannot resolve nowhere.example")
    assert res.cached("nowhere.example", 80) == ([], "cannot resolve nowhere.example: Name or service not known")
    now[0] += resolver.FAILURE_CACHE_SECS + 1
    assert res.cached("nowhere.example", 80) is None and calls == ["nowhere.example"]
    res.close()
