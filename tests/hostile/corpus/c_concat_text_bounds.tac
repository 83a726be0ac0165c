-- expect: runtime table.concat
-- Bounds given as text are numbers to C too.
Procedure {
  function(input)
    local t = setmetatable({}, { __index = function() return "x" end })
    return { s = table.concat(t, "", "1", "1e15") }
  end
}
