from __future__ import annotations

import pytest

from runtime.errors import ProcedureRuntimeError
from runtime.tool_mocks import NO_MOCK, ToolMock


def test_returns() -> None:
    mock = ToolMock.parse({"returns": {"hits": 1}})
    assert mock is not None
    assert mock.result({}, 1) == {"hits": 1}
    assert mock.result({}, 5) == {"hits": 1}


def test_temporal_by_call_number_the_last_repeating() -> None:
    mock = ToolMock.parse({"temporal": ["first", "second"]})
    assert mock is not None
    assert [mock.result({}, n) for n in (1, 2, 3, 4)] == ["first", "second", "second", "second"]


def test_conditional_first_match_then_fallback() -> None:
    mock = ToolMock.parse(
        {
            "conditional": [
                {"when": {"city": "Paris"}, "returns": "sunny"},
                {"when": {"city": "Oslo", "unit": "C"}, "returns": "cold"},
                {"when": {"city": "Nowhere"}, "error": "unknown city"},
            ],
            "returns": "cloudy",
        }
    )
    assert mock is not None
    assert mock.result({"city": "Paris"}, 1) == "sunny"
    assert mock.result({"city": "Oslo", "unit": "C"}, 1) == "cold"
    assert mock.result({"city": "Oslo"}, 1) == "cloudy"
    with pytest.raises(ProcedureRuntimeError, match="unknown city"):
        mock.result({"city": "Nowhere"}, 1)


def test_conditional_without_fallback_runs_the_real_tool() -> None:
    mock = ToolMock.parse({"conditional": [{"when": {"a": 1}, "returns": 2}]})
    assert mock is not None
    assert mock.result({"a": 3}, 1) is NO_MOCK


def test_error() -> None:
    mock = ToolMock.parse({"error": "rate limited"})
    assert mock is not None
    with pytest.raises(ProcedureRuntimeError, match="rate limited"):
        mock.result({}, 1)


def test_agent_mocks_are_not_tool_mocks() -> None:
    assert ToolMock.parse({"message": "hi"}) is None
    assert ToolMock.parse("text") is None
    assert ToolMock.parse(None) is None
