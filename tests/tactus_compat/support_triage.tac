-- A support desk: a model scores sentiment, Classify routes the ticket, an agent drafts a reply.
sentiment = Model {
  type = "mock",
  value = { label = "neutral", confidence = 0.5 },
  input = { text = "string" },
  output = { label = "string", confidence = "float" },
}

router = Classify {
  name = "router",
  classes = { "billing", "shipping", "other" },
  prompt = "Which team should handle this ticket?",
}

lookup = Tool {
  description = "Find an order",
  input = { order_id = field.string{ required = true } },
  function(args) return { status = "shipped", id = args.order_id } end
}

writer = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "You write short, polite replies to customers.",
  tools = { "lookup" },
}

Procedure {
  input = { ticket = field.string{ required = true } },
  output = {
    team = field.string{ required = true },
    mood = field.string{ required = true },
    reply = field.string{ required = true },
    attempts = field.number{},
  },
  function(input)
    local mood = sentiment({ text = input.ticket })
    local route = router(input.ticket)
    state.team = route.value
    local r = writer("Reply to: " .. input.ticket)
    return { team = route.value, mood = mood.output.label, reply = r.output, attempts = route.retry_count }
  end
}

Mocks {
  sentiment = {
    conditional = {
      { when = { text = "contains:refund" }, returns = { label = "negative", confidence = 0.9 } },
      { when = { text = "startswith:Thanks" }, returns = { label = "positive", confidence = 0.8 } },
    },
  },
  router = { temporal = { { response = "I am not sure." }, { response = "This is about billing.\nbilling" } } },
  writer = {
    tool_calls = { { tool = "lookup", args = { order_id = "A-1042" } } },
    message = "Hello! Your order A-1042 has shipped. Thank you for your patience.",
  },
}

Specification([[
Feature: Support triage

  Scenario: A refund request goes to billing after one retry
    Given the input ticket is "I want a refund for order A-1042"
    When the sentiment model predicts
    Then the procedure should complete successfully
    And the output team should be "billing"
    And the output mood should be "negative"
    And the output attempts should be 1
    And the state team should be similar to "Billing"
    And the output reply should be similar to "hello your order a1042 has shipped" with 60% similarity
    And the output reply should match pattern "A-\d{4}"
    And the state team should match pattern "^bill"
    And the lookup tool should be called with order_id matching pattern "^A-\d+$"
    And the output reply should semantically satisfy "is a polite reply"

  Scenario: A thank-you note is positive
    Given the input ticket is "Thanks, all good"
    Then the output mood should be "positive"
    And the output mood should not be "negative"

  Scenario: A missing input stops the run
    Given the input ticket is nil
    Then the procedure should fail
    And the stop reason should contain "ticket"
    And the stop reason should match pattern "ticket|required"
]])
