-- Ticket summary: the shapes Tactus users return without unpacking them. An agent's result
-- goes straight into a string output, so does the done tool's result, and a whole number
-- given as an input stays whole when it is joined into text.
local done = require("tactus.tools.done")

writer = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "Summarise support ticket {input.ticket} in one line, then call done.",
  initial_message = "Ticket {input.ticket}: {input.body}",
  tools = { done },
}

Procedure {
  input = {
    ticket = field.number{ required = true },
    body = field.string{ default = "The printer jams on every page." },
  },
  output = {
    headline = field.string{ required = true },
    summary = field.string{ required = true },
    label = field.string{ required = true },
  },
  function(input)
    local reply = writer()
    return {
      headline = reply,
      summary = done.last_result() or "no summary",
      label = "ticket #" .. input.ticket,
    }
  end
}

Specification([[
Feature: Results used where text is declared

  Scenario: The reply and the done reason become the text outputs
    Given the input ticket is 42
    And the agent "writer" responds with "Printer jams on every page."
    And the agent "writer" calls tool "done" with args {"reason": "Hardware fault: paper feed."}
    When the procedure runs
    Then the procedure should complete successfully
    And the output headline should be "Printer jams on every page."
    And the output summary should be "Hardware fault: paper feed."
    And the output label should be "ticket #42"
]])
