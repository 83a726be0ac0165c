-- expect: memory_limit memory
Procedure {
  function(input)
    local s = string.rep('\u{10FFFF}', 2^30)
    return { n = utf8.len(s) }
  end
}
