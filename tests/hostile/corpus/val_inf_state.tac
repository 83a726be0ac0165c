-- expect: runtime infinities
Procedure {
  function(input)
    State.set('k', 1/0)
  end
}
