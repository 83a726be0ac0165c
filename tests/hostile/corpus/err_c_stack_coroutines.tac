-- expect: runtime c stack overflow
Procedure {
  function(input)
    local function f() return coroutine.wrap(f)() end
    return { v = f() }
  end
}
