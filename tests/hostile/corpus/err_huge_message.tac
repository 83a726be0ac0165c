-- expect: runtime truncated
Procedure {
  function(input)
    error(string.rep("x", 60 * 1024 * 1024))
  end
}
