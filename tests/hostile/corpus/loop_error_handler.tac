-- expect: timeout ran out of time
Procedure {
  function(input)
    xpcall(function() error('x') end, function() while true do end end)
  end
}
