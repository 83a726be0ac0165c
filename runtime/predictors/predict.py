"""Making one prediction: mocks first (under ``--mock`` and in specifications), then the
model's backend. Each prediction is a ``model_prediction`` event (started, then completed or
failed), and its result is a table with ``output`` and what it cost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from runtime.errors import ConfigurationError, ProcedureRuntimeError, TideError
from runtime.predictors.model import ModelDecl, check_schema, parse_model
from runtime.tool_mocks import NO_MOCK, ToolMock

T = TypeVar("T")
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class LlmReply(Protocol):
    response: str
    usage: dict[str, int]
    cost: float


class PredictionServices(Protocol):
    """What a run gives predictions. Called on the Lua thread."""

    @property
    def mock(self) -> bool: ...

    def model_mock(self, name: str) -> Any: ...

    def emit_prediction(self, **fields: Any) -> None: ...

    def wait(self, function: Callable[..., Awaitable[T]], *args: Any) -> T: ...

    def llm_turn(self, model: ModelDecl, config: dict[str, Any], message: str) -> LlmReply: ...

    def warn(self, message: str) -> None: ...

    def add_cost(self, usd: float) -> None:
        """A backend's own price (an http model's ``cost_per_call``) joins the run's cost."""
        ...

    def journaled(self, name: str, payload: Any, compute: Callable[[], T]) -> T:
        """``compute()``, or, when a resumed run replays, the result its first attempt had."""
        ...

    @property
    def project_root(self) -> Path | None: ...


class Predictor:
    """The predictions of one run."""

    def __init__(self, services: PredictionServices) -> None:
        self.services = services
        self.calls: dict[str, int] = {}

    def predict(self, model: ModelDecl, raw_input: Any) -> dict[str, Any]:
        name = model.name or f"model{model.id}"
        payload = _payload(model, raw_input)
        problems = check_schema(model.input, payload, "input")
        if problems:
            raise ProcedureRuntimeError(f"model '{name}': " + "; ".join(problems))
        number = self.calls.get(name, 0) + 1
        self.calls[name] = number
        return self.services.journaled(
            name, payload, lambda: self._predict(model, name, payload, number)
        )

    def _predict(self, model: ModelDecl, name: str, payload: Any, number: int) -> dict[str, Any]:
        emit = self.services.emit_prediction
        emit(model=name, call=number, stage="started", backend=model.type, input=payload)
        started = time.monotonic()
        usage: dict[str, int] = {}
        cost = 0.0
        mocked = False
        version: str | None = None
        try:
            mock = ToolMock.parse(self.services.model_mock(name)) if self.services.mock else None
            answer = NO_MOCK if mock is None else mock.result(_mapping(payload), number)
            if answer is not NO_MOCK:
                output, mocked = answer, True
            else:
                output, usage, cost, version = self._backend(model, name, model.config, payload)
        except TideError as exc:
            emit(
                model=name,
                call=number,
                stage="failed",
                backend=model.type,
                input=payload,
                error=exc.message,
                duration_ms=(time.monotonic() - started) * 1000,
            )
            exc.message = f"model '{name}': {exc.message}"
            raise
        duration_ms = (time.monotonic() - started) * 1000
        for problem in check_schema(model.output, output, "output"):
            self.services.warn(f"model '{name}': {problem}")
        emit(
            model=name,
            call=number,
            stage="completed",
            backend=model.type,
            input=payload,
            output=output,
            mocked=mocked,
            cost_usd=cost,
            duration_ms=duration_ms,
        )
        result: dict[str, Any] = {}
        if isinstance(output, dict):
            # Tactus lets `result.label` read `result.output.label`.
            result.update({str(k): v for k, v in output.items()})
        result.update(
            {
                "output": output,
                "cost": cost,
                "usage": usage,
                "duration_ms": duration_ms,
                "backend_type": model.type,
                "model_version": version,
                "mocked": mocked,
            }
        )
        return result

    def _backend(
        self, model: ModelDecl, name: str, config: dict[str, Any], payload: Any
    ) -> tuple[Any, dict[str, int], float, str | None]:
        kind = config.get("type")
        if kind == "mock":
            return config.get("value"), {}, 0.0, None
        if kind == "http":
            output, cost = self.services.wait(_post, name, config, payload)
            self.services.add_cost(cost)
            return output, {}, cost, None
        if kind == "llm":
            message = payload.get("text") if isinstance(payload, dict) else None
            if not isinstance(message, str):
                message = payload if isinstance(payload, str) else json.dumps(payload)
            reply = self.services.llm_turn(model, config, message)
            return {"response": reply.response}, dict(reply.usage), reply.cost, None
        if kind == "registry":
            resolved, version = resolve_registry(config, self.services.project_root)
            output, usage, cost, _ = self._backend(model, name, resolved, payload)
            return output, usage, cost, version
        raise ConfigurationError(
            f"model type {kind!r} is not run by Tide",
            hint=f"mock it (Mocks {{ {name} = {{ returns = ... }} }}) and run with --mock, "
            'or serve it and use type = "http"',
        )


