"""Declared fields (``field.string{...}`` and friends): schemas, input coercion, output checks.

Every declared set of fields becomes a pydantic model, which does the checking and coercion and
gives the JSON Schema that models and the IDE see.
"""

from __future__ import annotations

import json
import re
from difflib import get_close_matches
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)

from runtime.errors import DeclarationError, InputValidationError
from runtime.events import ValidationIssue

FieldType = Literal["string", "number", "integer", "boolean", "array", "object"]
FIELD_TYPES: tuple[str, ...] = ("string", "number", "integer", "boolean", "array", "object")
FIELD_OPTIONS = frozenset({"required", "default", "description", "enum", "items", "properties"})
_INTEGER_TEXT = re.compile(r"[+-]?\d+")


def _keep_integers(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A number field checks its value as a float but keeps a whole number whole: Lua shows
    ``3.0`` for a float, so ``"n=" .. input.n`` must see the integer the caller gave."""
    number = handler(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value)
    return number


_PY_TYPES: dict[str, Any] = {
    "string": str,
    # NaN and infinities are not numbers JSON (the store, the IDE, --json) can hold.
    "number": Annotated[float, Field(allow_inf_nan=False), WrapValidator(_keep_integers)],
    "integer": int,
    "boolean": bool,
    "array": list[Any],
    "object": dict[str, Any],
}
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    type: FieldType
    required: bool = False
    default: Any = None
    description: str | None = None
    enum: tuple[Any, ...] | None = None
    items: FieldSpec | None = None
    properties: tuple[tuple[str, FieldSpec], ...] | None = None

    def describe(self) -> dict[str, Any]:
        """The field as the IDE's inputs form and ``tide validate --json`` show it."""
        out: dict[str, Any] = {"type": self.type, "required": self.required}
        if self.default is not None:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        if self.enum is not None:
            out["enum"] = list(self.enum)
        return out


Fields = dict[str, FieldSpec]


def parse_field(name: str, raw: Any) -> FieldSpec:
    """Build a FieldSpec from the table ``field.<type>{...}`` produced, or a legacy
    ``{type = "string", ...}`` table."""
    if not isinstance(raw, dict):
        raise DeclarationError(
            f"field '{name}' must be declared with field.<type>{{...}}, got {type(raw).__name__}",
            hint="e.g. topic = field.string{required = true}",
        )
    data = {k: v for k, v in raw.items() if k != "__tide_kind"}
    kind = data.pop("type", None)
    if kind not in FIELD_TYPES:
        raise DeclarationError(
            f"field '{name}' has unknown type {kind!r}",
            hint="use one of: " + ", ".join(FIELD_TYPES),
        )
    # Tactus ignores options it does not use (placeholder, min, example…); so does Tide, but a
    # near miss of one it uses (requird) is a mistake worth stopping for.
    unknown = set(data) - FIELD_OPTIONS
    misspelled = sorted(k for k in unknown if get_close_matches(str(k), FIELD_OPTIONS, cutoff=0.8))
    if misspelled:
        raise DeclarationError(
            f"field '{name}' has unknown option(s): {', '.join(misspelled)}",
            hint="field options are: " + ", ".join(sorted(FIELD_OPTIONS)),
        )
    for key in unknown:
        data.pop(key)
    enum = data.get("enum")
    if enum is not None and not isinstance(enum, list):
        raise DeclarationError(f"field '{name}': enum must be a list of values")
    items = data.get("items")
    props = data.get("properties")
    try:
        return FieldSpec(
            type=kind,
            required=bool(data.get("required", False)),
            default=data.get("default"),
            description=data.get("description"),
            enum=tuple(enum) if enum is not None else None,
            items=parse_field(f"{name}[]", items) if items is not None else None,
            properties=tuple((k, parse_field(f"{name}.{k}", v)) for k, v in sorted(props.items()))
            if isinstance(props, dict)
            else None,
        )
    except ValidationError as exc:
        raise DeclarationError(f"field '{name}' is malformed: {exc.errors()[0]['msg']}") from None


# The one key of a procedure output declared as a single field (``output = field.string{}``):
# the procedure returns that value itself rather than a table of fields.
SCALAR_OUTPUT = "(output)"


def parse_output(raw: Any, what: str) -> Fields:
    """A procedure's output: a table of fields, or one field for a bare value."""
    if isinstance(raw, dict) and raw.get("__tide_kind") == "field":
        return {SCALAR_OUTPUT: parse_field("output", raw)}
    return parse_fields(raw, what)


def parse_fields(raw: Any, what: str) -> Fields:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DeclarationError(
            f"{what} must be a table of fields, e.g. {{ name = field.string{{}} }}"
        )
    return {str(name): parse_field(str(name), spec) for name, spec in raw.items()}


def _annotation(spec: FieldSpec) -> Any:
    if spec.enum is not None:
        return Literal[spec.enum]
    if spec.type == "array" and spec.items is not None:
        return list[_annotation(spec.items)]  # type: ignore[misc]
    if spec.type == "object" and spec.properties is not None:
        return _model_for(spec.properties, "Object")
    return _PY_TYPES[spec.type]


# Models built for field sets, keyed by the fields' JSON: defaults may be lists or tables, which
# cannot be hashed, and procedures are inspected and run again and again with the same fields.
_MODELS: dict[str, type[BaseModel]] = {}
_MODELS_MAX = 512


def _model_for(fields: tuple[tuple[str, FieldSpec], ...], name: str) -> type[BaseModel]:
    key = json.dumps([name, [(n, spec.model_dump(mode="json")) for n, spec in fields]], default=str)
    model = _MODELS.get(key)
    if model is None:
        if len(_MODELS) >= _MODELS_MAX:
            _MODELS.clear()
        model = _MODELS[key] = _build_model(fields, name)
    return model


def _build_model(fields: tuple[tuple[str, FieldSpec], ...], name: str) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for field_name, spec in fields:
        annotation = _annotation(spec)
        description = spec.description
        if spec.required:
            definitions[field_name] = (annotation, Field(..., description=description))
        else:
            definitions[field_name] = (
                annotation | None,
                Field(default=spec.default, description=description),
            )
    return create_model(name, __config__=ConfigDict(extra="allow"), **definitions)


def model_for(fields: Fields, name: str = "Output") -> type[BaseModel]:
    return _model_for(tuple(sorted(fields.items(), key=lambda item: item[0])), name)


def json_schema(fields: Fields, name: str = "Output") -> dict[str, Any]:
    schema = model_for(fields, name).model_json_schema()
    schema.pop("title", None)
    return schema


def issues_from(exc: ValidationError) -> list[ValidationIssue]:
    issues = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "(value)"
        issues.append(ValidationIssue(path=path, message=error["msg"]))
    return issues


def _from_string(spec: FieldSpec, text: str) -> Any:
    """Turn a command-line string into the declared type before pydantic checks it."""
    if spec.type == "boolean":
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        return text
    if spec.type in ("array", "object"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            if spec.type == "array":
                return [part.strip() for part in text.split(",") if part.strip()]
            return text
    return text


def coerce_inputs(
    fields: Fields, values: dict[str, Any], *, from_strings: bool = False
) -> dict[str, Any]:
    """Check ``values`` against the declared inputs; fill in defaults; coerce types.

    Raises ``InputValidationError`` naming every bad field. A procedure that declares no
    inputs takes whatever it is given (Tactus procedures read ``input.x`` undeclared)."""
    if not fields:
        try:
            json.dumps(values, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputValidationError(
                f"invalid input: inputs must be JSON data ({exc})",
                [ValidationIssue(path="(inputs)", message=str(exc))],
            ) from None
        return dict(values)
    unknown = sorted(set(values) - set(fields))
    issues = [
        ValidationIssue(
            path=name,
            message=f"is not a declared input (declared: {', '.join(sorted(fields))})",
        )
        for name in unknown
    ]
    prepared = {
        name: _from_string(fields[name], value)
        if from_strings and isinstance(value, str)
        else value
        for name, value in values.items()
        if name in fields
    }
    data: dict[str, Any] = {}
    try:
        data = model_for(fields, "Input").model_validate(prepared).model_dump()
    except ValidationError as exc:
        issues.extend(issues_from(exc))
    if issues:
        detail = "; ".join(f"{issue.path}: {issue.message}" for issue in issues)
        raise InputValidationError(f"invalid input: {detail}", issues)
    return data


def _text_of(value: dict[str, Any]) -> Any:
    """The text a result table stands for where a string is declared: an agent call's
    result is its answer, the ``done`` tool's result its reason. Anything else stays as is."""
    if {"response", "usage", "tool_calls"} <= value.keys():
        output = value.get("output")
        return output if isinstance(output, str) else value["response"]
    if value.get("tool") == "done" and isinstance(value.get("reason"), str):
        return value["reason"]
    return value


def _with_texts(fields: Fields, value: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _text_of(item)
        if isinstance(item, dict) and key in fields and fields[key].type == "string"
        else item
        for key, item in value.items()
    }


def check_output(fields: Fields, value: Any) -> tuple[Any, list[ValidationIssue]]:
    """Validate a procedure's or agent's output; return (checked value, issues)."""
    if set(fields) == {SCALAR_OUTPUT}:
        spec = fields[SCALAR_OUTPUT]
        if value is None and not spec.required:
            return None, []
        wrapped = {
            "value": _text_of(value) if isinstance(value, dict) and spec.type == "string" else value
        }
        try:
            return model_for({"value": spec}).model_validate(wrapped).model_dump()["value"], []
        except ValidationError as exc:
            return value, [
                ValidationIssue(path=SCALAR_OUTPUT, message=issue.message)
                for issue in issues_from(exc)
            ]
    if not isinstance(value, dict):
        kind = "nothing" if value is None else type(value).__name__
        return value, [
            ValidationIssue(path="(output)", message=f"expected a table of fields, got {kind}")
        ]
    try:
        checked = model_for(fields).model_validate(_with_texts(fields, value)).model_dump()
    except ValidationError as exc:
        return value, issues_from(exc)
    return checked, []


def placeholder_data(fields: Fields) -> dict[str, Any]:
    """A value that satisfies declared output fields, for agents with no mock."""
    samples = {
        "string": "mock",
        "number": 0.0,
        "integer": 0,
        "boolean": False,
        "array": [],
        "object": {},
    }
    return {
        name: spec.enum[0]
        if spec.enum
        else spec.default
        if spec.default is not None
        else samples[spec.type]
        for name, spec in fields.items()
    }


_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?```\s*$", re.S)


def parse_answer(text: str, fields: Fields) -> tuple[Any, list[ValidationIssue]]:
    """Parse an agent's structured answer (JSON, possibly in a code fence) and check it
    against its declared output."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced[1].strip()
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, [
            ValidationIssue(
                path="(answer)",
                message=f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            )
        ]
    if not isinstance(data, dict):
        return data, [ValidationIssue(path="(answer)", message="expected a JSON object")]
    try:
        return model_for(fields, "Answer").model_validate(data).model_dump(), []
    except ValidationError as exc:
        return data, issues_from(exc)
