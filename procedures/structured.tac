-- Structured output: the agent answers in JSON that is checked against declared fields
-- once the stream has finished.
--   tide run procedures/structured.tac --mock

extractor = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = [[You extract contact details from text.]],
  output = {
    name = field.string{ required = true, description = "The person's full name" },
    email = field.string{ description = "Their email address" },
    priority = field.string{ required = true, enum = { "low", "normal", "urgent" } },
  },
}

Mocks {
  extractor = {
    data = { name = "Grace Hopper", email = "grace@example.com", priority = "urgent" },
  },
}

Procedure {
  input = {
    text = field.string{
      default = "Grace Hopper (grace@example.com) says the compiler is down. Urgent!",
      description = "The message to read",
    },
  },
  output = {
    name = field.string{ required = true },
    email = field.string{},
    priority = field.string{ required = true },
  },
  function(input)
    local contact = extractor({ message = input.text })
    State.set("last_priority", contact.output.priority)
    return contact.output
  end
}

Specification([[
Feature: Extracting contacts

  Scenario: Details come back as validated fields
    When the procedure runs
    Then the procedure should complete successfully
    And the output name should be "Grace Hopper"
    And the output priority should be "urgent"
    And the state last_priority should be "urgent"

  Scenario: An answer that breaks the schema fails the run
    Given the agent "extractor" returns data {"name": "Nobody", "priority": "whenever"}
    When the procedure runs
    Then the procedure should fail
]])
