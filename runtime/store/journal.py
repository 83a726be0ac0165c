"""The journal: every effect a run had on the world, in the order the run asked for them.

An entry is keyed by its position in the run (0, 1, 2… in the order effects were asked for,
whatever their kind), its kind and name, its ordinal among effects of that kind and name, and
a hash of its arguments. It holds the effect's result as JSON, and the event sequence number
the run had reached when the effect completed: a resumed run answers the effect from here and
carries on numbering events from there.

Position 0 is the run itself (kind ``run``): what is needed to start it again (the procedure's
path and text, its inputs, the model, mock mode). Entries are plain JSON, so any database
behind ``ExecutionStore`` can hold them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

EffectKind = Literal["run", "model", "tool", "procedure", "human", "read"]
RUN_POSITION = 0


def args_hash(value: Any) -> str:
    """A stable hash of JSON-like arguments (keys sorted; non-JSON values by their text)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class JournalEntry:
    position: int
    kind: str
    name: str
    ordinal: int
    args_hash: str | None
    value: Any = None
    # The run's last event sequence number once the effect had completed.
    seq: int = 0
    # The position after the effect and the effects it contained (a tool that called an agent).
    end_position: int = 0
    # What else a replay restores: the run's State after a tool, the usage of a model call…
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def data_json(self) -> str:
        return json.dumps(
            {
                "value": self.value,
                "end_position": self.end_position,
                "extra": self.extra,
                "created_at": self.created_at.isoformat(),
            },
            ensure_ascii=False,
            default=str,
        )

    @classmethod
    def from_row(
        cls,
        position: int,
        kind: str,
        name: str,
        ordinal: int,
        hashed: str | None,
        seq: int,
        data: str,
    ) -> JournalEntry:
        fields = json.loads(data)
        return cls(
            position=position,
            kind=kind,
            name=name,
            ordinal=ordinal,
            args_hash=hashed,
            value=fields.get("value"),
            seq=seq,
            end_position=int(fields.get("end_position") or position + 1),
            extra=dict(fields.get("extra") or {}),
            created_at=datetime.fromisoformat(fields["created_at"])
            if fields.get("created_at")
            else datetime.now(UTC),
        )


def request_id_for(run_id: str, position: int) -> str:
    """A human request's id: the run and the request's position in it."""
    return f"{run_id}-h{position}"


def request_position(run_id: str, request_id: str) -> int | None:
    prefix = f"{run_id}-h"
    if not request_id.startswith(prefix) or not request_id[len(prefix) :].isdigit():
        return None
    return int(request_id[len(prefix) :])


def is_expired(request: dict[str, Any], now: datetime) -> bool:
    """Whether a pending request's timeout has passed (a request without one never expires)."""
    timeout = request.get("timeout_s")
    created = request.get("created_at")
    if timeout is None or created is None:
        return False
    return datetime.fromisoformat(str(created)) + timedelta(seconds=float(timeout)) <= now


class RequestMismatch(Exception):
    """An answer names a request the run is not waiting for (or the run waits for nothing)."""

    def __init__(self, message: str, pending: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.pending = pending
