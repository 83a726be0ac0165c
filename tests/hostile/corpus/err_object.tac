-- expect: runtime custom message
Procedure {
  function(input)
    error(setmetatable({}, { __tostring = function() return 'custom message' end }))
  end
}
