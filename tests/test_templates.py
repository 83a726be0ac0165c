"""Markers in prompts: ``{input.x}``, ``{state.x}`` and ``{State.x}``, others left alone."""

from __future__ import annotations

from runtime.templates import render


def test_state_markers_in_either_spelling_read_the_state() -> None:
    text = render(
        "Open: {State.open} / {state.open}; mood {input.mood}; {State.absent} {env.HOME} {x}",
        inputs={"mood": "calm"},
        state={"open": 3},
    )
    assert text == "Open: 3 / 3; mood calm; {State.absent} {env.HOME} {x}"


def test_call_context_comes_before_inputs_and_tables_become_json() -> None:
    text = render(
        "{input.topic} {params.topic} {state.tags}",
        inputs={"topic": "tides"},
        state={"tags": ["a", "b"]},
        context={"topic": "moons"},
    )
    assert text == 'moons moons ["a", "b"]'
