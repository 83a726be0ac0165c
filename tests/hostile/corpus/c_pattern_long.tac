-- expect: runtime string.find
Procedure {
  function(input)
    local s = string.rep('a', 2^22)
    return { m = s:find(string.rep('a', 2^20) .. 'b') }
  end
}
