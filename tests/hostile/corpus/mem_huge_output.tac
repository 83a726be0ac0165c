-- expect: memory_limit|timeout memory|ran out of time
Procedure {
  function(input)
    return { x = string.rep("o", 200 * 1024 * 1024) }
  end
}
