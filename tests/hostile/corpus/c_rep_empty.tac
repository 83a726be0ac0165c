-- expect: completed
Procedure {
  function(input)
    return { n = #string.rep("", 2^53) + #string.rep("", 2^40, "") }
  end
}
