"""What a procedure file declares: agents, tools, procedures, mocks, specifications, steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.alerts import Alerts
from runtime.errors import DeclarationError
from runtime.evaluation.config import EvaluationsConfig, EvaluationSettings
from runtime.fields import Fields, parse_fields
from runtime.predictors.classify import ClassifierDecl
from runtime.predictors.model import ModelDecl

# Tactus spellings of Tide settings.
AGENT_KEY_ALIASES = {"request_timeout": "timeout", "max_tool_followup_rounds": "max_tool_rounds"}
# Tactus keys that Tide accepts and does not act on; validation warns about them.
IGNORED_AGENT_KEYS = frozenset(
    {
        "toolsets", "model_settings", "prepare", "model_type", "reasoning_effort",
        "verbosity", "input", "message_history", "module", "retry", "response", "tool_choice",
        "steering_enabled", "context", "max_turns", "retry_delay", "input_schema",
        "output_schema", "log_handler", "compactor", "dependencies", "hitl",
    }
)  # fmt: skip


class PricePerMillion(BaseModel):
    """USD per million tokens, for models LiteLLM's price map does not know."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    input: float = 0.0
    output: float = 0.0


# Seconds an agent may take: not negative, NaN or infinite (a deadline cannot be computed).
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str | None = None
    model: str | None = None
    provider: str | None = None
    system_prompt: str = ""
    temperature: Annotated[float, Field(allow_inf_nan=False)] | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | str | None = None
    seed: int | None = None
    disable_streaming: bool | None = None
    stream_fallback: bool = True
    tools: list[Any] = Field(default_factory=list)
    output: Fields | None = None
    initial_message: str | None = None
    timeout: Seconds | None = None
    first_token_timeout: Seconds | None = None
    idle_timeout: Seconds | None = None
    output_retries: Count | None = None
    max_tool_rounds: Count | None = None
    retries: Count | None = None
    cache: bool = False
    api_base: str | None = None
    price: PricePerMillion | None = None
    description: str | None = None
    alerts: Alerts | None = None

    @property
    def model_name(self) -> str | None:
        """``provider/model`` as LiteLLM spells it."""
        if self.model is None:
            return None
        if self.provider and "/" not in self.model:
            return f"{self.provider}/{self.model}"
        return self.model

    def settings(self) -> dict[str, Any]:
        values = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "stop": self.stop,
            "seed": self.seed,
        }
        return {k: v for k, v in values.items() if v is not None}


# The keys an ``Agent {}`` takes: AgentConfig's fields.
AGENT_KEYS = frozenset(AgentConfig.model_fields)


def suggest(name: str, known: frozenset[str] | set[str]) -> str | None:
    from difflib import get_close_matches

    close = get_close_matches(name, sorted(known), n=1)
    return close[0] if close else None


def parse_agent_config(raw: Any) -> tuple[AgentConfig, list[str]]:
    """Build an AgentConfig; return it with warnings about keys Tide ignores."""
    if not isinstance(raw, dict):
        raise DeclarationError(
            "Agent expects a table of settings", hint='e.g. Agent { model = "openai/gpt-4o-mini" }'
        )
    data = {AGENT_KEY_ALIASES.get(k, k): v for k, v in raw.items() if k not in IGNORED_AGENT_KEYS}
    warnings = [f"agent key '{k}' is accepted but not used by Tide" for k in raw if k not in data]
    for key in list(data):
        if not isinstance(key, str) or key not in AGENT_KEYS:
            key = str(key)
            close = suggest(key, AGENT_KEYS)
            if close is None:
                # Tactus accepts any key; one that is no misspelling of a Tide key is let through.
                warnings.append(f"agent key '{key}' is not used by Tide")
                data.pop(key, None)
                continue
            raise DeclarationError(f"unknown agent key '{key}'", hint=f"did you mean '{close}'?")
    if isinstance(data.get("model"), dict):
        # Tactus's `model = {name = "...", temperature = ...}`: the name, and settings beside it.
        settings = dict(data["model"])
        data["model"] = settings.pop("name", None)
        for key, value in settings.items():
            if key in AGENT_KEYS and key not in data:
                data[key] = value
    if "output" in data:
        data["output"] = parse_fields(data["output"], "an agent's output")
    if isinstance(data.get("tools"), dict):
        data["tools"] = list(data["tools"].values())
    try:
        return AgentConfig.model_validate(data), warnings
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(p) for p in error["loc"])
        raise DeclarationError(f"agent setting '{path}': {error['msg']}") from None


@dataclass
class AgentDecl:
    id: int
    config: AgentConfig
    file: str | None
    line: int | None
    name: str | None = None
    # Tools declared inside the agent (``inline_tools``), by id; named ``<agent>_<tool>``.
    inline_tools: list[int] = field(default_factory=list)


@dataclass
class ToolDecl:
    id: int
    description: str
    input: Fields
    function: Any
    file: str | None
    line: int | None
    name: str | None = None
    builtin: bool = False


@dataclass
class ToolsetDecl:
    id: int
    name: str
    description: str = ""
    members: list[int] = field(default_factory=list)  # tool ids
    references: list[str] = field(default_factory=list)  # names resolved when an agent runs


@dataclass
class ProcedureDecl:
    id: int
    input: Fields
    output: Fields
    state: dict[str, Any]
    function: Any
    file: str | None
    line: int | None
    name: str | None = None


@dataclass
class SpecificationDecl:
    text: str
    file: str | None
    line: int | None


@dataclass
class StepDecl:
    text: str
    function: Any
    file: str | None
    line: int | None


@dataclass
class Declarations:
    agents: dict[int, AgentDecl] = field(default_factory=dict)
    tools: dict[int, ToolDecl] = field(default_factory=dict)
    procedures: dict[int, ProcedureDecl] = field(default_factory=dict)
    toolsets: dict[int, ToolsetDecl] = field(default_factory=dict)
    mocks: dict[str, Any] = field(default_factory=dict)
    specifications: list[SpecificationDecl] = field(default_factory=list)
    steps: list[StepDecl] = field(default_factory=list)
    models: dict[int, ModelDecl] = field(default_factory=dict)
    classifiers: dict[int, ClassifierDecl] = field(default_factory=dict)
    evaluation: EvaluationSettings | None = None
    evaluations: EvaluationsConfig | None = None
    script_input: Fields | None = None
    script_output: Fields | None = None
    warnings: list[tuple[str, str | None, int | None]] = field(default_factory=list)

    def agent_named(self, name: str) -> AgentDecl | None:
        return next((a for a in self.agents.values() if a.name == name), None)

    def tool_named(self, name: str) -> ToolDecl | None:
        return next((t for t in self.tools.values() if t.name == name), None)

    def toolset_named(self, name: str) -> ToolsetDecl | None:
        return next((t for t in self.toolsets.values() if t.name == name), None)

    def main_procedure(self) -> ProcedureDecl | None:
        """``main``, else the one procedure not bound to a name, else the only procedure."""
        procedures = list(self.procedures.values())
        named_main = [p for p in procedures if p.name == "main"]
        if named_main:
            return named_main[0]
        unnamed = [p for p in procedures if p.name is None]
        if unnamed:
            return unnamed[-1]
        return procedures[0] if len(procedures) == 1 else None
