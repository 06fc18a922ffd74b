"""The real 3-node pool, built once for the session by the first test that asks for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.namespaces import unavailable_reason
from tests.realpool.harness import GlusterPool, missing_programs

# Set by .ci/run: there the pool must run, so a reason to skip is a failure instead.
REQUIRE_ENV = "GLUSTER_EVENTS_REQUIRE_POOL"


@pytest.fixture(scope="session")
def gpool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlusterPool]:
    reason = unavailable_reason() or missing_programs()
    if reason:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"the real Gluster pool cannot run here: {reason} ({REQUIRE_ENV} is set)")
        pytest.skip(f"real Gluster pool: {reason}")
    pool = GlusterPool(Path(tmp_path_factory.mktemp("i11pool")))
    try:
        pool.up()
        yield pool
    finally:
        problems = pool.down()
        timings = ", ".join(f"{k} {v:.1f}s" for k, v in pool.timings.items())
        (pool.base / "timings.txt").write_text(timings + "\n")
        assert not problems, "pool teardown left: " + "; ".join(problems)
