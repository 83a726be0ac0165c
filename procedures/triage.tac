-- Route support tickets: a Model scores sentiment, Classify picks the team, an agent replies.
-- `tide eval procedures/triage.tac --mock` scores it against the dataset below.
sentiment = Model {
  type = "http",
  endpoint = "http://127.0.0.1:9000/sentiment",
  timeout = 5,
  input = { text = "string" },
  output = { label = "string", confidence = "float" },
}

router = Classify {
  name = "router",
  classes = { "billing", "shipping", "other" },
  prompt = "Which team should handle this support ticket?",
  model = "openai/gpt-4o-mini",
}

writer = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "You write short, polite replies to customers. The {input.team} team will follow up.",
}

Procedure {
  input = { ticket = field.string{ required = true, description = "The customer's message" } },
  output = {
    team = field.string{ required = true },
    mood = field.string{ required = true },
    reply = field.string{ required = true },
  },
  function(input)
    local mood = sentiment({ text = input.ticket })
    local route = router(input.ticket)
    local reply = writer({ message = input.ticket, team = route.value })
    return { team = route.value, mood = mood.label, reply = reply.output }
  end
}

Mocks {
  sentiment = {
    conditional = {
      { when = { text = "contains:refund" }, returns = { label = "negative", confidence = 0.92 } },
      { when = { text = "contains:" }, returns = { label = "neutral", confidence = 0.6 } },
    },
  },
  router = {
    conditional = {
      { when = { text = "contains:refund" }, returns = { response = "This is a billing question.\nbilling" } },
      { when = { text = "contains:parcel" }, returns = { value = "shipping", confidence = 0.9 } },
      { when = { text = "contains:" }, returns = { response = "other" } },
    },
  },
  writer = { message = "Thank you for writing to us. We are on it and will reply within a day." },
}

Evaluations {
  dataset = {
    { name = "refund", inputs = { ticket = "I want a refund for my order" },
      expected_output = { team = "billing", mood = "negative" } },
    { name = "late parcel", inputs = { ticket = "My parcel is two weeks late" },
      expected_output = { team = "shipping", mood = "neutral" } },
    { name = "praise", inputs = { ticket = "Great service, thanks!" },
      expected_output = { team = "other" } },
  },
  evaluators = {
    field.equals_expected{ field = "team" },
    field.min_length{ field = "reply", value = 20 },
    field.contains{ field = "reply", value = "Thank" },
    { type = "regex", field = "mood", value = "^(positive|neutral|negative)$" },
    { type = "llm_judge", rubric = "The reply is polite and does not promise a refund." },
  },
  thresholds = { min_success_rate = 0.9, max_cost_per_run = 0.01, max_tokens_per_run = 2000 },
}

Specification([[
Feature: Ticket triage

  Scenario: A refund request goes to billing
    Given the input ticket is "Please refund my last payment"
    When the sentiment model predicts
    Then the output team should be "billing"
    And the output mood should be "negative"
    And the output reply should be similar to "Thank you for writing to us" with 50% similarity

  Scenario: A late parcel goes to shipping
    Given the input ticket is "Where is my parcel?"
    Then the output team should be "shipping"
    And the output mood should match pattern "neutral"
]])
