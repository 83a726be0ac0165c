-- expect: timeout ran out of time
Procedure {
  function(input)
    error(setmetatable({}, { __tostring = function() while true do end end }))
  end
}
