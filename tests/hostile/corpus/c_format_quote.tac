-- expect: runtime quoting
-- `%q` escapes byte by byte in C: seconds for a large string of control characters.
Procedure {
  function(input)
    local s = string.rep("\0", 48 * 1024 * 1024)
    return { n = #string.format("%q", s) }
  end
}
