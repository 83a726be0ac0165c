-- Refund desk: quick keyword matching first, an LLM classifier for everything else. The
-- classifiers are made inside the procedure, and a scenario answers for the LLM one by name.
Procedure {
  input = { request = field.string{ required = true } },
  output = {
    decision = field.string{ required = true },
    route = field.string{ required = true },
    tries = field.number{ required = true },
  },
  function(input)
    local keywords = Classify {
      method = "fuzzy",
      classes = { "refund", "chargeback", "cancel order" },
      threshold = 0.9,
      algorithm = "partial_ratio",
    }
    local judge = Classify {
      name = "refund_policy_llm",
      classes = { "approve", "deny", "escalate" },
      prompt = "Decide what to do with this refund request.",
      temperature = 0,
    }
    local quick = keywords(input.request)
    if quick.value ~= "NO_MATCH" then
      return { decision = "escalate", route = "keywords", tries = 0 }
    end
    local slow = judge(input.request)
    return { decision = slow.value, route = "llm", tries = slow.retry_count }
  end
}

Mocks {
  refund_policy_llm = { temporal = { { value = "perhaps" }, { value = "Deny", confidence = 0.7 } } },
}

-- Evaluators Tactus cannot build yet are kept in the file; they do not stop it from running.
Evaluation({
  runs = 1,
  dataset = { { name = "keyword", inputs = { request = "I want a chargeback" } } },
  evaluators = { field.contains{}, field.llm_judge{} },
  thresholds = { min_success_rate = 0.8 },
})

Specification([[
Feature: Refund desk

  Scenario: A keyword escalates at once
    Given the procedure has started
    And the input request is "please process a chargeback for order 7"
    When the procedure runs
    Then the output decision should be "escalate"
    And the output route should be "keywords"

  Scenario: The model's answer decides the rest
    Given the procedure has started
    And the input request is "The shoes did not fit, can I get my money back?"
    And the agent "refund_policy_llm" responds with "approve\nThe item is within the return window."
    When the procedure runs
    Then the procedure should complete successfully
    And the output decision should be "approve"
    And the output route should be "llm"
    And the output tries should be 0

  Scenario: Mocks retry until a valid class arrives
    Given the input request is "I changed my mind about the lamp"
    When the procedure runs
    Then the output decision should be "deny"
    And the output tries should be 1
]])
