-- expect: memory_limit|timeout memory|ran out of time
echo = Tool { function(args) return { n = #args.text } end }
Procedure {
  function(input)
    local big = string.rep("t", 8 * 1024 * 1024)
    for i = 1, 1000 do echo({ text = big .. i }) end
  end
}
