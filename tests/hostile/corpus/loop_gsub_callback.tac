-- expect: timeout ran out of time
Procedure {
  function(input)
    ('abc'):gsub('.', function() while true do end end)
  end
}
