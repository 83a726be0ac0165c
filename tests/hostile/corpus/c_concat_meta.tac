-- expect: runtime table.concat
Procedure {
  function(input)
    local t = setmetatable({}, {__index = function() return 'x' end})
    return { s = table.concat(t, '', 1, 2^40) }
  end
}
