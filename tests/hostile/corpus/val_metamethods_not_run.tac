-- expect: completed
-- The host reads what crosses the boundary raw: none of these metamethods runs.
local trap = {
  __index = function() while true do end end,
  __pairs = function() while true do end end,
  __len = function() while true do end end,
  __tostring = function() while true do end end,
}
echo = Tool { function(args) return args end }
Procedure {
  function(input)
    local t = setmetatable({ a = 1 }, trap)
    State.set("k", t)
    Log.info("trap", t)
    echo(t)
    return { s = Json.encode(t), t = t }
  end
}
