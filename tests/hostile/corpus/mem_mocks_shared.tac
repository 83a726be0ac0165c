-- expect: memory_limit mocks
-- One table naming the same 48 MiB text 200 times: 9.6 GB once copied out whole.
local text = string.rep("m", 48 * 1024 * 1024)
local mocks = {}
for i = 1, 200 do mocks["writer" .. i] = { message = text } end
Mocks(mocks)
Procedure { function(input) return {} end }
