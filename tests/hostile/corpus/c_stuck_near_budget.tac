-- expect: timeout ran out of time
Procedure {
  function(input)
    local s = string.rep("a", 14000)
    for i = 1, 1000 do s:find(".-b") end
  end
}
