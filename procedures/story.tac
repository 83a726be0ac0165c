-- Story: a writer streams a short story, then an editor gives it a title.
--   tide run procedures/story.tac --model local/smollm2 --param topic="a lighthouse keeper"

writer = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = [[You write short, vivid stories (under 200 words) about {input.topic}.]],
  temperature = 0.8,
  max_tokens = 400,
}

editor = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = [[You give stories short, memorable titles. Answer with the title only.]],
  max_tokens = 30,
}

Mocks {
  writer = {
    message = "The robot dipped its brush in cobalt and painted the sea it had never seen. "
      .. "Every wave was a guess, and every guess was beautiful.",
  },
  editor = { message = "The Cobalt Sea" },
}

Procedure {
  input = {
    topic = field.string{ default = "a robot who paints", description = "What the story is about" },
  },
  output = {
    title = field.string{ required = true },
    story = field.string{ required = true },
    words = field.integer{ description = "How many words the story has" },
  },
  function(input)
    local draft = writer({ message = "Write the story." })
    local title = editor({ message = "Give this story a title:\n\n" .. draft.output })
    local words = 0
    for _ in draft.output:gmatch("%S+") do words = words + 1 end
    Log.info("story written", { words = words, cost = draft.cost + title.cost })
    return { title = title.output, story = draft.output, words = words }
  end
}

Specification([[
Feature: Story

  Scenario: A story with a title
    When the procedure runs
    Then the procedure should complete successfully
    And the output story should be complete
    And the output title should be "The Cobalt Sea"
    And the output words should be greater than 10

  Scenario Outline: Any topic gets a story
    Given the input topic is "<topic>"
    When the procedure runs
    Then the output story should exist

    Examples:
      | topic               |
      | a lighthouse keeper |
      | the last bookshop   |
]])
