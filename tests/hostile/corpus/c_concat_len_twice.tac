-- expect: completed
-- A length that grows after the guard has read it must not slip through: C would
-- call tostring (a C function, out of the hook's reach) 2^40 times.
Procedure {
  function(input)
    local reads = 0
    local t = setmetatable({}, {
      __len = function() reads = reads + 1 return reads == 1 and 1 or 2^40 end,
      __index = tostring,
    })
    return { n = #table.concat(t) }
  end
}
