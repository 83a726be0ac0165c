-- expect: memory_limit declaration
-- One 48 MiB text, declared again and again: each declaration keeps a copy of it.
local prompt = string.rep("s", 48 * 1024 * 1024)
for i = 1, 200 do
  _G["writer" .. i] = Agent { model = "scripted/default", system_prompt = prompt }
end
Procedure { function(input) return {} end }
