-- The standard library's Lua half: Tool as a namespace, Toolset, the safe `os` subset, Retry,
-- Sleep, Stop, Iterations, System, File, MessageHistory, `python.iter` and the `tactus.io.*`
-- modules. It runs once per Lua state, after the prelude and before the real `os` is removed;
-- everything it needs later is captured here, so procedure code replacing `string.format` or
-- `os` cannot change how these functions behave.

local raw_type, raw_error, raw_tostring, raw_select = type, error, tostring, select
local raw_getmetatable, raw_setmetatable, raw_next, raw_rawget = getmetatable, setmetatable, next, rawget
local raw_ipairs, raw_pairs = ipairs, pairs
local os_date, os_time = os.date, os.time
local math_floor, math_min = math.floor, math.min
local MAX_DATE_FORMAT = 4096
local table_pack, table_unpack, table_concat = table.pack, table.unpack, table.concat

return function(env, dsl, host)
  local where, safe_pcall = dsl.where, dsl.pcall
  local library_call = host.library_call

  -- A function that calls the library with its caller's file:line (found here, not in a
  -- helper: a tail call leaves no frame to count).
  local function library_function(name, fn)
    return function(...)
      local file, line = where(2)
      return library_call(name, fn, file, line, ...)
    end
  end

  -- A table of functions that go to the host's library; any other key is an error.
  local function namespace(name, functions)
    local ns = {}
    for _, fn in raw_ipairs(functions) do
      ns[fn] = library_function(name, fn)
    end
    return raw_setmetatable(ns, {
      __index = function(_, key)
        raw_error(name .. "." .. raw_tostring(key) .. " does not exist; use one of: "
          .. table_concat(functions, ", "), 2)
      end,
    })
  end

  -- `Tool { ... }` and `name = Tool { ... }` declare; `Tool("name")` finds a declared tool;
  -- `Tool.called("name")` and friends read the record of calls by tool name.
  local Tool = namespace("Tool", { "called", "last_result", "last_call", "call_count", "get" })
  raw_getmetatable(Tool).__call = function(_, first, second)
    local file, line = where(2)
    if raw_type(first) == "string" then
      if second ~= nil then return host.declare("tool", first, second, file, line) end
      local existing = host.lookup("tool", first)
      if existing ~= nil then return existing end
      local name = first
      return function(config)
        local body = raw_type(config) == "table"
          and (raw_type(raw_rawget(config, 1)) == "function" or raw_rawget(config, "handler") ~= nil)
        if not body then
          return library_call("Tool", "get", file, line, name)
        end
        return host.declare("tool", name, config, file, line)
      end
    end
    return host.declare("tool", nil, first, file, line)
  end
  env.Tool = Tool

  -- `Procedure { ... }` and `name = Procedure "name" { ... }` declare; `Procedure.run(...)` runs
  -- a procedure of another file (or a named one of this file).
  local Procedure = namespace("Procedure", { "run" })
  raw_getmetatable(Procedure).__call = function(_, first, second)
    local file, line = where(2)
    if raw_type(first) == "string" then
      if second ~= nil then return host.declare("procedure", first, second, file, line) end
      local existing = host.lookup("procedure", first)
      if existing ~= nil then return existing end
      return function(config) return host.declare("procedure", first, config, file, line) end
    end
    return host.declare("procedure", nil, first, file, line)
  end
  env.Procedure = Procedure

  -- `Toolset "name" { ... }`, `Toolset("name", { ... })`, `Toolset("name")` for a declared one.
  env.Toolset = function(first, second)
    local file, line = where(2)
    if raw_type(first) ~= "string" then
      raw_error('Toolset needs a name: Toolset "name" { tools = { ... } }', 2)
    end
    if second ~= nil then return host.declare("toolset", first, second, file, line) end
    local existing = host.lookup("toolset", first)
    if existing ~= nil then return existing end
    return function(config) return host.declare("toolset", first, config, file, line) end
  end

  -- The safe `os` subset. The current time and the CPU clock are read through the host (one
  -- place, so that a run can record and replay them); formatting happens here.
  local function now() return library_call("os", "time", nil, nil) end
  env.os = {
    time = function(date)
      if date == nil then return math_floor(now()) end
      if raw_type(date) ~= "table" then raw_error("os.time expects nothing or a date table", 2) end
      return os_time(date)
    end,
    date = function(format, time)
      if format ~= nil and raw_type(format) ~= "string" then
        raw_error("os.date expects a format string", 2)
      end
      -- Each conversion is a call into C, all of them out of the hook's reach.
      if format ~= nil and #format > MAX_DATE_FORMAT then
        raw_error("os.date: a format of " .. #format .. " bytes is longer than the "
          .. MAX_DATE_FORMAT .. " allowed", 2)
      end
      if time == nil then time = math_floor(now()) end
      if raw_type(time) ~= "number" then raw_error("os.date expects a time in seconds", 2) end
      return os_date(format or "%c", math_floor(time))
    end,
    clock = function() return library_call("os", "clock", nil, nil) end,
  }
  raw_setmetatable(env.os, {
    __index = function(_, key)
      raw_error("os." .. raw_tostring(key) .. " is not available in procedures; use os.time, "
        .. "os.date or os.clock", 2)
    end,
  })

  env.Sleep = library_function("Sleep", "sleep")
  env.Stop = namespace("Stop", { "request", "requested", "reason", "success" })
  env.Iterations = namespace("Iterations", { "current", "exceeded", "increment", "reset" })
  env.System = namespace("System", { "alert" })
  env.File = namespace("File", { "read", "write", "exists", "size" })
  env.MessageHistory = namespace("MessageHistory", {
    "append", "inject_system", "get", "clear", "replace", "reset", "head", "tail", "slice",
    "rewind", "keep_head", "keep_tail",
  })

  -- `Retry.with_backoff(fn, {max_attempts, initial_delay, max_delay, backoff_factor, on_error})`.
  local function option(options, key, default)
    local value = options[key]
    if value == nil then return default end
    if raw_type(value) ~= "number" or value < 0 then
      raw_error("Retry.with_backoff: " .. key .. " must be a number >= 0", 3)
    end
    return value
  end
  local Sleep = env.Sleep
  env.Retry = namespace("Retry", {})
  env.Retry.with_backoff = function(fn, options)
    if raw_type(fn) ~= "function" then
      raw_error("Retry.with_backoff expects a function first", 2)
    end
    options = options or {}
    if raw_type(options) ~= "table" then raw_error("Retry.with_backoff: options must be a table", 2) end
    local attempts = math_floor(option(options, "max_attempts", 3))
    if attempts < 1 then attempts = 1 end
    local delay = option(options, "initial_delay", 1)
    local max_delay = option(options, "max_delay", 60)
    local factor = option(options, "backoff_factor", 2)
    local on_error = options.on_error
    local last_error
    for attempt = 1, attempts do
      local results = table_pack(safe_pcall(fn))
      if results[1] then return table_unpack(results, 2, results.n) end
      last_error = results[2]
      local message = raw_type(last_error) == "string" and last_error or raw_tostring(last_error)
      if raw_type(on_error) == "function" then
        safe_pcall(on_error, { attempt = attempt, max_attempts = attempts, error = message, delay = delay })
      end
      if attempt == attempts then
        raw_error("Retry failed after " .. attempts .. " attempt" .. (attempts == 1 and "" or "s")
          .. ": " .. message, 2)
      end
      if delay > 0 then Sleep(delay) end
      delay = math_min(delay * factor, max_delay)
    end
  end

  -- `python.iter(t)`: iterate a table the way Python iterates its value (a list's items, a
  -- dict's keys). Nothing else of `python` exists.
  local function is_array(t)
    local n = 0
    for _ in raw_pairs(t) do n = n + 1 end
    for i = 1, n do if raw_rawget(t, i) == nil then return false end end
    return true
  end
  env.python = raw_setmetatable({
    iter = function(t)
      if raw_type(t) ~= "table" then raw_error("python.iter expects a table", 2) end
      if is_array(t) then
        local i = 0
        return function()
          i = i + 1
          return raw_rawget(t, i)
        end
      end
      local key = nil
      return function()
        key = raw_next(t, key)
        return key
      end
    end,
  }, {
    __index = function(_, key)
      raw_error("python." .. raw_tostring(key) .. " is not available: procedures have no "
        .. "access to Python (python.iter is the only helper)", 2)
    end,
  })

  -- Human.notify: a log event first, then whatever the run's responder does with it.
  env.Human.notify = library_function("Human", "notify")

  -- Modules `require` finds before the project's own files.
  local modules = {
    ["tactus.io.json"] = namespace("tactus.io.json", { "read", "write", "encode", "decode" }),
    ["tactus.io.csv"] = namespace("tactus.io.csv", { "read", "write" }),
    ["tactus.io.tsv"] = namespace("tactus.io.tsv", { "read", "write" }),
    ["tactus.io.file"] = namespace("tactus.io.file", { "read", "write", "exists" }),
    ["tactus.io.fs"] = namespace("tactus.io.fs", { "list_dir", "glob" }),
  }
  return modules
end
