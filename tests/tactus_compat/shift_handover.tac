-- Shift handover: state written through State.key, a sub-procedure with state defaults of its
-- own, a prompt that reads {State.key}, and the standard library's log tool.
local done = require("tactus.tools.done")
local log = require("tactus.tools.log")

briefer = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "Brief the next shift. Open incidents: {State.open_incidents}.",
  tools = { log, done },
}

Procedure "count_pages" {
  state = { pages = field.integer{ default = 0 } },
  output = { pages = field.integer{ required = true } },
  function(input)
    State.pages = State.pages + 1
    return { pages = State.pages }
  end
}

Procedure "main" {
  output = {
    pages = field.integer{ required = true },
    unknown = field.string{ required = true },
    logged = field.boolean{ required = true },
  },
  function(input)
    State.open_incidents = 3
    Procedure("count_pages")({})
    local second = Procedure("count_pages")({})
    briefer({ message = "Write the handover." })
    return {
      pages = second.pages,
      unknown = tostring(State.never_set),
      logged = log.called(),
    }
  end
}

Specification([[
Feature: Shift handover

  Scenario: State keys, sub-procedure defaults and the log tool
    Given the procedure has started
    And the agent "briefer" calls tool "log" with args {"message": "two pages overnight", "level": "info"}
    And the agent "briefer" calls tool "done" with args {"reason": "handover written"}
    When the procedure runs
    Then the procedure should complete successfully
    And the output pages should be 2
    And the output unknown should be "nil"
    And the output logged should be true
    And the state open_incidents should be 3
    And the state pages should be 2
    And the log tool should be called exactly 1 time
    And the agent's context should include "Open incidents: 3."
]])
