"""What a process's first model call would otherwise do between sending its request and
reading the first chunk, done when LiteLLM is imported instead.

LiteLLM imports some modules only on its first call (the OpenAI client's resources, the
tokenizer it prices with, provider configurations it consults, its service log), as does
DSPy (its call execution), and LiteLLM
defines its types with deferred validation, so that the first call also builds the ones a
streamed answer uses. Together that
is 30 to 300 ms inside the first call's time to first token, which then measures Python
rather than the model.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings

from pydantic import BaseModel

FIRST_CALL_MODULES = (
    "openai.resources.chat",
    "litellm.litellm_core_utils.default_encoding",
    "litellm.proxy.openai_files_endpoints.common_utils",
    "litellm.llms.litellm_proxy.chat.transformation",
    "litellm.llms.openai_like.dynamic_config",
    "litellm.llms.vertex_ai.vertex_ai_partner_models.anthropic.transformation",
    "litellm.llms.openai.chat.gpt_audio_transformation",
    "litellm._service_logger",
    "litellm.integrations.prometheus_services",
    "litellm.types.litellm_core_utils.streaming_chunk_builder_utils",
    "dspy.clients.execution",
    "dspy.clients.call_result",
)
# The deferred types a streamed call builds (responses, chunks, usage, call parameters and
# LiteLLM's service log), by module. Only these: building all of LiteLLM's would cost more.
STREAM_TYPES = {
    "litellm.types.utils": (
        "Message",
        "Choices",
        "ModelResponse",
        "Usage",
        "StreamingChoices",
        "Delta",
        "ModelResponseStream",
        "CompletionTokensDetailsWrapper",
        "PromptTokensDetailsWrapper",
    ),
    "litellm.types.router": ("GenericLiteLLMParams", "LiteLLM_Params"),
    "litellm.types.services": ("ServiceLoggerPayload",),
    "openai.types.chat.chat_completion_chunk": ("ChoiceDelta", "Choice", "ChatCompletionChunk"),
    "openai.types.completion_usage": ("CompletionUsage",),
}


def prepare_first_call() -> None:
    for name in FIRST_CALL_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    for name, type_names in STREAM_TYPES.items():
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for type_name in type_names:
            model = getattr(module, type_name, None)
            if isinstance(model, type) and issubclass(model, BaseModel):
                _build(model)


def _build(model: type[BaseModel]) -> None:
    # Pydantic warns about some of LiteLLM's own typing choices; nothing a Tide user can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # A type that cannot be built yet is left for LiteLLM to build when it needs it.
        with contextlib.suppress(Exception):
            model.model_rebuild()
