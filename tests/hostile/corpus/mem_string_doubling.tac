-- expect: memory_limit|timeout memory|ran out of time
Procedure {
  function(input)
    local s = 'x'
    while true do s = s .. s end
  end
}
