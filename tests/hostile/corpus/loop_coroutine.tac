-- expect: timeout ran out of time
Procedure {
  function(input)
    local co = coroutine.wrap(function() while true do end end)
    co()
  end
}
