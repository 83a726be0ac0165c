"""Model: declaration forms, schemas, mocks, the mock/http/registry backends, events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runtime import inspect_procedure
from runtime.errors import DeclarationError
from tests.helpers import of_type, run, source

pytestmark = pytest.mark.anyio


async def output_of(text: str, **options: Any) -> Any:
    result, _ = await run(text, **options)
    assert result.status == "completed", result.error
    return result.output


async def test_declaration_forms_and_handles() -> None:
    text = """
    a = Model { type = "mock", value = {label = "a"} }
    Model "b" { type = "mock", value = "b" }
    Model("c", { type = "mock", value = 3 })
    return {
      a = a({}).output.label, dot = a.predict({}).label, colon = a:predict({}).output.label,
      b = Model("b")({}).output, c = Model("c").predict({}).output,
      backend = a({}).backend_type, mocked = a({}).mocked,
    }
    """
    assert await output_of(text, mock=False) == {
        "a": "a", "dot": "a", "colon": "a", "b": "b", "c": 3, "backend": "mock", "mocked": False,
    }  # fmt: skip


async def test_input_schema_is_checked_with_a_location() -> None:
    text = """
    m = Model { type = "mock", value = 1, input = {text = "string", n = "int"} }
    Procedure { function() local r = m({text = 5, n = 1}); return r end }
    """
    result, _ = await run(text)
    assert result.status == "failed"
    assert result.error is not None
    assert "model 'm': input 'text' should be string" in result.error.message
    assert result.error.line == 3


async def test_a_bare_value_fills_the_only_input_field() -> None:
    text = """
    m = Model { type = "mock", value = "ok", input = {text = "string"} }
    return { out = m("hello").output }
    """
    assert await output_of(text) == {"out": "ok"}


async def test_unknown_type_is_a_declaration_error() -> None:
    with pytest.raises(DeclarationError) as caught:
        inspect_procedure(source('m = Model { type = "quantum" }\nreturn {}'))
    assert "unknown model type 'quantum'" in caught.value.message
    assert caught.value.line == 1


async def test_backends_tide_does_not_run_answer_from_mocks() -> None:
    text = """
    m = Model { type = "pytorch", path = "m.pt", input = { text = "string" } }
    Mocks { m = { returns = { label = "spam" } } }
    local ok, err = pcall(function() return Model { type = "sklearn", path = "x" }({}) end)
    return { label = m({ text = "buy now" }).label, err = tostring(err) }
    """
    output = await output_of(text)
    assert output["label"] == "spam"
    assert "model type 'sklearn' is not run by Tide" in output["err"]
    info = inspect_procedure(source(text))
    assert info.warnings[0][0] == (
        "model type 'pytorch' is not run by Tide: the model answers only from its mocks"
    )


async def test_training_is_accepted_and_unknown_schema_types_are_refused() -> None:
    info = inspect_procedure(
        source('m = Model { type = "mock", value = 1, training = {epochs = 3} }\nreturn {}')
    )
    assert info.warnings == []
    with pytest.raises(DeclarationError) as caught:
        inspect_procedure(source('m = Model { type = "mock", input = {x = "strng"} }\nreturn {}'))
    assert "unknown type 'strng'" in caught.value.message


MOCKED = """
m = Model { type = "mock", value = "real", input = {text = "string"} }
Mocks { m = %s }
local out = {}
for _, t in ipairs({"a refund please", "Hello there", "see you", "other"}) do
  local ok, r = pcall(function() return m({text = t}).output end)
  out[#out + 1] = ok and r or ("error: " .. tostring(r))
end
return { out = out }
"""


@pytest.mark.parametrize(
    ("mock", "expected"),
    [
        ('{ returns = "fixed" }', ["fixed"] * 4),
        ('{ temporal = {"one", "two"} }', ["one", "two", "two", "two"]),
        (
            '{ conditional = { {when = {text = "contains:refund"}, returns = "billing"},'
            ' {when = {text = "startswith:Hello"}, returns = "greeting"},'
            ' {when = {text = "endswith:you"}, returns = "bye"},'
            ' {when = {text = "other"}, returns = "exact"} } }',
            ["billing", "greeting", "bye", "exact"],
        ),
    ],
)
async def test_mock_forms(mock: str, expected: list[str]) -> None:
    assert await output_of(MOCKED % mock) == {"out": expected}


async def test_error_mock_fails_the_prediction_and_the_backend_answers_without_mocks() -> None:
    output = await output_of(MOCKED % '{ error = "model down" }')
    assert all("model 'm': model down" in item for item in output["out"])
    assert await output_of(MOCKED % '{ returns = "x" }', mock=False) == {"out": ["real"] * 4}


async def test_each_prediction_is_an_event() -> None:
    text = """
    m = Model { type = "mock", value = {label = "x"} }
    Mocks { m = { temporal = { {label = "first"} } } }
    m({text = "a"}); m({text = "b"})
    return {}
    """
    _, events = await run(text)
    predictions = of_type(events, "model_prediction")
    assert [(e.stage, e.call) for e in predictions] == [
        ("started", 1), ("completed", 1), ("started", 2), ("completed", 2),
    ]  # fmt: skip
    assert predictions[1].output == {"label": "first"} and predictions[1].mocked
    assert predictions[2].input == {"text": "b"}


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"body": body, "auth": self.headers.get("Authorization")})
            status = 500 if body.get("text") == "boom" else 200
            payload = json.dumps({"label": body.get("text", "").upper()}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_http_model_posts_json(endpoint: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = endpoint
    text = f"""
    m = Model {{ type = "http", endpoint = "{url}", headers = {{Authorization = "Bearer t"}},
                 cost_per_call = 0.002, input = {{text = "string"}} }}
    local r = m({{text = "hi"}})
    local ok, err = pcall(function() return m({{text = "boom"}}) end)
    return {{ label = r.label, cost = r.cost, err = tostring(err) }}
    """
    result, _ = await run(text, mock=False)
    output = result.output
    assert output["label"] == "HI" and output["cost"] == 0.002
    assert result.totals.cost_usd == pytest.approx(0.002)  # the failed call costs nothing
    assert "answered HTTP 500" in output["err"]
    assert seen[0] == {"body": {"text": "hi"}, "auth": "Bearer t"}


async def test_registry_model_resolves_a_version_or_tag(tmp_path: Path) -> None:
    versions = tmp_path / "models" / "scorer" / "versions"
    versions.mkdir(parents=True)
    (versions / "v2.json").write_text(
        json.dumps({"backend_type": "mock", "backend_config": {"value": {"score": 2}}})
    )
    tags = tmp_path / "models" / "scorer" / "tags"
    tags.mkdir()
    (tags / "champion.json").write_text(json.dumps({"version": "v2"}))
    text = """
    m = Model { type = "registry", name = "scorer", version = "champion" }
    latest = Model { type = "registry", name = "scorer", version = "latest" }
    local r = m({})
    local missing = Model { type = "registry", name = "nothing" }
    local ok, err = pcall(function() return missing({}) end)
    return { score = r.score, version = r.model_version, latest = latest({}).score, err = tostring(err) }
    """
    output = await output_of(source(text, root=tmp_path), mock=False)
    assert output["score"] == 2 and output["version"] == "v2" and output["latest"] == 2
    assert "cannot resolve model 'nothing' from the registry" in output["err"]


async def test_calling_an_undeclared_model_says_so() -> None:
    with pytest.raises(DeclarationError) as caught:
        inspect_procedure(source('Model("nope")({text = "x"})\nreturn {}'))
    assert caught.value.hint is not None and "named 'nope'" in caught.value.hint


async def test_registry_names_cannot_leave_the_registry(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    secret = tmp_path.parent / "outside" / "versions"
    secret.mkdir(parents=True, exist_ok=True)
    (secret / "v1.json").write_text(json.dumps({"backend_type": "mock", "backend_config": {}}))
    text = """
    local ok, err = pcall(function() return Model { type = "registry", name = "../../outside" }({}) end)
    return { err = tostring(err) }
    """
    output = await output_of(source(text, root=tmp_path), mock=False)
    assert "invalid model name '../../outside'" in output["err"]
