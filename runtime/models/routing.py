"""From a model name to a client: ``provider/model`` goes to LiteLLM as it is;
``scripted/<name>`` and ``local/<name>`` go to servers the runtime starts on this machine."""

from __future__ import annotations

from runtime.declarations import AgentConfig
from runtime.errors import ConfigurationError
from runtime.models.base import ModelClient

LOCAL_PROVIDERS = ("scripted", "local")


def split_model(model: str) -> tuple[str, str]:
    provider, sep, name = model.partition("/")
    if not sep or not provider or not name:
        raise ConfigurationError(
            f"model '{model}' is not of the form provider/model",
            hint='e.g. "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest", "local/smollm2", "scripted/default"',
        )
    return provider, name


def check_credentials(model: str, api_base: str | None) -> None:
    provider, _ = split_model(model)
    if provider in LOCAL_PROVIDERS:
        return
    from runtime.models.credentials import missing_credentials

    problem = missing_credentials(model, api_base)
    if problem:
        raise ConfigurationError(problem)


def make_client(model: str, config: AgentConfig, *, api_base: str | None) -> ModelClient:
    from runtime.models.llm import LLMClient
    from runtime.models.pricing import Price

    provider, name = split_model(model)
    if provider in LOCAL_PROVIDERS:
        return LLMClient(
            model,
            litellm_model=f"openai/{name}",
            provider=provider,
            api_base=api_base,
            api_key="tide-local",
            price=Price(0.0, 0.0),
        )
    price = None
    if config.price is not None:
        price = Price(config.price.input / 1_000_000, config.price.output / 1_000_000)
    return LLMClient(model, litellm_model=model, provider=provider, api_base=api_base, price=price)
