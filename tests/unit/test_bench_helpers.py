"""The issue-21 benchmark helpers measure what they claim: the receiver's modes really queue or
shed (checked with concurrent real HTTP requests against the receiver as its own process), and
the profile summary adds up samples as a hand count of a small profile does, bench.turn_cost
splits CPU as a hand computation does, and its probe, in a real daemon, counts every datagram."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import pytest

from bench.daemon_bench import ReceiverProcess, launcher, running, send, switches_between, wait_count
from bench.profile_summary import parse, summarise
from bench.turn_cost import parts_per_turn, solve


def post_together(port: int, count: int) -> list[tuple[int, float]]:
    """``count`` POSTs at once, each on its own connection: (status, seconds until the answer)."""
    answers: list[tuple[int, float]] = []
    lock = threading.Lock()
    gate = threading.Barrier(count)

    def one(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = b'{"name": "v%d"}' % index
        gate.wait()
        begin = time.monotonic()
        connection.request("POST", "/listen", body, {"Content-Type": "application/json"})
        status = connection.getresponse().status
        with lock:
            answers.append((status, time.monotonic() - begin))
        connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return answers


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> ReceiverProcess:
    mode, service, limit = request.param
    process = ReceiverProcess(mode=mode, service=service, limit=limit).start()
    request.addfinalizer(process.stop)
    return process


@pytest.mark.parametrize("receiver", [("serial", 0.1, 4)], indirect=True)
def test_serial_receiver_queues_one_at_a_time(receiver: ReceiverProcess) -> None:
    answers = post_together(receiver.port, 4)
    assert sorted(status for status, _ in answers) == [200] * 4
    slowest = max(secs for _, secs in answers)
    assert slowest >= 0.39  # the fourth waited for three others of 0.1 s each
    timings = sorted(receiver.timings(), key=lambda t: t[1])
    starts = [start for _, start, _, _ in timings]
    assert all(later - earlier >= 0.099 for earlier, later in zip(starts, starts[1:]))
    assert max(start - arrived for arrived, start, _, _ in timings) >= 0.29
    assert receiver.max_in_flight() == 4 and receiver.count() == 4


@pytest.mark.parametrize("receiver", [("limit", 0.5, 2)], indirect=True)
def test_limit_receiver_sheds_past_its_limit(receiver: ReceiverProcess) -> None:
    answers = post_together(receiver.port, 5)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 200, 503, 503, 503]
    assert all(secs < 0.4 for status, secs in answers if status == 503)  # shed at once
    assert all(secs >= 0.49 for status, secs in answers if status == 200)
    assert receiver.count() == 2 and receiver.max_in_flight() == 2
    assert sum(1 for *_, status in receiver.timings() if status == 503) == 3


def test_profile_summary_counts_self_and_total_samples() -> None:
    raw = [
        "thread (11): pipeline;run (glustereventsd/pipeline.py:95);turn (glustereventsd/committer.py:80) 6",
        "thread (11): pipeline;run (glustereventsd/pipeline.py:99);sleep (glustereventsd/pipeline.py:124) 2",
        "thread (12): deliver;step (glustereventsd/delivery.py:185);select (/usr/lib/python3.11/selectors.py:468) 2",
    ]
    text = summarise(parse(raw, {}), 3)
    assert text.splitlines()[0] == "10 samples"
    assert "   60.0%  turn (glustereventsd/committer.py)  [thread (11): pipeline 100%]" in text
    assert "   80.0%  run (glustereventsd/pipeline.py)" in text  # two lines of one function add up
    assert "   20.0%  select (selectors.py)" in text
    assert "   80.0%  thread (11): pipeline" in text


def test_switch_deltas_and_patch_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEV_BENCH_TURNS", raising=False)
    before = {1: ("main", 10.0), 2: ("udp", 5.0)}
    after = {1: ("main", 13.0), 2: ("udp", 9.0), 3: ("udp", 2.0)}  # a new thread counts from 0
    assert switches_between(before, after) == {"main": 3.0, "udp": 6.0}
    assert launcher("") == ["-m", "glustereventsd"]
    code = launcher("glustereventsd.pipeline.GATHER_SECS=0")[1]
    assert "setattr(module, 'GATHER_SECS', 0)" in code and "importlib.import_module('glustereventsd.pipeline')" in code
    with pytest.raises(SystemExit, match="not module.NAME=value"):
        launcher("GATHER_SECS")
    monkeypatch.setenv("GEV_BENCH_TURNS", "/tmp/turns.json")
    code = launcher("")[1]  # the probe runs first, then the daemon as it is
    assert "turn_probe.py" in code and code.endswith("runpy.run_module('glustereventsd', run_name='__main__', alter_sys=True)")


def test_turn_cost_splits_cpu_into_per_turn_and_per_event() -> None:
    def run(cpu_per_1000: float, datagrams: int, turns: int) -> dict[str, object]:
        return {"figures": {"cpu_s_per_1000": cpu_per_1000}, "turns": {"datagrams": datagrams, "turns": turns}}

    # 40 us per event and 400 us per turn: 0.04 + 0.08 s per 1,000 at 5 per turn, 0.04 + 0.04 at 10
    per_event, per_turn = solve([run(0.120, 20_000, 4_000), run(0.080, 20_000, 2_000)])
    assert per_event == pytest.approx(40e-6) and per_turn == pytest.approx(400e-6)
    assert solve([run(0.120, 20_000, 4_000), run(0.118, 20_000, 3_990)]) is None  # batches alike: no split
    assert solve([run(0.080, 20_000, 4_000), run(0.120, 20_000, 2_000)]) is None  # larger turns dearer: noise
    turns = {"turns": 4, "datagrams": 20, "thread_cpu_s": 0.010,
             "parts": {"wait": {"cpu_s": 0.001, "calls": 9}, "ingest": {"cpu_s": 0.003, "calls": 4},
                       "events.log": {"cpu_s": 0.001, "calls": 4}, "turn": {"cpu_s": 0.005, "calls": 4},
                       "sqlite": {"cpu_s": 0.003, "calls": 4}, "hand_over": {"cpu_s": 0.0004, "calls": 4}}}
    parts = parts_per_turn(turns)
    # events.log is taken out of the parse, SQLite and the hand-over out of the turn, the rest is the loop's
    assert parts == pytest.approx({"wait": 250, "parse": 500, "events.log": 250, "sqlite": 750, "hand_over": 100,
                                   "accounting": 400, "loop": 250})


def test_turn_probe_in_a_real_daemon_counts_every_datagram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "turns.json"
    monkeypatch.setenv("GEV_BENCH_TURNS", str(output))
    receiver = ReceiverProcess().start()
    try:
        with running("disk", receiver) as daemon:
            send(daemon.port, 60, rate=600)
            assert wait_count(receiver, 60, 30) == 60
    finally:
        receiver.stop()
    turns = json.loads(output.read_text())
    assert turns["datagrams"] == 60 and 1 <= turns["turns"] <= 60
    parts = turns["parts"]
    assert parts["sqlite"]["calls"] >= turns["turns"] and parts["ingest"]["calls"] >= turns["turns"]
    timed = parts["wait"]["cpu_s"] + parts["ingest"]["cpu_s"] + parts["turn"]["cpu_s"]
    assert 0 < timed <= turns["thread_cpu_s"]
