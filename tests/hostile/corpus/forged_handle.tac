-- expect: runtime attempt to call
Procedure {
  function(input)
    local fake = { __tide_handle = 'agent:999' }
    State.set('h', fake)
    local h = State.get('h')
    h()
  end
}
