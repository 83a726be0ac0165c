-- expect: timeout ran out of time
while true do end
Procedure { function(input) return {} end }
