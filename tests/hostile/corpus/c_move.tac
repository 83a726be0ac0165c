-- expect: runtime table.move
Procedure {
  function(input)
    table.move({}, 1, 2^40, 2)
  end
}