def _payload(model: ModelDecl, raw: Any) -> Any:
    """A bare value for a model with one input field is that field's value."""
    if not isinstance(raw, dict) and len(model.input) == 1:
        return {next(iter(model.input)): raw}
    if raw == [] and model.input:
        return {}
    return raw


def _mapping(payload: Any) -> dict[str, Any]:
    return payload if isinstance(payload, dict) else {"input": payload}


async def _post(name: str, config: dict[str, Any], payload: Any) -> tuple[Any, float]:
    import httpx

    headers = config.get("headers") or {}
    if not isinstance(headers, dict):
        raise ConfigurationError("headers must be a table of name = value")
    timeout = float(config.get("timeout") or 30.0)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(
                str(config["endpoint"]),
                json=payload,
                headers={str(k): str(v) for k, v in headers.items()},
            )
    except httpx.TimeoutException:
        raise ProcedureRuntimeError(
            f"{config['endpoint']} did not answer within {timeout:g} s"
        ) from None
    except httpx.HTTPError as exc:
        raise ProcedureRuntimeError(f"cannot reach {config['endpoint']}: {exc}") from None
    if response.status_code >= 400:
        raise ProcedureRuntimeError(
            f"{config['endpoint']} answered HTTP {response.status_code}: {response.text[:200]}"
        )
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise ProcedureRuntimeError(f"{config['endpoint']} answered more than 8 MiB")
    try:
        output = response.json()
    except ValueError:
        raise ProcedureRuntimeError(f"{config['endpoint']} did not answer JSON") from None
    cost = config.get("cost_per_call")
    return output, float(cost) if isinstance(cost, (int, float)) else 0.0


def resolve_registry(config: dict[str, Any], root: Path | None) -> tuple[dict[str, Any], str]:
    """The backend settings a registered model version names.

    The registry is a folder (``registry_dir``, default ``models``) inside the procedure's
    folder: ``NAME/versions/VERSION.json`` holds ``{"backend_type": ..., "backend_config": {...}}``
    and ``NAME/tags/TAG.json`` holds ``{"version": ...}``. Without a version, the newest file in
    ``versions`` is used."""
    name = str(config["name"])
    wanted = config.get("version")
    fallback = config.get("fallback")
    try:
        registry = _registry_folder(config, root)
        folder = (registry / name).resolve()
        if not folder.is_relative_to(registry) or folder == registry:
            raise ConfigurationError(f"invalid model name {name!r}")
        version = _resolve_version(folder, None if wanted is None else str(wanted))
        record_file = (folder / "versions" / f"{version}.json").resolve()
        if not record_file.is_relative_to(registry):
            raise ConfigurationError(f"version {version!r} is outside the registry")
        record = json.loads(record_file.read_text("utf-8"))
        backend_type = record.get("backend_type")
        settings = record.get("backend_config") or {}
        if not isinstance(settings, dict):
            raise ConfigurationError(f"registry entry {name}:{version} has no backend_config table")
        resolved = {**settings, "type": backend_type}
        if backend_type in ("registry", None):
            raise ConfigurationError(f"registry entry {name}:{version} has no usable backend_type")
        parse_model(0, name, resolved, None, None)
        return resolved, version
    except (ConfigurationError, OSError, ValueError, TideError) as exc:
        if isinstance(fallback, dict):
            parse_model(0, name, fallback, None, None)
            return dict(fallback), "fallback"
        message = exc.message if isinstance(exc, TideError) else str(exc)
        raise ConfigurationError(
            f"cannot resolve model '{name}' from the registry: {message}",
            hint="register it under the registry folder, or give the model a fallback = {...}",
        ) from None


def _registry_folder(config: dict[str, Any], root: Path | None) -> Path:
    if root is None:
        raise ConfigurationError("this procedure has no folder to hold a model registry")
    base = root.resolve()
    folder = (base / str(config.get("registry_dir") or "models")).resolve()
    if not folder.is_relative_to(base):
        raise ConfigurationError("registry_dir must be inside the procedure's folder")
    if not folder.is_dir():
        raise ConfigurationError(f"no registry folder at {folder}")
    return folder


def _resolve_version(folder: Path, wanted: str | None) -> str:
    versions = folder / "versions"
    if not versions.is_dir():
        raise ConfigurationError(f"no versions registered at {versions}")
    if wanted == "latest" and not (folder / "tags" / "latest.json").is_file():
        wanted = None
    if wanted is not None:
        if "/" in wanted or "\\" in wanted or wanted.startswith("."):
            raise ConfigurationError(f"invalid version {wanted!r}")
        if (versions / f"{wanted}.json").is_file():
            return wanted
        tag = folder / "tags" / f"{wanted}.json"
        if tag.is_file():
            pointed = json.loads(tag.read_text("utf-8")).get("version")
            if isinstance(pointed, str) and (versions / f"{pointed}.json").is_file():
                return pointed
        raise ConfigurationError(f"version or tag {wanted!r} is not registered")
    files = sorted(versions.glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise ConfigurationError(f"no versions registered at {versions}")
    return files[-1].stem
