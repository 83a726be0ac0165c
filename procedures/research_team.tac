-- A multi-agent procedure: a planner splits a question, a researcher answers each part,
-- and a writer combines the answers. Each agent keeps its own conversation.
--   tide run procedures/research_team.tac --mock

planner = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = [[You break a question into at most three short sub-questions.]],
  output = {
    questions = field.array{ required = true, description = "Sub-questions, one per item" },
  },
}

researcher = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = [[You answer one focused question in two or three sentences.]],
  max_tokens = 200,
}

writer = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = [[You write a clear, short answer to {input.question} from research notes.]],
  max_tokens = 300,
}

Mocks {
  planner = {
    data = { questions = { "What are tides?", "What causes them?" } },
  },
  researcher = {
    temporal = {
      { message = "Tides are the regular rise and fall of the sea." },
      { message = "They are caused mainly by the Moon's gravity." },
    },
  },
  writer = { message = "Tides rise and fall twice a day, pulled mostly by the Moon." },
}

research = Procedure "research" {
  input = { question = field.string{ required = true } },
  output = { notes = field.string{ required = true } },
  function(input)
    local answer = researcher({ message = input.question })
    State.append("notes", answer.output)
    return { notes = answer.output }
  end
}

Procedure {
  input = {
    question = field.string{ default = "Why does the sea have tides?" },
  },
  output = {
    answer = field.string{ required = true },
    sources = field.integer{ required = true },
  },
  function(input)
    local plan = planner({ message = input.question })
    local notes = {}
    for _, question in ipairs(plan.output.questions) do
      notes[#notes + 1] = research({ question = question }).notes
    end
    local final = writer({ message = "Notes:\n- " .. table.concat(notes, "\n- ") })
    return { answer = final.output, sources = #notes }
  end
}

Specification([[
Feature: Research team

  Scenario: Three agents work together
    When the procedure runs
    Then the procedure should complete successfully
    And the output sources should be 2
    And the agent "researcher" should take 2 turns
    And the output answer should contain "Moon"
]])
