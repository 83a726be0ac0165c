"""The providers whose models are served on this machine, and how a model name is split.

Every other ``provider/model`` name goes to LiteLLM as it is. A provider listed here is
served by a server the runtime starts on first use; its models need no credentials, cost
nothing, and are reached as ``openai/<model>`` at the server's address. Adding such a
provider is one entry in ``LOCAL_PROVIDERS``: the router starts its server, the credential
check passes it, ``tide run --help`` and the IDE's model picker offer its example model.

Nothing here imports DSPy, LiteLLM or a server until a server is started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Served:
    """A running server: the address LiteLLM calls, and the server object itself."""

    api_base: str
    server: Any


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """What starting a server may depend on (from ``RuntimeConfig``)."""

    scripted_script: str | None = None


@dataclass(frozen=True, slots=True)
class LocalProvider:
    """A provider served on this machine.

    ``serve`` starts its server and yields it for as long as the runtime lives; one server
    answers every model name of the provider. ``json_object_schema``: the server constrains
    structured output through ``{"type": "json_object", "schema": ...}`` rather than
    ``json_schema`` (llama-cpp-python's server answers 500 to the latter).
    """

    name: str
    example: str
    description: str
    serve: Callable[[ServerOptions], AbstractAsyncContextManager[Served]]
    json_object_schema: bool = False


@asynccontextmanager
async def _serve_scripted(options: ServerOptions) -> AsyncIterator[Served]:
    from runtime.model_server import ScriptedModelServer

    script = load_script(options.scripted_script) if options.scripted_script else None
    async with ScriptedModelServer(script) as server:
        yield Served(server.base_url, server)


def load_script(path: str) -> Any:
    """The scripted server's ``Script`` from a JSON file (``TIDE_SCRIPTED_SCRIPT``); a
    ``ConfigurationError`` saying what is wrong with it, before any run starts."""
    from pydantic import ValidationError

    from runtime.model_server import Script

    hint = 'a JSON object such as {"replies": ["Hello!", {"text": "Bye.", "repeat": true}]}'
    try:
        return Script.model_validate_json(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise ConfigurationError(
            f"TIDE_SCRIPTED_SCRIPT={path}: {exc.strerror or exc}", hint=hint
        ) from None
    except (ValidationError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[:3]
        raise ConfigurationError(
            f"TIDE_SCRIPTED_SCRIPT={path} is not a script: {' '.join(first)}", hint=hint
        ) from None


@asynccontextmanager
async def _serve_local(options: ServerOptions) -> AsyncIterator[Served]:
    from runtime.models.local_server import LocalModelServer

    async with LocalModelServer() as server:
        yield Served(server.api_base, server)


LOCAL_PROVIDERS: dict[str, LocalProvider] = {
    provider.name: provider
    for provider in (
        LocalProvider(
            "local",
            "local/smollm2",
            "a small model run on this machine",
            _serve_local,
            json_object_schema=True,
        ),
        LocalProvider(
            "scripted",
            "scripted/default",
            "scripted replies over the OpenAI streaming protocol",
            _serve_scripted,
        ),
    )
}


def example_models() -> list[str]:
    """One model of each provider served here, for pickers, help texts and hints."""
    return [provider.example for provider in LOCAL_PROVIDERS.values()]


def split_model(model: str) -> tuple[str, str]:
    provider, sep, name = model.partition("/")
    if not sep or not provider or not name:
        examples = ", ".join(f'"{m}"' for m in example_models())
        raise ConfigurationError(
            f"model '{model}' is not of the form provider/model",
            hint=f'e.g. "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest", {examples}',
        )
    return provider, name


def served_here(provider: str) -> LocalProvider | None:
    """The entry for ``provider`` when this machine serves it."""
    return LOCAL_PROVIDERS.get(provider)
