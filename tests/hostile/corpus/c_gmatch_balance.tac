-- expect: runtime string.gmatch
Procedure {
  function(input)
    local s = string.rep('(', 100000)
    for x in s:gmatch('%b()%b()') do end
  end
}
