-- expect: runtime NaN
Procedure {
  function(input)
    return { x = 0/0 }
  end
}
