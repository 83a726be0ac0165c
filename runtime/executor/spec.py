"""What crosses into an executor: a run described as data."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from runtime.config import RuntimeConfig
from runtime.source import ProcedureSource

# How long past its timeout, or past a cancel, an executor may take to end its run by itself
# before it is killed.
GRACE_S = 0.5
# What an executor may take to start (fork, the runtime, the Lua state) on a busy machine, before
# its procedure's own time counts. A run's timeout is counted from its run_started exactly.
START_ALLOWANCE_S = 3.0
# The executor's address space: what the fork server had, the run's memory limit twice (the
# Lua heap and what was copied out of it) and this much for threads, buffers and the model
# client's work. Reaching it fails allocations; it is a backstop behind the accounting.
ADDRESS_SPACE_OVERHEAD = 1024 * 1024 * 1024


class RunSpec(BaseModel):
    """Everything an executor needs for one run (or one inspection)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    # A run; reading its declarations and checking its inputs (``inspect``); or ``tide
    # validate``'s report on it (``validate``).
    kind: Literal["run", "inspect", "validate"] = "run"
    run_id: str
    source: str
    display_name: str
    path: str | None = None
    project_root: str | None = None
    inputs: dict[str, Any] = {}
    inputs_from_strings: bool = False
    mock: bool = False
    model: str | None = None
    tags: dict[str, Any] = {}
    # Model servers the host runs for providers served on this machine: provider -> address.
    served: dict[str, str] = {}
    # The execution store (a SQLite file) the run records itself in, and journals into.
    store: str | None = None
    # Take the stored run ``run_id`` up again from its journal in ``store`` (its host has
    # checked that it can be, and marked it running) instead of starting a new one.
    resume: bool = False
    config: dict[str, Any] = {}

    @classmethod
    def for_source(cls, source: ProcedureSource, config: RuntimeConfig, **fields: Any) -> RunSpec:
        return cls(
            source=source.text,
            display_name=source.display_name,
            path=str(source.path) if source.path else None,
            project_root=str(source.project_root) if source.project_root else None,
            config=config.model_dump(mode="json"),
            **fields,
        )

    def procedure(self) -> ProcedureSource:
        return ProcedureSource(
            text=self.source,
            display_name=self.display_name,
            path=Path(self.path) if self.path else None,
            project_root=Path(self.project_root) if self.project_root else None,
        )

    def runtime_config(self) -> RuntimeConfig:
        return RuntimeConfig(**self.config)

    def executor_group(self) -> str:
        """Runs that may share an executor: those of one procedure (its text, where it lives)
        with one memory limit. Stopping a run by force stops its executor: a procedure that
        must be stopped so takes only runs of itself with it."""
        digest = hashlib.sha256()
        for part in (self.source, self.path, self.project_root, self.config.get("max_memory")):
            digest.update(repr(part).encode())
            digest.update(b"\0")
        return digest.hexdigest()[:32]

    def start_allowed(self) -> float:
        """The longest from an executor's start to the end of an inspection, or to a run's first
        event: setting up, then the procedure's top level (cut short at the time it is given),
        then the grace."""
        config = self.runtime_config()
        return min(config.inspect_timeout_s, config.timeout_s) + START_ALLOWANCE_S + GRACE_S

    def time_allowed(self) -> float:
        """The longest an executor may live for this spec: its start, then the run's timeout."""
        if self.kind != "run":
            return self.start_allowed()
        return self.start_allowed() + self.runtime_config().timeout_s
