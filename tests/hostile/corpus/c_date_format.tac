-- expect: runtime os.date
-- Each conversion of a date format is a call into C: millions of them are seconds unstopped.
Procedure {
  function(input)
    return { n = #os.date(string.rep("%c", 8 * 1024 * 1024)) }
  end
}
