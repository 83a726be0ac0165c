-- expect: declaration timeout
-- A deadline cannot be computed from NaN (nor from a negative or infinite number of seconds).
writer = Agent { model = "scripted/default", system_prompt = "x", timeout = 0/0 }
Procedure { function(input) return { m = writer("hi").message } end }
