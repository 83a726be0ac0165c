-- expect: runtime stack|nested
again = Procedure "again" { function(input) return again({}) end }
Procedure {
  function(input)
    return again({})
  end
}
