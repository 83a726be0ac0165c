-- expect: runtime optional items
Procedure {
  function(input)
    local s = string.rep('a', 40)
    return { m = s:match(string.rep('a?', 40) .. string.rep('a', 40)) }
  end
}
