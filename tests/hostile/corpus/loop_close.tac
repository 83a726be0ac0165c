-- expect: timeout ran out of time
Procedure {
  function(input)
    do
      local x <close> = setmetatable({}, { __close = function() while true do end end })
      error('leave')
    end
  end
}
