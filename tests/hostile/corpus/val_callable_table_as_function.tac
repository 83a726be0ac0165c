-- expect: declaration lua function
-- A callable table is data to the host: calling it would hand Lua a Python object.
Procedure { setmetatable({}, { __call = function() while true do end end }) }
