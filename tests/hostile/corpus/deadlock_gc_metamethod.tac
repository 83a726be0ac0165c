-- expect: runtime __gc
Procedure {
  function(input)
    setmetatable({}, { __gc = function() while true do end end })
  end
}
