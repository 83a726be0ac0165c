"""A failed model call said in a sentence a user understands: what happened, at which
provider, and what to check. The provider's own text stays in the error's ``detail``."""

from __future__ import annotations

import re

from runtime.models.base import ModelError

# The layers' names LiteLLM and the OpenAI client put before the provider's own words.
_PREFIX = re.compile(r"^(?:\[[^\]]*\]\s*)?(?:(?:litellm\.)?\w+(?:Error|Exception)(?: - |: ))+")


def explain(error: ModelError, model: str) -> str:
    """The sentence for ``error`` from calling ``model``, then what the provider said."""
    said = provider_said(str(error))
    sentence = _sentence(error, model)
    return f"{sentence} ({said})" if said else sentence


def provider_said(raw: str) -> str:
    """The provider's own words in a raw error, without the layers' class names."""
    first = raw.strip().split("\n", 1)[0]
    words = _PREFIX.sub("", first).strip()
    return words if len(words) <= 300 else words[:299] + "…"


def _sentence(error: ModelError, model: str) -> str:
    provider = model.split("/", 1)[0]
    status = f" (HTTP {error.status})" if error.status else ""
    if error.kind == "auth":
        return (
            f"{provider} refused the request{status}: check the API key or token for {model} "
            "and that it may use this model"
        )
    if error.kind == "rate_limit":
        return f"{provider} is limiting requests{status}: wait, or send fewer at once"
    if error.kind == "timeout":
        return f"{provider} did not answer {model} in time: try again, or raise the timeout"
    if error.kind == "connection":
        return (
            f"the connection to {provider} failed or was cut: check the network, the "
            "api_base, and that the server is running"
        )
    if error.kind == "malformed":
        return f"{provider} sent a response that is not valid (a malformed chunk) for {model}"
    if error.kind == "config":
        return f"the call to {model} could not be prepared: check the agent's settings"
    if error.status is not None and error.status >= 500:
        return f"{provider} had a server error{status}: try again later"
    if error.status is not None:
        return f"{provider} rejected the request for {model}{status}: check the model name and settings"
    return f"the call to {model} failed"
