-- A Tactus-style procedure that leans on the standard library: a Toolset, the done tool,
-- Tool as a namespace, Human.multiple, Retry, Stop, Iterations, MessageHistory, System.alert.

local done = require("tactus.tools.done")
local json = require("tactus.io.json")

Toolset "desk" {
  description = "Research desk tools",
  tools = {
    {
      name = "search",
      description = "Search the archive",
      input = { query = field.string{ required = true } },
      handler = function(args)
        return { hits = { args.query .. " (1998)", args.query .. " (2004)" } }
      end,
    },
  },
}

researcher = Agent {
  provider = "openai",
  model = "gpt-4o-mini",
  system_prompt = "You research {input.topic} with the desk tools, then call done.",
  tools = { "desk", done },
  max_turns = 5,
}

Mocks {
  researcher = {
    tool_calls = {
      { tool = "desk_search", args = { query = "tides" } },
      { tool = "done", args = { reason = "Found two reports on tides." } },
    },
    message = "Two reports found.",
  },
}

Procedure {
  input = { topic = field.string{ default = "tides" } },
  output = {
    summary = field.string{ required = true },
    hits = field.integer{ required = true },
    audience = field.string{ required = true },
    rounds = field.integer{ required = true },
  },
  function(input)
    local answers = Human.multiple({
      { id = "audience", label = "Audience", type = "select", message = "For whom?", options = { "public", "experts" } },
      { id = "go", label = "Go", type = "approval", message = "Start the research?" },
    })
    if not answers.go then
      Stop.request("not approved", false)
      return { summary = "", hits = 0, audience = answers.audience, rounds = 0 }
    end
    MessageHistory.inject_system("Write for " .. answers.audience .. ".")
    while not done.called() and not Iterations.exceeded(3) do
      Iterations.increment()
      Retry.with_backoff(function() return researcher() end, { max_attempts = 2, initial_delay = 0 })
    end
    local found = Tool.last_result("desk_search")
    if #found.hits < 3 then
      System.alert{ message = "few hits for " .. input.topic, level = "warning" }
    end
    Stop.request("research complete")
    Log.info("hits", { json = json.encode(found.hits) })
    return {
      summary = done.last_result().reason,
      hits = #found.hits,
      audience = answers.audience,
      rounds = Iterations.current(),
    }
  end
}

Specification([[
Feature: Research desk

  Scenario: The researcher searches and finishes
    Given the procedure has started
    When the procedure runs
    Then the procedure should complete successfully
    And the desk_search tool should be called
    And the tool "desk_search" should be called with query=tides
    And the done tool should be called exactly 1 time
    And the output hits should be 2
    And the output audience should be "public"
    And the output rounds should be 1
    And the output summary should fuzzy match "Found two reports on tides"
    And the stop reason should be "research complete"
    And the total iterations should be 1
]])
