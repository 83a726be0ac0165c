"""Tactus's text generation and extraction modules, for procedures that ``require`` them:
``tactus.generate`` (``LLMGenerator:new{}``) and ``tactus.text.extract`` (``LLMExtractor:new{}``),
with their ``.llm`` parts. Each object owns one agent (named after its ``name``, so a
specification's mocks answer it) and retries its own mistakes; it runs in the procedure's
sandbox like any Lua the procedure wrote."""

from __future__ import annotations

_COMMON = """
local _, _, Agent, Json = ...
local function trim(text) return (tostring(text):gsub("^%s+", ""):gsub("%s+$", "")) end
local function own_agent(config, settings)
  settings.model = config.model or "openai/gpt-4o-mini"
  if config.name then return Agent(config.name)(settings) end
  return Agent(settings)
end
local function class()
  local cls = {}
  cls.__index = cls
  cls.__call = function(self, ...) return self:run(...) end
  return cls
end
"""

_GENERATE = (
    _COMMON
    + """
local FORMAT_NOTES = {
  json = "Answer with valid JSON only: no Markdown fences and no text around it.",
  markdown = "Format the answer in Markdown.",
}
local REASONING_NOTE = "Think it through first. Write your reasoning after 'REASONING:', "
  .. "then the final answer after 'RESPONSE:'."

local LLMGenerator = class()

function LLMGenerator:new(config)
  config = config or {}
  local g = setmetatable({}, LLMGenerator)
  g.name, g.model = config.name, config.model
  g.temperature = config.temperature or 0.7
  g.max_tokens = config.max_tokens
  g.max_retries = config.max_retries or 2
  g.reasoning = config.reasoning or false
  g.output_format = config.output_format or "text"
  g.system_prompt, g.instructions, g.constraints =
    config.system_prompt, config.instructions, config.constraints
  local parts = { g.system_prompt or "You are a helpful assistant." }
  parts[#parts + 1] = FORMAT_NOTES[g.output_format]
  if g.reasoning then parts[#parts + 1] = REASONING_NOTE end
  parts[#parts + 1] = g.instructions
  if type(g.constraints) == "table" then
    parts[#parts + 1] = "Constraints: " .. table.concat(g.constraints, ", ")
  elseif g.constraints then
    parts[#parts + 1] = "Constraints: " .. tostring(g.constraints)
  end
  g.agent = own_agent(config, {
    system_prompt = table.concat(parts, "\\n\\n"),
    temperature = g.temperature,
    max_tokens = g.max_tokens,
  })
  return g
end

-- The reasoning and the answer of a reply written with REASONING:/RESPONSE: markers.
local function split_reasoning(text)
  local r_start, r_end = text:find("REASONING:", 1, true)
  local a_start, a_end = text:find("RESPONSE:", (r_end or 0) + 1, true)
  if not (r_start and a_start) then return text, nil end
  return trim(text:sub(a_end + 1)), trim(text:sub(r_end + 1, a_start - 1))
end

function LLMGenerator:acceptable(text)
  if text == nil or text == "" then return false end
  if self.output_format ~= "json" then return true end
  local body = trim(text)
  local first = body:sub(1, 1)
  return (first == "{" or first == "[") and (pcall(Json.decode, body))
end

function LLMGenerator:generate(prompt)
  local failures, raw, problem = 0, nil, nil
  for _ = 1, self.max_retries + 1 do
    local ok, result = pcall(self.agent, { message = prompt })
    if ok then
      raw = result.output
      if type(raw) ~= "string" then raw = raw == nil and "" or Json.encode(raw) end
      local answer, reasoning = raw, nil
      if self.reasoning then answer, reasoning = split_reasoning(raw) end
      if self:acceptable(answer) then
        return {
          output = answer, reasoning = reasoning, format = self.output_format,
          retry_count = failures, raw_response = raw,
        }
      end
      problem = nil
    else
      problem = tostring(result)
    end
    failures = failures + 1
  end
  return {
    output = raw or "", format = self.output_format, retry_count = failures, raw_response = raw,
    error = problem or ("no acceptable answer after " .. failures .. " attempts"),
  }
end
LLMGenerator.run = LLMGenerator.generate
"""
)

