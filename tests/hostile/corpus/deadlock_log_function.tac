-- expect: completed
Log.info("top", { on_done = function() end })
Procedure {
  function(input)
    Log.info("x", { on_done = function() end, co = coroutine.create(print) })
    return {}
  end
}
