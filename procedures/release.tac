-- Asks one person several things at once: Human.multiple is one request, answered once with
-- a table keyed by the fields' ids. At a terminal the fields are asked in turn; in the IDE they
-- are one form; a waiting run takes `tide runs answer ID '{"target": "staging", "confirm": true}'`.
notes_writer = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "You write release notes in two short sentences.",
}

Mocks {
  notes_writer = { message = "Version 2.0 starts twice as fast. Nothing to change on your side." },
}

Procedure {
  input = { version = field.string { default = "2.0", description = "The version to release" } },
  output = {
    target = field.string { required = true },
    released = field.boolean { required = true },
    notes = field.string {},
  },
  function(input)
    local draft = notes_writer("Release notes for version " .. input.version)
    local answer = Human.multiple({
      { id = "target", label = "Target", type = "select", message = "Where does it go?",
        options = { "staging", "production" } },
      { id = "confirm", label = "Confirm", type = "approval",
        message = "Release " .. input.version .. " with these notes?\n\n" .. draft.output },
      { id = "note", label = "Note", type = "input", message = "Anything to add?", required = false },
    })
    if not answer.confirm then
      return { target = answer.target, released = false }
    end
    local notes = draft.output
    if answer.note then notes = notes .. "\n" .. answer.note end
    return { target = answer.target, released = true, notes = notes }
  end,
}

Specification([[
Feature: A release asks its questions in one request

  Scenario: Under mocks the first target is chosen and the release confirmed
    When the procedure runs
    Then the procedure should complete successfully
    And the output target should be "staging"
    And the output released should be true

  Scenario: A person keeps it back
    Given Human.multiple will return {"target": "production", "confirm": false}
    When the procedure runs
    Then the output target should be "production"
    And the output released should be false
]])
