-- expect: timeout ran out of time
Procedure {
  function(input)
    while true do pcall(function() while true do end end) end
  end
}
