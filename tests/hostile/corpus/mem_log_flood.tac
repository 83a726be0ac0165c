-- expect: memory_limit|timeout memory|ran out of time
Procedure {
  function(input)
    local s = string.rep("z", 60000)
    for i = 1, 100000 do Log.info(s, { again = s }) end
  end
}
