-- expect: completed
Procedure {
  function(input)
    State.set('f', { fn = print, co = coroutine.create(print) })
    return { f = State.get('f').fn }
  end
}
