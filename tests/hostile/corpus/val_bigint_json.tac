-- expect: runtime 64-bit
Procedure {
  function(input)
    local n = Json.decode('123456789012345678901234567890')
  end
}
