-- expect: runtime metamethods
-- Metamethods written in C run for each element without the hook: no memory grows, no
-- instruction counts.
Procedure {
  function(input)
    local from = setmetatable({}, { __index = rawequal })
    local to = setmetatable({}, { __newindex = rawequal })
    for i = 1, 100 do table.move(from, 1, 2^24 - 1, 1, to) end
  end
}
