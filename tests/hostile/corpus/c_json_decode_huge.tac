-- expect: runtime entries
-- Building the decoded table is work in the host, out of the hook's reach: it is counted.
Procedure {
  function(input)
    local t = Json.decode("[" .. string.rep("0,", 5000000) .. "0]")
    return { n = #t }
  end
}
