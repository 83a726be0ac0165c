-- expect: memory_limit|timeout memory|ran out of time
Procedure {
  function(input)
    local t = {}
    for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end
  end
}
