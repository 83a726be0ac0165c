-- expect: runtime string.pack
Procedure {
  function(input)
    return { s = string.pack(string.rep('x', 100000)) }
  end
}
