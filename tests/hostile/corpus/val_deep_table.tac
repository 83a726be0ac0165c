-- expect: runtime nested
Procedure {
  function(input)
    local t = {} local cur = t
    for i = 1, 500 do cur.x = {} cur = cur.x end
    State.set('deep', t)
  end
}
