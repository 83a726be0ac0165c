-- Tools: an agent calls Lua tools, then `done` to finish.
--   tide run procedures/tools.tac --mock

local done = require("tactus.tools.done")

multiply = Tool {
  description = "Multiply two numbers",
  input = {
    a = field.number{ required = true, description = "First factor" },
    b = field.number{ required = true, description = "Second factor" },
  },
  function(args)
    return args.a * args.b
  end
}

add = Tool {
  description = "Add two numbers",
  input = {
    a = field.number{ required = true },
    b = field.number{ required = true },
  },
  function(args)
    return args.a + args.b
  end
}

calculator = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = [[You are a careful calculator. Use the tools for every step of arithmetic,
then call done with the final answer as the reason.]],
  tools = { multiply, add, done },
}

Mocks {
  calculator = {
    message = "Let me work that out.",
    tool_calls = {
      { tool = "multiply", args = { a = 6, b = 7 } },
      { tool = "add", args = { a = 42, b = 8 } },
      { tool = "done", args = { reason = "6 × 7 + 8 = 50" } },
    },
  },
}

Procedure {
  input = {
    question = field.string{ default = "What is 6 times 7, plus 8?" },
  },
  output = {
    answer = field.string{ required = true },
    steps = field.integer{ required = true },
  },
  function(input)
    local turns = 0
    while not done.called() and turns < 3 do
      calculator({ message = input.question })
      turns = turns + 1
    end
    return {
      answer = done.last_result().reason,
      steps = multiply.call_count() + add.call_count(),
    }
  end
}

Specification([[
Feature: Calculator with tools

  Scenario: The calculator multiplies, adds and finishes
    When the procedure runs
    Then the procedure should complete successfully
    And the tool "multiply" should be called with a=6
    And the tool "add" should be called 1 times
    And the done tool should be called
    And the output steps should be 2

  Scenario: A tool that fails is reported to the model
    Given the tool "multiply" fails with "overflow"
    When the procedure runs
    Then the done tool should be called
]])
