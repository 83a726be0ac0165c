-- expect: memory_limit memory
Procedure {
  function(input)
    local s = 'x'
    while true do s = s .. s end
  end
}
