-- expect: timeout ran out of time
Procedure {
  function(input)
    while true do pcall(function()
    local s = string.rep("a", 14000)
    for i = 1, 1000 do s:find(".-b") end
    end) end
  end
}
