-- expect: runtime string.find
Procedure {
  function(input)
    local s = string.rep('a', 100000)
    return { m = s:find('(a*)%1%1b') }
  end
}
