-- expect: runtime table.concat
-- The widest span there is: its length wraps around in integers.
Procedure {
  function(input)
    local t = setmetatable({}, { __index = tostring })
    return { n = #table.concat(t, "", math.mininteger, math.maxinteger) }
  end
}
