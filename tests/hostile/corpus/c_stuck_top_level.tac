-- expect: timeout ran out of time
local s = string.rep("a", 14000)
for i = 1, 1000 do s:find(".-b") end
Procedure { function(input) return {} end }
