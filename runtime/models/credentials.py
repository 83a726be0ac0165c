"""Whether a model's credentials are in place, said in terms a user can act on."""

from __future__ import annotations

import difflib
import ipaddress
from urllib.parse import urlsplit

from runtime.errors import ConfigurationError
from runtime.models._dspy import import_litellm
from runtime.models.providers import LOCAL_PROVIDERS


def _alternatives() -> str:
    """The models of this machine's own providers, which need no account."""
    return " or ".join(
        f"--model {provider.example} ({provider.description})"
        for provider in LOCAL_PROVIDERS.values()
    )


def is_local_api_base(api_base: str | None) -> bool:
    """Whether ``api_base`` points at this machine (a local or scripted model server)."""
    if not api_base:
        return False
    host = urlsplit(api_base if "//" in api_base else f"//{api_base}").hostname
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unknown_provider(provider: str) -> None:
    """Raise ``ConfigurationError`` naming the closest known providers when LiteLLM does not
    know ``provider``, so that a typo stops the run before it starts."""
    from runtime.models.providers import LOCAL_PROVIDERS

    litellm = import_litellm()
    known = {str(getattr(p, "value", p)) for p in getattr(litellm, "provider_list", ())}
    if not known or provider in known or provider in LOCAL_PROVIDERS:
        return
    close = difflib.get_close_matches(provider, sorted(known | set(LOCAL_PROVIDERS)), n=3)
    suggestion = f"did you mean {' or '.join(close)}? " if close else ""
    raise ConfigurationError(
        f"unknown model provider '{provider}'",
        hint=f"{suggestion}a model is provider/model, e.g. openai/gpt-4o-mini; "
        f"or use {_alternatives()} to run without an account",
    )


def _describe(missing: list[str]) -> str:
    if len(missing) == 1:
        return f"set the environment variable {missing[0]}"
    # LiteLLM lists either-or keys for one provider (GOOGLE_API_KEY, GEMINI_API_KEY) the same
    # way as keys that are all needed (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Several
    # *_API_KEY names can only be alternatives: no provider takes two API keys.
    if all(name.endswith("_API_KEY") for name in missing):
        return "set one of the environment variables " + " or ".join(missing)
    return "set the environment variables " + ", ".join(missing[:-1]) + " and " + missing[-1]


def missing_credentials(litellm_model: str, api_base: str | None) -> str | None:
    """A one-paragraph message naming what to set for ``litellm_model``, or None when fine.

    Models served on this machine need no credentials. A provider LiteLLM cannot name
    requirements for is assumed fine: the call itself will then say what is wrong.
    """
    if is_local_api_base(api_base):
        return None
    litellm = import_litellm()
    try:
        report = litellm.validate_environment(model=litellm_model, api_base=api_base)
    except Exception:
        return None
    missing = [str(name) for name in report.get("missing_keys") or []]
    if report.get("keys_in_environment") or not missing:
        return None
    return (
        f"The model {litellm_model} needs credentials that are not set: {_describe(missing)} "
        f"(for example `export {missing[0]}=...`) and run again, or use {_alternatives()} "
        "to run without an account."
    )
