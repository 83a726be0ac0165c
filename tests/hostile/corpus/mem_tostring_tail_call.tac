-- expect: memory_limit memory
-- A string beyond the memory limit asked for in a tail call (whose caller is C) still names the
-- procedure's line.
Procedure {
  function(input)
    local x = setmetatable({}, { __tostring = function() return string.rep("x", 300 * 1024 * 1024) end })
    print(x)
  end
}
