-- Support intake, written as Tactus writes it: an extractor from Tactus's standard library
-- reads the customer's message, an agent with the log tool and an inline tool files the case,
-- and the steps taken are collected in State with table.insert.
local done = require("tactus.tools.done")
local log = require("tactus.tools.log")
local LLMExtractor = require("tactus.text.extract").LLMExtractor

clerk = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = [[You file support cases. Open cases so far: {State.open_cases}.
File this one with file_case, log anything unusual, then call done with a one-line summary.]],
  inline_tools = {
    {
      name = "file_case",
      description = "File the case in the queue it belongs to",
      input = { queue = field.string{ required = true, enum = { "billing", "technical", "general" } } },
      handler = function(args)
        table.insert(state.trace, "filed:" .. args.queue)
        State.open_cases = State.open_cases + 1
        return { ticket = "T-" .. State.open_cases, queue = args.queue }
      end,
    },
  },
  tools = { log, done },
}

Procedure {
  input = {
    message = field.string{ default = "Hi, I'm Ana (ana@example.com). I was charged twice in May." },
  },
  state = { open_cases = field.integer{ default = 41 } },
  output = {
    summary = field.string{ required = true },
    email = field.string{},
    trace = field.array{ required = true },
  },
  function(input)
    state.trace = {}
    local reader = LLMExtractor:new{
      name = "intake_reader",
      fields = { name = "string", email = "string", topic = "string" },
      prompt = "Who wrote, their email, and what the message is about.",
    }
    local found = reader:extract(input.message)
    table.insert(state.trace, found.error and "extract:failed" or "extract:ok")
    clerk({ message = "Case about " .. tostring(found.fields.topic) .. ": " .. input.message })
    return {
      summary = done.last_result() or "no summary",
      email = found.fields.email,
      trace = state.trace,
    }
  end
}

Mocks {
  intake_reader = {
    message = '{"name": "Ana", "email": "ana@example.com", "topic": "a double charge"}',
  },
  clerk = {
    message = "Filed under billing.",
    tool_calls = {
      { tool = "clerk_file_case", args = { queue = "billing" } },
      { tool = "log", args = { message = "second double charge this week", level = "warn" } },
      { tool = "done", args = { reason = "Double charge for Ana filed as T-42 (billing)." } },
    },
  },
}

Specification([[
Feature: Support intake

  Scenario: A message becomes a filed case
    When the procedure runs
    Then the procedure should complete successfully
    And the output email should be "ana@example.com"
    And the output summary should be "Double charge for Ana filed as T-42 (billing)."
    And the output trace should be ["extract:ok", "filed:billing"]
    And the state open_cases should be 42
    And the clerk_file_case tool should be called with queue=billing
    And the log tool should be called
]])
