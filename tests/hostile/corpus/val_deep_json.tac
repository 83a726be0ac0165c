-- expect: declaration nested
Procedure {
  function(input)
    local v = Json.decode(string.rep('[', 100000) .. string.rep(']', 100000))
  end
}
