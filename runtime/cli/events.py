"""``tide events --schema``: the JSON Schema of every event."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "events", help="describe the event stream", description="Describe the events a run emits."
    )
    parser.add_argument("--schema", action="store_true", help="print the JSON Schema of all events")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from runtime.events import EVENT_TYPES, event_schema_text

    if args.schema:
        print(event_schema_text())
        return 0
    for kind in EVENT_TYPES:
        name = kind.model_fields["type"].default
        doc = (kind.__doc__ or "").strip().splitlines()[0] if kind.__doc__ else ""
        print(f"{name:20} {kind.__name__} {doc}")
    return 0
