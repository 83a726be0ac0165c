-- Deploy request: a procedure that declares no inputs and reads them anyway, with fallbacks,
-- as Tactus examples do (run it with --param app_name=Shop).
Procedure {
  function(input)
    local app = input.app_name or "MyApp"
    local env = input.environment or "production"
    return { request = app .. " to " .. env }
  end
}

Specification([[
Feature: Undeclared inputs

  Scenario: Given inputs reach the procedure
    Given the input app_name is "Shop"
    When the procedure runs
    Then the output request should be "Shop to production"

  Scenario: Without them it falls back
    When the procedure runs
    Then the output request should be "MyApp to production"
]])
