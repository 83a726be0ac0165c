-- expect: runtime c stack overflow
Procedure {
  function(input)
    local s = string.rep("a", 1000)
    local function f(c) return (string.gsub(s, "a", f)) end
    return { s = f("a") }
  end
}
