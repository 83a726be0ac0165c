-- expect: runtime attempt to index
Procedure {
  function(input)
    return { c = Log.info.__class__.__bases__ }
  end
}
