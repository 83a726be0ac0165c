-- expect: completed
Procedure { function(input) return {} end }
