-- expect: runtime comparison function
Procedure {
  function(input)
    local t = {3, 1, 2, 5}
    while #t < 2^19 do table.move(t, 1, #t, #t + 1) end
    table.sort(t)
  end
}
