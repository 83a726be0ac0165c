-- expect: memory_limit memory
Procedure {
  function(input)
    local s = string.rep("x", 2^40)
    return { n = #s }
  end
}