_EXTRACT = (
    _COMMON
    + """
local LLMExtractor = class()

function LLMExtractor:new(config)
  assert(type(config) == "table" and type(config.fields) == "table",
    "LLMExtractor needs 'fields', e.g. fields = {name = \\"string\\", age = \\"number\\"}")
  assert(config.prompt, "LLMExtractor needs 'prompt': what to extract")
  local e = setmetatable({}, LLMExtractor)
  e.name, e.model, e.fields, e.prompt = config.name, config.model, config.fields, config.prompt
  e.max_retries = config.max_retries or 3
  e.temperature = config.temperature or 0.3
  e.strict = config.strict ~= false
  e.names = {}
  for name in pairs(e.fields) do e.names[#e.names + 1] = name end
  table.sort(e.names)
  local lines = {}
  for _, name in ipairs(e.names) do
    lines[#lines + 1] = "- " .. name .. " (" .. tostring(e.fields[name]) .. ")"
  end
  e.system_prompt = "Extract structured data. " .. e.prompt
    .. "\\n\\nFields:\\n" .. table.concat(lines, "\\n")
    .. "\\n\\nAnswer with one JSON object holding exactly these fields and nothing else: "
    .. "null for a field the text does not give, numbers as numbers, lists as arrays, "
    .. "true/false for booleans."
  e.agent = own_agent(config, { system_prompt = e.system_prompt, temperature = e.temperature })
  return e
end

local TRUE = { ["true"] = true, yes = true, ["1"] = true }
local FALSE = { ["false"] = true, no = true, ["0"] = true }

-- A field's value as its declared type, or nil and what is wrong with it.
local function typed(name, value, kind)
  kind = string.lower(tostring(kind))
  if kind == "string" then return tostring(value) end
  if kind == "number" or kind == "integer" then
    local n = tonumber(value)
    if n == nil then return nil, "field '" .. name .. "' must be a number" end
    if kind == "integer" then return math.floor(n) end
    return n
  end
  if kind == "boolean" then
    if type(value) == "boolean" then return value end
    local word = string.lower(tostring(value))
    if TRUE[word] then return true end
    if FALSE[word] then return false end
    return nil, "field '" .. name .. "' must be true or false"
  end
  if kind == "list" or kind == "array" or kind == "object" or kind == "dict" then
    if type(value) == "table" then return value end
    return nil, "field '" .. name .. "' must be a " .. kind
  end
  return value
end

function LLMExtractor:check(parsed)
  local fields, problems = {}, {}
  for _, name in ipairs(self.names) do
    local value = parsed[name]
    if value == nil then
      if self.strict then problems[#problems + 1] = "missing field '" .. name .. "'" end
    else
      local v, problem = typed(name, value, self.fields[name])
      fields[name] = v
      problems[#problems + 1] = problem
    end
  end
  return fields, problems
end

-- The JSON object in a reply (from its first '{' to its last '}').
local function json_object(text)
  local first, last = text:find("{", 1, true), nil
  for i = #text, 1, -1 do
    if text:sub(i, i) == "}" then last = i; break end
  end
  if not first or not last or last < first then return nil, { "no JSON object in the answer" } end
  local ok, parsed = pcall(Json.decode, text:sub(first, last))
  if not ok or type(parsed) ~= "table" then return nil, { "the answer is not valid JSON" } end
  return parsed, {}
end

function LLMExtractor:extract(text)
  local message = "Please extract the following information:\\n\\n" .. tostring(text)
  local retries, raw, problems = 0, "", {}
  for attempt = 1, self.max_retries + 1 do
    if attempt > 1 then
      retries = retries + 1
      message = "That answer could not be used:\\n- " .. table.concat(problems, "\\n- ")
        .. "\\n\\nAnswer again with only a JSON object with the fields "
        .. table.concat(self.names, ", ") .. "."
    end
    local output = self.agent({ message = message }).output
    local parsed
    if type(output) == "table" then
      raw, parsed, problems = Json.encode(output), output, {}
    else
      raw = output == nil and "" or tostring(output)
      parsed, problems = json_object(raw)
    end
    if parsed then
      local fields
      fields, problems = self:check(parsed)
      if #problems == 0 then
        return { fields = fields, retry_count = retries, raw_response = raw }
      end
    end
  end
  return {
    fields = {}, retry_count = retries, raw_response = raw, validation_errors = problems,
    error = "no valid extraction after " .. (self.max_retries + 1) .. " attempts: "
      .. table.concat(problems, "; "),
  }
end
LLMExtractor.run = LLMExtractor.extract
"""
)

# A module's table also answers ``:new{}`` itself, so ``require("tactus.generate.llm"):new{}``
# works as well as ``require("tactus.generate.llm").LLMGenerator:new{}``.
_GENERATOR_MODULE = (
    _GENERATE
    + "return { LLMGenerator = LLMGenerator, new = function(_, c) return LLMGenerator:new(c) end }\n"
)
_EXTRACTOR_MODULE = (
    _EXTRACT
    + "return { LLMExtractor = LLMExtractor, new = function(_, c) return LLMExtractor:new(c) end }\n"
)
SOURCES = {
    "tactus.generate": _GENERATOR_MODULE,
    "tactus.generate.llm": _GENERATOR_MODULE,
    "tactus.text.extract": _EXTRACTOR_MODULE,
    "tactus.text.extract.llm": _EXTRACTOR_MODULE,
}
