-- expect: memory_limit|timeout memory|ran out of time
Procedure {
  function(input)
    local big = string.rep("j", 150 * 1024 * 1024)
    local s = Json.encode({ a = big })
    return { n = #s }
  end
}
