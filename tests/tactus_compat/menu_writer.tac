-- Menu writer: Tactus's text modules in a procedure. A generator writes a dish name and a
-- JSON card (its first answer is not JSON, so it asks again); an extractor reads a review.
local generate = require("tactus.generate")
local LLMExtractor = require("tactus.text.extract.llm").LLMExtractor

Procedure {
  input = { review = field.string{ default = "Ate the soup twice. 4 stars, would return." } },
  output = {
    dish = field.string{ required = true },
    card_tries = field.integer{ required = true },
    price = field.number{ required = true },
    reasoning = field.string{ required = true },
    stars = field.integer{ required = true },
    again = field.boolean{ required = true },
  },
  function(input)
    local namer = generate.LLMGenerator:new{ name = "dish_namer", temperature = 0.9 }
    local dish = namer:generate("Name a winter soup.")
    local carder = generate.LLMGenerator:new{ name = "card_writer", output_format = "json" }
    local card = carder("Write the menu card for " .. dish.output .. ".")
    local thinker = generate.LLMGenerator:new{ name = "pricer", reasoning = true }
    local price = thinker:generate("Price it.")
    local reader = LLMExtractor:new{
      name = "review_reader",
      fields = { stars = "integer", again = "boolean" },
      prompt = "Read the restaurant review.",
    }
    local found = reader:extract(input.review)
    assert(not found.error, found.error)
    return {
      dish = dish.output,
      card_tries = card.retry_count,
      price = tonumber(price.output),
      reasoning = price.reasoning,
      stars = found.fields.stars,
      again = found.fields.again,
    }
  end
}

Mocks {
  dish_namer = { message = "Smoky Leek Broth" },
  card_writer = { temporal = {
    { message = "Here is your card: Smoky Leek Broth" },
    { message = '{"name": "Smoky Leek Broth", "price": 9}' },
  } },
  pricer = { message = "REASONING: leeks are cheap in winter. RESPONSE: 9.5" },
  review_reader = { temporal = {
    { when_message = "Please extract the following information:\n\nAte the soup twice. 4 stars, would return.",
      message = 'Sure! {"stars": "4", "again": "yes"}' },
  } },
}

Specification([[
Feature: Tactus's generate and extract modules

  Scenario: Generation retries until the answer is JSON, extraction converts types
    When the procedure runs
    Then the procedure should complete successfully
    And the output dish should be "Smoky Leek Broth"
    And the output card_tries should be 1
    And the output price should be 9.5
    And the output reasoning should be "leeks are cheap in winter."
    And the output stars should be 4
    And the output again should be true
]])
