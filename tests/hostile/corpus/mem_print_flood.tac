-- expect: memory_limit memory limit
Procedure {
  function(input)
    local s = string.rep("p", 60000)
    for i = 1, 100000 do print(s) end
  end
}
