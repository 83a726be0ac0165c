-- expect: runtime table.remove
Procedure {
  function(input)
    local t = setmetatable({}, { __len = function() return math.maxinteger - 1 end })
    table.remove(t, 1)
  end
}
