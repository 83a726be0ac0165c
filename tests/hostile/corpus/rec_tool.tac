-- expect: runtime stack|nested
deeper = Tool { function(args) return deeper({}) end }
Procedure {
  function(input)
    deeper({})
  end
}
