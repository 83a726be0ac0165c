-- expect: memory_limit|timeout memory|ran out of time
-- A large string made in a tail call (whose caller is C) still names the procedure's line.
Procedure {
  function(input)
    local x = setmetatable({}, { __tostring = function() return string.rep("x", 100 * 1024 * 1024) end })
    print(x, x, x)
  end
}
