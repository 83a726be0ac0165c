-- expect: load UTF-8
Procedure { function(input) return { s = 'ÿ' } end }
