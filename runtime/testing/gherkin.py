"""A procedure's ``Specification([[ ... ]])`` blocks as runnable scenarios.

Parsing and outline expansion are gherkin-official's (its pickles); this module adds where each
scenario and step sits in the *procedure file*, so that messages point into the ``.tac``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from runtime.errors import TideError

StepKind = Literal["given", "when", "then", "any"]
_KINDS: dict[str, StepKind] = {"Context": "given", "Action": "when", "Outcome": "then"}


class SpecificationError(TideError):
    """A specification that is not valid Gherkin."""

    kind = "specification"


@dataclass(frozen=True)
class SpecStep:
    keyword: str
    kind: StepKind
    text: str
    line: int
    doc_string: str | None = None
    table: tuple[tuple[str, ...], ...] | None = None

    def display(self) -> str:
        return f"{self.keyword} {self.text}"


@dataclass(frozen=True)
class Scenario:
    file: str
    feature: str
    name: str
    line: int
    steps: tuple[SpecStep, ...]
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def title(self) -> str:
        return f"{self.feature} / {self.name}" if self.feature else self.name


def first_line(source_text: str, spec_text: str, spec_line: int | None) -> int:
    """The file line where the specification's text begins.

    ``Specification([[`` followed by a newline starts the text on the next line (Lua drops that
    newline), so the declaration's line is not enough: the text is looked for in the source."""
    line = spec_line or 1
    source = source_text.replace("\r\n", "\n")
    lines_before = source.split("\n")[: max(line - 1, 0)]
    start = sum(len(part) + 1 for part in lines_before)
    found = source.find(spec_text, start)
    if found < 0 and spec_text:
        found = source.find(spec_text)
    if found < 0:
        return line
    return source.count("\n", 0, found) + 1


def parse_specification(text: str, *, file: str, first: int) -> list[Scenario]:
    """Scenarios of one specification (outlines expanded, backgrounds prepended).

    ``first`` is the file line of the text's first line. Raises ``SpecificationError``."""
    from gherkin.errors import CompositeParserException, ParserException
    from gherkin.parser import Parser
    from gherkin.pickles.compiler import Compiler

    try:
        document: Any = Parser().parse(text)
    except CompositeParserException as exc:
        raise _error(exc.errors[0], file, first, more=len(exc.errors) - 1) from None
    except ParserException as exc:
        raise _error(exc, file, first) from None
    feature = document.get("feature")
    if not feature:
        return []
    document["uri"] = file
    lines, keywords, rows = _node_positions(feature)
    pickles: list[Any] = Compiler().compile(document)
    names = [str(p["name"]).strip() for p in pickles]
    scenarios = []
    for pickle, name in zip(pickles, names, strict=True):
        # Outline examples that do not differ by name are told apart by their values.
        row = rows.get(pickle["astNodeIds"][-1]) if len(pickle["astNodeIds"]) > 1 else None
        if row and names.count(name) > 1:
            name = f"{name} [{row}]"
        steps = []
        previous: StepKind = "given"
        for step in pickle["steps"]:
            kind = _KINDS.get(step.get("type", ""), previous)
            previous = kind
            node = step["astNodeIds"][0]
            argument = step.get("argument") or {}
            doc = argument.get("docString")
            table = argument.get("dataTable")
            steps.append(
                SpecStep(
                    keyword=keywords.get(node, "*"),
                    kind=kind,
                    text=step["text"],
                    line=first + lines.get(node, 1) - 1,
                    doc_string=doc["content"] if doc else None,
                    table=tuple(tuple(c["value"] for c in row["cells"]) for row in table["rows"])
                    if table
                    else None,
                )
            )
        location = pickle.get("location") or {}
        scenario_line = location.get("line") or lines.get(pickle["astNodeIds"][0], 1)
        scenarios.append(
            Scenario(
                file=file,
                feature=str(feature.get("name") or "").strip(),
                name=name,
                line=first + scenario_line - 1,
                steps=tuple(steps),
                tags=frozenset(t["name"] for t in pickle.get("tags", [])),
            )
        )
    return scenarios


def _node_positions(
    feature: dict[str, Any],
) -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    """By id: the line (within the text) of every node, the keyword of every step, and
    ``name=value, ...`` for every example row."""
    lines: dict[str, int] = {}
    keywords: dict[str, str] = {}
    rows: dict[str, str] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            header = node.get("tableHeader")
            if isinstance(header, dict):
                names = [c["value"] for c in header.get("cells", [])]
                for body in node.get("tableBody") or []:
                    values = [c["value"] for c in body.get("cells", [])]
                    rows[body["id"]] = ", ".join(
                        f"{n}={v}" for n, v in zip(names, values, strict=False)
                    )
            ident = node.get("id")
            location = node.get("location")
            if isinstance(ident, str) and isinstance(location, dict):
                lines[ident] = int(location.get("line") or 1)
                if "keywordType" in node:
                    keywords[ident] = str(node.get("keyword", "")).strip()
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(feature)
    return lines, keywords, rows


def _error(exc: Any, file: str, first: int, more: int = 0) -> SpecificationError:
    location = getattr(exc, "location", None) or {}
    line = first + int(location.get("line") or 1) - 1
    message = str(exc)
    # gherkin prefixes "(line:column): "; the file line replaces it.
    if message.startswith("(") and "): " in message:
        message = message.split("): ", 1)[1]
    if more:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return SpecificationError(f"invalid specification: {message}", file=file, line=line)
