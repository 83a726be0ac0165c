-- Hello: the smallest useful procedure. One agent, one input, one output.
--   tide run procedures/hello.tac --mock
--   tide run procedures/hello.tac --model local/smollm2 --param name=Grace

greeter = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = [[You greet people warmly and briefly. The person's name is {input.name}.]],
  max_tokens = 80,
}

Mocks {
  greeter = { message = "Hello, Ada! It's lovely to meet you." },
}

Procedure {
  input = {
    name = field.string{ default = "Ada", description = "Who to greet" },
  },
  output = {
    greeting = field.string{ required = true, description = "The greeting" },
  },
  function(input)
    local reply = greeter({ message = "Please greet " .. input.name .. "." })
    return { greeting = reply.output }
  end
}

Specification([[
Feature: Greeting

  Scenario: The greeter says hello
    Given the procedure has started
    When the procedure runs
    Then the procedure should complete successfully
    And the output greeting should contain "Ada"

  Scenario: A scripted greeting
    Given the agent "greeter" responds with "Hi there, Grace!"
    And the input name is "Grace"
    When the procedure runs
    Then the output greeting should be "Hi there, Grace!"
]])
