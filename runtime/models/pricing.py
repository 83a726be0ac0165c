"""What a model call cost, in US dollars.

LiteLLM's bundled price map is the authority for the models it knows. A model it does not
know (a fine-tune, a private deployment) can be given a ``Price``; anything else, such as a
model on a local server, costs nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from runtime.models._dspy import import_litellm


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per input (prompt) token and per output (completion) token."""

    input_per_token: float
    output_per_token: float

    @classmethod
    def per_million(cls, input_usd: float, output_usd: float) -> Price:
        """The price as procedures declare it: USD per million tokens."""
        return cls(input_usd / 1_000_000, output_usd / 1_000_000)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return prompt_tokens * self.input_per_token + completion_tokens * self.output_per_token


@functools.lru_cache(maxsize=256)
def litellm_knows(litellm_model: str) -> bool:
    """Whether LiteLLM's bundled price map has a price for ``litellm_model``."""
    return _litellm_cost(litellm_model, 1, 1) is not None


def _litellm_cost(litellm_model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    litellm = import_litellm()
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=litellm_model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:
        # LiteLLM signals an unmapped model by raising (ModelNotMappedError and, for some
        # providers, plain exceptions); every such case means "no price known".
        return None
    return float(prompt_cost) + float(completion_cost)


def cost_usd(
    litellm_model: str,
    prompt_tokens: int,
    completion_tokens: int,
    *,
    price: Price | None = None,
    use_litellm: bool = True,
) -> float:
    """The cost of ``prompt_tokens`` in and ``completion_tokens`` out.

    ``use_litellm=False`` skips LiteLLM's map: a scripted or local model routed as
    ``openai/<name>`` must not be billed as the OpenAI model that happens to share its name.
    """
    if prompt_tokens <= 0 and completion_tokens <= 0:
        return 0.0
    if use_litellm and litellm_knows(litellm_model):
        cost = _litellm_cost(litellm_model, max(prompt_tokens, 0), max(completion_tokens, 0))
        if cost is not None:
            return cost
    if price is not None:
        return price.cost(max(prompt_tokens, 0), max(completion_tokens, 0))
    return 0.0
