-- expect: memory_limit|timeout memory|ran out of time
-- Millions of small declarations: each costs the host more than its text.
for i = 1, 5000000 do
  _G["t" .. i] = Tool { description = string.rep("d", 200), function(args) return args end }
end
Procedure { function(input) return {} end }
