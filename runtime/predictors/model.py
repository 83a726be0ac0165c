"""``Model`` declarations: what a model is (its backend type and settings) and the shapes of
its input and output, written as type names (``{text = "string", score = "float"}``).

A model's input is checked before every prediction; its output is checked too, but only
logged when it does not match, since the backend may be a service the procedure does not own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.errors import DeclarationError

MODEL_TYPES = ("mock", "http", "llm", "registry")
# Tactus backends Tide does not run: such a model is declared (with a warning) and answers
# from its mocks; a prediction that reaches the backend is an error.
FOREIGN_TYPES = (
    "pytorch", "sklearn", "hf_sequence_classifier", "naive_bayes", "ensemble", "ab_test",
    "traffic_split", "bert", "onnx",
)  # fmt: skip
# Keys each backend understands, besides the common ones.
COMMON_KEYS = frozenset({"name", "type", "input", "output", "training", "description"})
TYPE_KEYS: dict[str, frozenset[str]] = {
    "mock": frozenset({"value"}),
    "http": frozenset({"endpoint", "timeout", "headers", "cost_per_call"}),
    "llm": frozenset(
        {
            "model", "provider", "system_prompt", "prompt", "temperature", "max_tokens",
            "reasoning_effort", "verbosity", "api_base",
        }
    ),
    "registry": frozenset(
        {"version", "registry_dir", "registry_type", "tracking_uri", "region", "fallback"}
    ),
}  # fmt: skip
# Type names a schema may use, with the Python types a value of each may have.
TYPE_NAMES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "str": (str,),
    "int": (int,),
    "integer": (int,),
    "float": (int, float),
    "number": (int, float),
    "bool": (bool,),
    "boolean": (bool,),
    "list": (list,),
    "array": (list,),
    "dict": (dict,),
    "object": (dict,),
    "table": (dict, list),
    "any": (object,),
}


@dataclass
class ModelDecl:
    id: int
    type: str
    config: dict[str, Any]
    input: dict[str, str]
    output: dict[str, str]
    file: str | None
    line: int | None
    name: str | None = None
    # Models that Classify makes for itself are not the procedure's own declarations.
    internal: bool = False
    warnings: list[str] = field(default_factory=list)


def parse_schema(raw: Any, what: str) -> dict[str, str]:
    """``{field = "type name"}``; a ``field.*{}`` spec counts as its type."""
    if raw is None or raw == {} or raw == []:
        return {}
    if not isinstance(raw, dict):
        raise DeclarationError(f'a model\'s {what} must be a table of field = "type"')
    schema: dict[str, str] = {}
    for name, spec in raw.items():
        if isinstance(spec, dict) and isinstance(spec.get("type"), str):
            spec = spec["type"]
        if not isinstance(spec, str) or spec.lower() not in TYPE_NAMES:
            known = ", ".join(sorted(TYPE_NAMES))
            raise DeclarationError(
                f"model {what} field '{name}': unknown type {spec!r}", hint=f"use one of: {known}"
            )
        schema[str(name)] = spec.lower()
    return schema


def parse_model(
    ident: int, name: str | None, raw: Any, file: str | None, line: int | None
) -> ModelDecl:
    if not isinstance(raw, dict):
        raise DeclarationError(
            "Model expects a table of settings", hint='e.g. Model "m" { type = "mock", value = 1 }'
        )
    kind = raw.get("type")
    if kind in FOREIGN_TYPES:
        return ModelDecl(
            ident,
            str(kind),
            dict(raw),
            parse_schema(raw.get("input"), "input"),
            parse_schema(raw.get("output"), "output"),
            file,
            line,
            name or (raw["name"] if isinstance(raw.get("name"), str) else None),
            warnings=[
                f"model type '{kind}' is not run by Tide: the model answers only from its mocks"
            ],
        )
    if kind not in MODEL_TYPES:
        hint = "type = " + " | ".join(f'"{t}"' for t in MODEL_TYPES)
        if kind is None and name is not None:
            # `Model("typo")({text = ...})` declares a model rather than finding one.
            hint += f"; to call a model declared earlier, check that it is named '{name}'"
        raise DeclarationError(
            f"unknown model type {kind!r}" if kind is not None else "a Model needs a type",
            hint=hint,
        )
    if kind == "http" and not isinstance(raw.get("endpoint"), str):
        raise DeclarationError('an http model needs endpoint = "http://..."')
    if kind == "llm" and not isinstance(raw.get("model"), str):
        raise DeclarationError('an llm model needs model = "provider/model"')
    if kind == "registry" and not isinstance(raw.get("name"), str):
        raise DeclarationError('a registry model needs the registered name = "..."')
    unknown = sorted(str(k) for k in raw if k not in COMMON_KEYS | TYPE_KEYS[kind])
    warnings = [f"model key '{k}' is not used by {kind} models" for k in unknown]
    declared_name = name
    if kind != "registry" and isinstance(raw.get("name"), str):
        declared_name = declared_name or raw["name"]
    return ModelDecl(
        ident,
        kind,
        dict(raw),
        parse_schema(raw.get("input"), "input"),
        parse_schema(raw.get("output"), "output"),
        file,
        line,
        declared_name,
        warnings=warnings,
    )


def check_schema(schema: dict[str, str], value: Any, what: str) -> list[str]:
    """What does not match: every declared field present with a value of its type."""
    if not schema:
        return []
    if not isinstance(value, dict):
        if len(schema) == 1:
            return check_schema(schema, {next(iter(schema)): value}, what)
        return [f"the {what} must be a table with {', '.join(schema)}"]
    problems = []
    for name, type_name in schema.items():
        if name not in value or value[name] is None:
            problems.append(f"{what} '{name}' is missing")
            continue
        item = value[name]
        allowed = TYPE_NAMES[type_name]
        if isinstance(item, bool) and bool not in allowed and object not in allowed:
            problems.append(f"{what} '{name}' should be {type_name}, got a boolean")
        elif not isinstance(item, allowed):
            problems.append(f"{what} '{name}' should be {type_name}, got {type(item).__name__}")
    return problems
