-- expect: memory_limit memory limit
Procedure {
  function(input)
    return { x = string.rep("o", 200 * 1024 * 1024) }
  end
}
