-- expect: runtime invalid conversion
Procedure {
  function(input)
    return { s = string.format('%999999d', 1) }
  end
}
