"""Lists that must match another are derived from it or checked here: the sandbox's globals,
the run statuses, terminal events and resumable failures (Python and the frontend), the event kinds the frontend
knows, the agent keys and the runtime's public names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import runtime
from runtime.declarations import AGENT_KEY_ALIASES, AGENT_KEYS, IGNORED_AGENT_KEYS, AgentConfig
from runtime.events import EVENT_KINDS, TERMINAL_TYPES
from runtime.host import Host
from runtime.run import Status
from runtime.source import ProcedureSource
from runtime.store import RESUMABLE_ERRORS, RUN_STATUSES, TERMINAL_STATUSES
from runtime.validate import SANDBOX_GLOBALS

FRONTEND = Path(__file__).resolve().parent.parent / "frontend" / "src"


class _NoEffects:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a bare procedure has no effects ({name})")


def test_the_linters_globals_are_the_sandboxs() -> None:
    host = Host(ProcedureSource("x = 1", "globals.tac"), _NoEffects())
    names = {str(name) for name in host.sandbox.env}
    assert names - {"x"} == set(SANDBOX_GLOBALS)


def test_a_run_ends_with_the_event_named_after_its_status() -> None:
    # A run waiting for a person has stopped without ending: it has no terminal event.
    assert set(get_args(Status)) - {"waiting"} == TERMINAL_STATUSES
    assert {f"run_{status}" for status in TERMINAL_STATUSES} == TERMINAL_TYPES
    assert set(RUN_STATUSES) > TERMINAL_STATUSES


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([a-z_]+)'", text)


def test_the_frontend_knows_the_run_statuses() -> None:
    types = (FRONTEND / "api" / "types.ts").read_text("utf-8")
    statuses = re.search(r"export const RUN_STATUSES = \[([^\]]*)\]", types)
    terminal = re.search(r"export const TERMINAL_STATUSES[^=]*=\s*\[([^\]]*)\]", types)
    assert statuses is not None and terminal is not None
    assert _quoted(statuses[1]) == list(RUN_STATUSES)
    assert set(_quoted(terminal[1])) == TERMINAL_STATUSES


def test_the_frontend_knows_which_failures_a_resumed_run_goes_on_after() -> None:
    types = (FRONTEND / "api" / "types.ts").read_text("utf-8")
    kinds = re.search(r"export const RESUMABLE_ERROR_KINDS[^=]*=\s*\[([^\]]*)\]", types)
    assert kinds is not None
    assert set(_quoted(kinds[1])) == RESUMABLE_ERRORS


def test_the_command_line_offers_the_run_statuses() -> None:
    from runtime.cli.runs import _STATUSES

    assert _STATUSES == RUN_STATUSES


def test_the_frontends_generated_types_have_every_event_kind() -> None:
    generated = (FRONTEND / "generated" / "events.ts").read_text("utf-8")
    kinds = re.findall(r"^\s+type: '([a-z_]+)';", generated, re.M)
    assert sorted(kinds) == sorted(EVENT_KINDS)


def test_agent_keys_are_the_configs_fields() -> None:
    assert frozenset(AgentConfig.model_fields) == AGENT_KEYS
    assert not AGENT_KEYS & IGNORED_AGENT_KEYS
    assert set(AGENT_KEY_ALIASES.values()) <= AGENT_KEYS


def test_every_public_name_of_the_runtime_resolves() -> None:
    assert "Runtime" in runtime.__all__ and "__version__" in runtime.__all__
    for name in runtime.__all__:
        assert getattr(runtime, name) is not None
