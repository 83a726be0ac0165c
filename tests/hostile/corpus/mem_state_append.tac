-- expect: memory_limit|timeout memory|ran out of time
Procedure {
  function(input)
    local big = string.rep("x", 1024 * 1024)
    for i = 1, 1000 do State.append("list", big .. i) end
  end
}
