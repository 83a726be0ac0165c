-- expect: memory_limit tool
-- Tool arguments naming the same 8 MiB text 1,000 times: a small Lua heap, 8 GB copied out.
echo = Tool { function(args) return { n = #args.items } end }
Procedure {
  function(input)
    local big = string.rep("t", 8 * 1024 * 1024)
    local items = {}
    for i = 1, 1000 do items[i] = big end
    return echo({ items = items })
  end
}
