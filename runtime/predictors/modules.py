"""Tactus's classification and model modules, for procedures that ``require`` them:
``tactus.text.classify`` (``Classify``, ``LLMClassifier:new{}``, ``FuzzyMatchClassifier:new{}``),
its ``.llm`` and ``.fuzzy`` parts, and ``tactus.models.llm`` (``LLMModel{}``). They are thin
Lua over the ``Classify`` and ``Model`` globals, run in the procedure's own sandbox."""

from __future__ import annotations

from runtime.predictors import text_modules

_COMMON = """
local Classify, Model = ...
local function copy(config, extra)
  local out = {}
  for k, v in pairs(config or {}) do out[k] = v end
  for k, v in pairs(extra) do out[k] = v end
  return out
end
local function classifier(method)
  return { new = function(_, config) return Classify(copy(config, { method = method })) end }
end
"""

SOURCES = {
    "tactus.text.classify": _COMMON
    + """
return {
  Classify = Classify,
  LLMClassifier = classifier("llm"),
  FuzzyMatchClassifier = classifier("fuzzy"),
}
""",
    "tactus.text.classify.llm": _COMMON + "return { LLMClassifier = classifier('llm') }\n",
    "tactus.text.classify.fuzzy": _COMMON
    + "return { FuzzyMatchClassifier = classifier('fuzzy') }\n",
    "tactus.models.llm": _COMMON
    + """
local function LLMModel(config)
  assert(type(config) == "table" and config.prompt, "LLMModel requires 'prompt'")
  return Model(config.name or "llm_model", {
    type = "llm", model = config.model or "openai/gpt-4o-mini", provider = config.provider,
    system_prompt = config.system_prompt or config.prompt, temperature = config.temperature,
    max_tokens = config.max_tokens, input = { text = "string" }, output = { response = "string" },
  })
end
return { LLMModel = LLMModel }
""",
}
SOURCES.update(text_modules.SOURCES)
