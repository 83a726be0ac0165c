-- expect: completed
noisy = Tool { function(args) Log.warn("in tool", { cb = function() end }) return {} end }
Procedure {
  function(input)
    noisy({})
    return {}
  end
}
