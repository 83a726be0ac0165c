-- expect: runtime table.unpack
Procedure {
  function(input)
    return { table.unpack({}, 1, 2^40) }
  end
}
