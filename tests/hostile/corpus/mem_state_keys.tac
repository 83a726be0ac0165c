-- expect: memory_limit|timeout memory|ran out of time
Procedure {
  function(input)
    local big = string.rep("x", 10 * 1024 * 1024)
    for i = 1, 1000 do State.set("k" .. i, big .. i) end
  end
}
