-- expect: completed
Procedure {
  function(input)
    local t = { name = 't' }
    t.self = t
    State.set('t', t)
    return { name = State.get('t').name }
  end
}
