-- expect: runtime without a message
Procedure {
  function(input)
    error()
  end
}
