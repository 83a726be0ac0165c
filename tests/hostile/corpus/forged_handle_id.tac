-- expect: runtime
Procedure {
  function(input)
    local fake = { __tide_handle = 'agent:abc' }
    State.set('h', fake)
  end
}
