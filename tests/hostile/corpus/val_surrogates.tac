-- expect: completed
Procedure {
  function(input)
    return { a = "\u{D800}", b = "\xff\xfe", c = Json.decode('"\\udc00"') }
  end
}
