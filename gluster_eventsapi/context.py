"""Everything a command may touch in the outside world, passed in one object.

Tests build a ``Context`` with their own streams, environment, clock and SSH runner, so
nothing needs patching (STYLE habit 5).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from glustereventsd.base.paths import Paths, resolve_paths

if TYPE_CHECKING:
    from gluster_eventsapi.pool.fanout import Runner


@dataclass
class Context:
    """Streams, environment, file locations, clock and SSH runner of one CLI run."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.time
    runner: Runner | None = None  # None: the real ssh client (imported only when needed)
    paths: Paths | None = None

    def get_paths(self) -> Paths:
        """File locations for this run (resolved from ``environ`` on first use)."""
        if self.paths is None:
            self.paths = resolve_paths(self.environ)
        return self.paths

    def get_runner(self) -> Runner:
        """How commands reach the peers: the injected runner, or the OpenSSH client."""
        if self.runner is None:
            from gluster_eventsapi.pool.fanout import subprocess_runner

            self.runner = subprocess_runner
        return self.runner
