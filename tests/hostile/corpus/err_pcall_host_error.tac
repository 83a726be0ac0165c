-- expect: completed
Procedure {
  function(input)
    local ok, err = pcall(Json.decode, '{')
    assert(type(err) == 'string', 'not a string: ' .. type(err))
    return { err = err }
  end
}
