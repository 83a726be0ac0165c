-- expect: memory_limit|timeout memory|ran out of time
Procedure {
  function(input)
    local s = string.rep("p", 60000)
    for i = 1, 100000 do print(s) end
  end
}
