"""Which environment variable a model needs, said so that a user can act on it."""

from __future__ import annotations

import pytest

from runtime.models.credentials import is_local_api_base, missing_credentials


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "GOOGLE_API_KEY",
        "GEMINI_API_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)


def test_names_the_variable_to_set_and_the_alternatives() -> None:
    message = missing_credentials("openai/gpt-4o-mini", None)
    assert message is not None
    assert "set the environment variable OPENAI_API_KEY" in message
    assert "--model local/smollm2" in message and "--model scripted/default" in message
    assert "\n" not in message


def test_fine_once_the_variable_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert missing_credentials("openai/gpt-4o-mini", None) is None
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    assert missing_credentials("anthropic/claude-3-5-haiku-latest", None) is None


def test_other_providers_name_their_own_variables() -> None:
    message = missing_credentials("anthropic/claude-3-5-haiku-latest", None)
    assert message is not None and "ANTHROPIC_API_KEY" in message
    either = missing_credentials("gemini/gemini-1.5-flash", None)
    assert either is not None
    assert "one of the environment variables GOOGLE_API_KEY or GEMINI_API_KEY" in either
    both = missing_credentials("bedrock/anthropic.claude-3-haiku-20240307-v1:0", None)
    assert both is not None
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in both


@pytest.mark.parametrize(
    "api_base", ["http://127.0.0.1:8765/v1", "http://localhost:11434", "http://[::1]:9000/v1"]
)
def test_models_on_this_machine_need_no_credentials(api_base: str) -> None:
    assert missing_credentials("openai/story", api_base) is None


def test_local_addresses() -> None:
    assert is_local_api_base("http://127.0.0.1:1/v1")
    assert is_local_api_base("127.0.0.2:80")
    assert not is_local_api_base("https://api.openai.com/v1")
    assert not is_local_api_base("http://10.0.0.5/v1")
    assert not is_local_api_base(None)
    assert not is_local_api_base("")
