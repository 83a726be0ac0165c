-- expect: runtime string.gsub
Procedure {
  function(input)
    local s = string.rep('a', 5000)
    return { n = select(2, s:gsub('.-.-.-b', '')) }
  end
}
