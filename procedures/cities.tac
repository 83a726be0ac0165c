-- The standard library: a Toolset over a CSV file, Retry, MessageHistory, System.alert, Stop.
--   tide run procedures/cities.tac --mock

local csv = require("tactus.io.csv")

-- Files are read from this procedure's folder, never from outside it.
local rows = csv.read("data/cities.csv")

-- Each inline tool is declared as "<toolset>_<tool>": cities_lookup and cities_largest.
Toolset "cities" {
  description = "Facts about a few cities",
  tools = {
    {
      name = "lookup",
      description = "Country and population of a city",
      input = { city = field.string{ required = true } },
      handler = function(args)
        for _, row in ipairs(rows) do
          if row.city:lower() == args.city:lower() then
            return { country = row.country, population = tonumber(row.population) }
          end
        end
        return { error = "unknown city " .. args.city }
      end,
    },
    {
      name = "largest",
      description = "The most populous city",
      handler = function()
        local best = rows[1]
        for _, row in ipairs(rows) do
          if tonumber(row.population) > tonumber(best.population) then best = row end
        end
        return best.city
      end,
    },
  },
}

guide = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "You answer questions about cities with the cities tools.",
  tools = { "cities" },
}

Mocks {
  guide = {
    tool_calls = { { tool = "cities_lookup", args = { city = "Oslo" } } },
    message = "Oslo is in Norway and has about 709,000 people.",
  },
}

Procedure {
  input = { question = field.string{ default = "Where is Oslo, and how many people live there?" } },
  output = {
    answer = field.string{ required = true },
    country = field.string{ required = true },
    largest = field.string{ required = true },
  },
  function(input)
    MessageHistory.inject_system("Answer in one sentence.")
    -- A flaky step is retried with a growing pause between attempts.
    local answer = Retry.with_backoff(function()
      return guide(input.question).output
    end, { max_attempts = 3, initial_delay = 0.1 })
    local found = Tool.last_result("cities_lookup")
    if found == nil or found.error then
      System.alert{ message = "the guide answered without looking the city up", level = "warning" }
      Stop.request("no lookup", false)
    else
      Stop.request("answered from the data")
    end
    return {
      answer = answer,
      country = found and found.country or "unknown",
      largest = Tool("cities_largest")({}),
    }
  end
}

Specification([[
Feature: City facts from a CSV file

  Scenario: The guide looks the city up
    When the procedure runs
    Then the procedure should complete successfully
    And the cities_lookup tool should be called with city=Oslo
    And the output country should be "Norway"
    And the output largest should be "Quito"
    And the stop reason should be "answered from the data"

  Scenario: An answer without a lookup raises an alert
    Given the agent "guide" responds with "Oslo is in Norway."
    When the procedure runs
    Then the output country should be "unknown"
]])
