-- expect: runtime {"code": 42}
Procedure {
  function(input)
    error({ code = 42 })
  end
}
