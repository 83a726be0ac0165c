"""Declared fields: parsing ``field.x{...}`` tables, checking inputs and outputs, JSON Schema."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.errors import DeclarationError, InputValidationError
from runtime.fields import (
    SCALAR_OUTPUT,
    FieldSpec,
    check_output,
    coerce_inputs,
    json_schema,
    parse_field,
    parse_fields,
    parse_output,
)
from tests.helpers import run


def spec(kind: str, **options: Any) -> dict[str, Any]:
    """The table ``field.<kind>{...}`` builds in Lua."""
    return {"__tide_kind": "field", "type": kind, **options}


FIELDS = parse_fields(
    {
        "topic": spec("string", required=True, description="What about"),
        "n": spec("integer", default=3),
        "ratio": spec("number"),
        "loud": spec("boolean", default=False),
        "tags": spec("array"),
        "meta": spec("object"),
        "tone": spec("string", enum=["calm", "wild"], default="calm"),
    },
    "input",
)


def test_parse_field_reads_every_option() -> None:
    field = parse_field("tone", spec("string", required=True, enum=["a", "b"], description="d"))
    assert field == FieldSpec(type="string", required=True, enum=("a", "b"), description="d")
    assert field.describe() == {
        "type": "string",
        "required": True,
        "description": "d",
        "enum": ["a", "b"],
    }


def test_parse_field_nested_items_and_properties() -> None:
    field = parse_field(
        "people",
        spec("array", items=spec("object", properties={"name": spec("string", required=True)})),
    )
    assert field.items is not None and field.items.properties is not None
    schema = json_schema({"people": field})
    assert schema["properties"]["people"]["anyOf"][0]["type"] == "array"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("string", "must be declared with field.<type>"),
        (spec("strin"), "unknown type 'strin'"),
        (spec("string", requird=True), "unknown option(s): requird"),
        (spec("string", enum="a"), "enum must be a list"),
    ],
)
def test_parse_field_errors_say_what_is_wrong(raw: Any, message: str) -> None:
    with pytest.raises(DeclarationError) as caught:
        parse_field("x", raw)
    assert message in caught.value.message
    assert "'x'" in caught.value.message


def test_parse_fields_requires_a_table() -> None:
    assert parse_fields(None, "input") == {}
    with pytest.raises(DeclarationError, match="must be a table of fields"):
        parse_fields("topic", "input")


def test_coerce_inputs_fills_defaults_and_keeps_values() -> None:
    values = coerce_inputs(FIELDS, {"topic": "robots", "tags": ["a"]})
    assert values == {
        "topic": "robots",
        "n": 3,
        "ratio": None,
        "loud": False,
        "tags": ["a"],
        "meta": None,
        "tone": "calm",
    }


def test_coerce_inputs_from_strings_converts_to_declared_types() -> None:
    values = coerce_inputs(
        FIELDS,
        {
            "topic": "x",
            "n": "42",
            "ratio": "0.5",
            "loud": "yes",
            "tags": '["a", "b"]',
            "meta": '{"k": 1}',
            "tone": "wild",
        },
        from_strings=True,
    )
    assert values["n"] == 42
    assert values["ratio"] == 0.5
    assert values["loud"] is True
    assert values["tags"] == ["a", "b"]
    assert values["meta"] == {"k": 1}
    assert values["tone"] == "wild"


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("off", False), ("0", False)])
def test_boolean_strings(text: str, expected: bool) -> None:
    assert (
        coerce_inputs(FIELDS, {"topic": "t", "loud": text}, from_strings=True)["loud"] is expected
    )


def test_comma_separated_array_from_a_string() -> None:
    values = coerce_inputs(FIELDS, {"topic": "t", "tags": "a, b,c"}, from_strings=True)
    assert values["tags"] == ["a", "b", "c"]


def test_coerce_inputs_names_every_bad_field() -> None:
    with pytest.raises(InputValidationError) as caught:
        coerce_inputs(FIELDS, {"n": "many", "colour": "red", "tone": "sad"}, from_strings=True)
    paths = {issue.path for issue in caught.value.issues}
    assert paths == {"topic", "n", "colour", "tone"}
    message = caught.value.message
    assert "colour: is not a declared input" in message
    assert "topic: Field required" in message


def test_a_procedure_declaring_no_inputs_takes_what_it_is_given() -> None:
    assert coerce_inputs({}, {"app_name": "Shop", "n": "3"}, from_strings=True) == {
        "app_name": "Shop",
        "n": "3",
    }


def test_check_output_accepts_and_fills_in() -> None:
    fields = parse_fields({"title": spec("string", required=True), "n": spec("integer")}, "out")
    checked, issues = check_output(fields, {"title": "T", "extra": 1})
    assert issues == []
    assert checked == {"title": "T", "n": None, "extra": 1}


def test_check_output_reports_paths() -> None:
    fields = parse_fields(
        {
            "title": spec("string", required=True),
            "tags": spec("array", items=spec("integer")),
        },
        "out",
    )
    value = {"tags": [1, "two"]}
    checked, issues = check_output(fields, value)
    assert checked is value
    assert {i.path for i in issues} == {"title", "tags.1"}


@pytest.mark.parametrize(("value", "kind"), [(None, "nothing"), ("text", "str"), ([1], "list")])
def test_check_output_needs_a_table(value: Any, kind: str) -> None:
    _, issues = check_output({"a": FieldSpec(type="string")}, value)
    assert [i.path for i in issues] == ["(output)"]
    assert kind in issues[0].message


def test_json_schema_for_models_and_the_ide() -> None:
    schema = json_schema(FIELDS, "Input")
    assert "title" not in schema
    assert schema["required"] == ["topic"]
    assert schema["properties"]["topic"]["type"] == "string"
    assert schema["properties"]["topic"]["description"] == "What about"
    assert schema["properties"]["n"]["default"] == 3
    assert schema["properties"]["tone"]["anyOf"][0]["enum"] == ["calm", "wild"]


def test_number_fields_keep_whole_numbers_whole() -> None:
    values = coerce_inputs(FIELDS, {"topic": "t", "ratio": 4})
    assert values["ratio"] == 4 and isinstance(values["ratio"], int)
    from_text = coerce_inputs(FIELDS, {"topic": "t", "ratio": "7"}, from_strings=True)
    assert from_text["ratio"] == 7 and isinstance(from_text["ratio"], int)
    fraction = coerce_inputs(FIELDS, {"topic": "t", "ratio": "2.5"}, from_strings=True)
    assert fraction["ratio"] == 2.5
    assert coerce_inputs(FIELDS, {"topic": "t", "ratio": True})["ratio"] == 1.0
    with pytest.raises(InputValidationError, match="ratio"):
        coerce_inputs(FIELDS, {"topic": "t", "ratio": float("nan")})


def test_a_result_table_where_text_is_declared_gives_its_text() -> None:
    fields = parse_fields(
        {"reply": spec("string"), "reason": spec("string"), "raw": spec("object")}, "out"
    )
    reply = {"output": "Hi", "response": "Hi", "usage": {}, "tool_calls": [], "cost": 0.0}
    finished = {"status": "completed", "reason": "All set", "tool": "done"}
    checked, issues = check_output(fields, {"reply": reply, "reason": finished, "raw": finished})
    assert issues == []
    assert checked["reply"] == "Hi" and checked["reason"] == "All set"
    assert checked["raw"] == finished
    structured = {**reply, "output": {"city": "Paris"}, "response": '{"city": "Paris"}'}
    checked, _ = check_output(fields, {"reply": structured})
    assert checked["reply"] == '{"city": "Paris"}'
    _, issues = check_output(fields, {"reply": {"some": "table"}})
    assert [i.path for i in issues] == ["reply"]


def test_a_single_field_output_checks_a_bare_value() -> None:
    fields = parse_output(spec("number", required=True), "output")
    assert list(fields) == [SCALAR_OUTPUT]
    assert check_output(fields, 3) == (3, [])
    _, issues = check_output(fields, "three")
    assert [i.path for i in issues] == [SCALAR_OUTPUT]
    _, issues = check_output(fields, None)
    assert [i.path for i in issues] == [SCALAR_OUTPUT]
    optional = parse_output(spec("string"), "output")
    assert check_output(optional, None) == (None, [])
    reply = {"output": "Hi", "response": "Hi", "usage": {}, "tool_calls": []}
    assert check_output(optional, reply) == ("Hi", [])
    assert parse_output({"n": spec("integer")}, "output") == parse_fields(
        {"n": spec("integer")}, "o"
    )


@pytest.mark.anyio
async def test_a_procedure_declaring_one_output_field_returns_the_value() -> None:
    ok, _ = await run(
        'Procedure { output = field.string{ required = true }, function() return "hi" end }'
    )
    assert ok.status == "completed" and ok.output == "hi"
    bad, _ = await run('Procedure { output = field.integer{}, function() return "x" end }')
    assert bad.status == "failed" and bad.error is not None
    assert "(output): Input should be a valid integer" in bad.error.message


def test_options_tactus_ignores_are_ignored_but_near_misses_are_not() -> None:
    field = parse_field("name", spec("string", placeholder="Ann", min=1, example="x"))
    assert field == FieldSpec(type="string")
    with pytest.raises(DeclarationError, match=r"unknown option.*descripton"):
        parse_field("name", spec("string", descripton="d", label="Name"))


def test_undeclared_inputs_must_still_be_json_data() -> None:
    with pytest.raises(InputValidationError, match="JSON data"):
        coerce_inputs({}, {"n": float("nan")})
    with pytest.raises(InputValidationError, match="JSON data"):
        coerce_inputs({}, {"f": object()})
