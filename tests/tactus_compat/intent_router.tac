-- Routes a chat message to an intent: fuzzy matching first, an LLM classifier when that fails.
local classify = require("tactus.text.classify")

quick = classify.FuzzyMatchClassifier:new {
  classes = { "check balance", "reset password", "talk to a human" },
  threshold = 0.75,
  algorithm = "token_set_ratio",
}

careful = Classify {
  name = "intent_llm",
  classes = { "check balance", "reset password", "talk to a human", "other" },
  prompt = "Which intent does the customer's message express?",
  max_retries = 2,
}

Model "priority" {
  type = "mock",
  value = { level = "normal" },
  input = { intent = "string" },
  output = { level = "string" },
  training = { data = "priority.csv", epochs = 3 },
}

Procedure {
  input = { message = field.string{ required = true } },
  output = {
    intent = field.string{ required = true },
    method = field.string{ required = true },
    priority = field.string{ required = true },
  },
  function(input)
    local result = quick:classify(input.message)
    local method = "fuzzy"
    if result.value == "NO_MATCH" then
      result = careful(input.message)
      method = "llm"
    end
    if result.value == "ERROR" then
      error("could not classify the message: " .. result.error)
    end
    local priority = Model("priority").predict({ intent = result.value })
    state.confidence = result.confidence
    return { intent = result.value, method = method, priority = priority.output.level }
  end
}

Mocks {
  intent_llm = {
    conditional = {
      { when = { text = "contains:money" }, returns = { response = "The customer asks about money.\ncheck balance" } },
      { when = { text = "contains:gibberish" }, returns = { response = "I don't know" } },
    },
  },
  priority = { conditional = { { when = { intent = "talk to a human" }, returns = { level = "high" } } } },
}

Evaluation { runs = 2 }

local last = {}
Step("I classify \"(.+)\" with the quick classifier", function(ctx, text)
  last = quick:classify(text)
end)
Step("the quick classifier answers \"(.+)\"", function(ctx, value)
  assert(last.value == value, "got " .. tostring(last.value))
end)

Specification([[
Feature: Intent routing

  Scenario: Close wording is matched without a model
    Given the input message is "password reset"
    When the procedure runs
    Then the output intent should be "reset password"
    And the output method should be "fuzzy"
    And the output priority should be "normal"
    And the state confidence should be greater than 0.75

  Scenario: Other wording goes to the LLM classifier
    Given the input message is "how much money do I have"
    When the intent_llm model predicts
    Then the output intent should be "check balance"
    And the output method should be "llm"
    And the output intent should fuzzy match any of ["check balance", "balance"]

  Scenario: A human is a high priority
    Given the input message is "I want to talk to a human"
    Then the output priority should be "high"

  Scenario: An unclassifiable message fails the run
    Given the input message is "gibberish"
    Then the procedure should fail with "could not classify the message"
    And the stop reason should contain "Invalid classification after retries"

  Scenario: Custom steps classify too
    Given the input message is "hello"
    When I classify "check my balance" with the quick classifier
    Then the quick classifier answers "check balance"
]])
