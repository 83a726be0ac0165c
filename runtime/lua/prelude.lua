-- The sandbox's trusted set-up. It runs once per Lua state with the full standard library,
-- captures what it needs in locals, and returns a function that builds the environment that
-- procedure code sees. Procedure code never gets `debug`, `load`, `os`, `io`, `package` or
-- `collectgarbage`; it reaches Python only through the `host` functions wrapped here.

local debug_sethook, debug_getinfo = debug.sethook, debug.getinfo
local raw_load, raw_error, raw_pcall, raw_xpcall = load, error, pcall, xpcall
local raw_select, raw_type, raw_setmetatable, raw_rawget = select, type, setmetatable, rawget
local raw_rawset, raw_pairs, raw_tostring = rawset, pairs, tostring
local co_create, co_resume, co_status, co_close = coroutine.create, coroutine.resume, coroutine.status, coroutine.close
local table_pack, table_unpack = table.pack, table.unpack
-- The pattern guard must not depend on anything procedure code can replace (`string.sub = ...`
-- would otherwise blind it and let an unguarded match run in C, out of the hook's reach).
local str_sub, str_find, str_format = string.sub, string.find, string.format

return function(host, hook_count)
  local aborted = host.aborted
  -- What a stopped run raises. It is raised from Lua, not from Python: raising a Python
  -- exception through Lua while its memory is exhausted deadlocks, and the value exists
  -- already, so raising it allocates nothing. The Python side asks the sandbox why it stopped.
  local STOPPED = raw_setmetatable({}, { __tostring = function() return "the run was stopped" end })

  -- A count hook asks Python whether the run was cancelled or is out of time, and raises if so.
  -- Once tripped it raises on every call, so a `pcall` that swallows one error cannot keep going.
  local function hook() if aborted() then raw_error(STOPPED, 0) end end
  debug_sethook(hook, "", hook_count)

  -- After any caught error, re-raise if the run has been stopped: user code must not be able to
  -- catch a cancellation, a time-out, or running out of memory.
  local function rethrow_if_stopped(ok, ...)
    if not ok then
      local err = ...
      if err == "not enough memory" then host.out_of_memory() end
      if aborted() then raw_error(STOPPED, 0) end
    end
    return ok, ...
  end

  local function safe_pcall(f, ...)
    return rethrow_if_stopped(raw_pcall(f, ...))
  end

  local function safe_xpcall(f, handler, ...)
    return rethrow_if_stopped(raw_xpcall(f, handler, ...))
  end

  -- Hooks are per coroutine: every coroutine gets the same one.
  local function co_create_hooked(f)
    local co = co_create(f)
    debug_sethook(co, hook, "", hook_count)
    return co
  end

  local function safe_resume(co, ...)
    return rethrow_if_stopped(co_resume(co, ...))
  end

  local function co_wrap_hooked(f)
    local co = co_create_hooked(f)
    return function(...)
      local results = table_pack(safe_resume(co, ...))
      if results[1] then return table_unpack(results, 2, results.n) end
      if co_status(co) == "dead" and co_close then co_close(co) end
      raw_error(results[2], 0)
    end
  end

  local safe_coroutine = {
    create = co_create_hooked,
    wrap = co_wrap_hooked,
    resume = safe_resume,
    yield = coroutine.yield,
    status = coroutine.status,
    running = coroutine.running,
    isyieldable = coroutine.isyieldable,
    close = coroutine.close,
  }

  -- Where the caller of a DSL function is, as (file, line): errors and logs name it.
  local function where(level)
    local info = debug_getinfo(level + 1, "Sl")
    if info and info.currentline and info.currentline > 0 then
      return info.short_src, info.currentline
    end
    return nil, nil
  end


  -- Lua's pattern matcher is C code that a hook cannot interrupt, and some patterns take time
  -- exponential in their number of repetitions. Refuse a match whose worst case is too large.
  local PATTERN_BUDGET = host.pattern_budget
  local pattern_cost = raw_setmetatable({}, { __mode = "k" })
  local function repetitions(pattern)
    local cached = pattern_cost[pattern]
    if cached then return cached end
    local count, i, n, last_quantified = 0, 1, #pattern, nil
    while i <= n do
      local c = str_sub(pattern, i, i)
      local item_end = i
      if c == "%" then
        local nxt = str_sub(pattern, i + 1, i + 1)
        if nxt == "b" then item_end = i + 3
        elseif nxt == "f" then
          local close = str_find(pattern, "]", i + 3, true)
          item_end = close or n
        else item_end = i + 1 end
      elseif c == "[" then
        local j = i + 1
        if str_sub(pattern, j, j) == "^" then j = j + 1 end
        if str_sub(pattern, j, j) == "]" then j = j + 1 end
        while j <= n and str_sub(pattern, j, j) ~= "]" do
          if str_sub(pattern, j, j) == "%" then j = j + 1 end
          j = j + 1
        end
        item_end = j
      end
      local q = str_sub(pattern, item_end + 1, item_end + 1)
      if q == "*" or q == "+" or q == "-" then
        count = count + 1
        last_quantified = item_end + 1
        i = item_end + 2
      else
        i = item_end + 1
      end
    end
    -- A greedy repetition at the very end settles at once: it does not multiply the work.
    if last_quantified then
      local q = str_sub(pattern, last_quantified, last_quantified)
      local rest = str_sub(pattern, last_quantified + 1)
      if (q == "*" or q == "+") and (rest == "" or rest == "$") then count = count - 1 end
    end
    pattern_cost[pattern] = count
    return count
  end
  local function guard(name, fn, anchored_ok)
    return function(s, pattern, ...)
      local plain = name == "find" and raw_select(2, ...)
      if not plain and raw_type(s) == "string" and raw_type(pattern) == "string" then
        local k = repetitions(pattern)
        if k > 0 then
          local size = #s + 1
          local cost = size ^ k
          if not (anchored_ok and str_sub(pattern, 1, 1) == "^") then cost = cost * size end
          if cost > PATTERN_BUDGET then
            raw_error(str_format("string.%s: pattern %q has %d repetitions, too many for a "
              .. "%d-character string (it could run for a very long time); simplify the pattern "
              .. "or split the string", name, pattern, k, #s), 2)
          end
        end
      end
      return fn(s, pattern, ...)
    end
  end
  string.find = guard("find", string.find, true)
  string.match = guard("match", string.match, true)
  string.gmatch = guard("gmatch", string.gmatch, false)
  string.gsub = guard("gsub", string.gsub, true)
  string.dump = nil

  local env = {}
  for _, name in ipairs({
    "assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawlen", "rawset",
    "select", "getmetatable", "tonumber", "tostring", "type", "_VERSION",
  }) do
    env[name] = _G[name]
  end
  -- A `__gc` finalizer runs whenever the collector gets to it: after a run has been stopped,
  -- or when the Lua state is closed, where no hook can stop it. Procedures do not get them.
  env.setmetatable = function(t, mt)
    if raw_type(mt) == "table" and raw_rawget(mt, "__gc") ~= nil then
      raw_error("setmetatable: __gc metamethods are not available in procedures", 2)
    end
    return raw_setmetatable(t, mt)
  end
  env.pcall = safe_pcall
  env.xpcall = safe_xpcall
  env.coroutine = safe_coroutine
  env.string = string
  env.table = table
  env.math = math
  env.utf8 = utf8
  env._G = env
  env.print = function(...)
    local parts = {}
    for i = 1, raw_select("#", ...) do parts[i] = raw_tostring((raw_select(i, ...))) end
    local file, line = where(2)
    host.log("info", table.concat(parts, "\t"), nil, file, line)
  end

  -- Handles: what Agent{}, Tool{} and Procedure{} return. Calling one goes to Python; the
  -- metatable is locked so procedure code cannot rewire it.
  local handles = raw_setmetatable({}, { __mode = "k" })

  local function make_handle(kind, id, methods)
    local index = {}
    for _, method in ipairs(methods) do
      index[method] = function(...)
        local args = table_pack(...)
        local first = 1
        -- `tool.called()` and `tool:called()` both work.
        if args.n > 0 and handles[args[1]] then first = 2 end
        return host.handle_method(kind, id, method, table_unpack(args, first, args.n))
      end
    end
    local handle = raw_setmetatable({}, {
      __index = index,
      __newindex = function() raw_error("cannot assign into a " .. kind .. " handle", 2) end,
      __call = function(_, ...)
        local file, line = where(2)
        return host.call(kind, id, file, line, ...)
      end,
      __tostring = function() return kind .. " " .. host.handle_name(kind, id) end,
      __metatable = false,
    })
    raw_rawset(handle, "__tide_handle", kind .. ":" .. id)
    handles[handle] = true
    return handle
  end

  local function declarer(kind)
    -- Supports `Agent { ... }`, `Agent "name" { ... }`, `Agent("name", { ... })`, and
    -- `Agent("name")` for an agent declared before.
    return function(first, second)
      local file, line = where(2)
      if raw_type(first) == "string" then
        if second ~= nil then return host.declare(kind, first, second, file, line) end
        local existing = host.lookup(kind, first)
        if existing ~= nil then return existing end
        return function(config) return host.declare(kind, first, config, file, line) end
      end
      return host.declare(kind, nil, first, file, line)
    end
  end

  -- Globals that hold a handle are named after the variable (`writer = Agent {...}`).
  raw_setmetatable(env, {
    __newindex = function(t, key, value)
      if handles[value] and raw_type(key) == "string" then
        local kind, id = host.parse_handle(raw_rawget(value, "__tide_handle"))
        host.name_handle(kind, id, key)
      end
      raw_rawset(t, key, value)
    end,
  })

  local field = {}
  for _, kind in ipairs({ "string", "number", "integer", "boolean", "array", "object" }) do
    field[kind] = function(options)
      local spec = { __tide_kind = "field", type = kind }
      if options ~= nil then
        if raw_type(options) ~= "table" then
          raw_error("field." .. kind .. " takes a table of options, e.g. field." .. kind .. "{required = true}", 2)
        end
        for k, v in raw_pairs(options) do spec[k] = v end
      end
      return spec
    end
  end
  -- Evaluator settings for Evaluations { evaluators = {...} }, written like fields.
  for _, kind in ipairs({ "equals_expected", "min_length", "contains" }) do
    field[kind] = function(options)
      local spec = { type = kind }
      if raw_type(options) == "table" then
        for k, v in raw_pairs(options) do spec[k] = v end
      end
      return spec
    end
  end
  raw_setmetatable(field, {
    __index = function(_, key)
      raw_error("unknown field type 'field." .. raw_tostring(key)
        .. "'; use one of: string, number, integer, boolean, array, object", 2)
    end,
  })
  env.field = field

  -- `input {...}` / `output {...}` declare a script's schema; `input.x` reads a value.
  local input_values = {}
  env.input = raw_setmetatable({}, {
    __call = function(_, spec)
      local file, line = where(2)
      host.declare("input", nil, spec, file, line)
    end,
    __index = input_values,
  })
  env.output = raw_setmetatable({}, {
    __call = function(_, spec)
      local file, line = where(2)
      host.declare("output", nil, spec, file, line)
    end,
  })

  local function namespace(name, functions)
    local ns = {}
    for _, fn in ipairs(functions) do
      ns[fn] = function(...)
        local file, line = where(2)
        return host.namespace_call(name, fn, file, line, ...)
      end
    end
    return raw_setmetatable(ns, {
      __index = function(_, key)
        raw_error(name .. "." .. raw_tostring(key) .. " does not exist; use one of: "
          .. table.concat(functions, ", "), 2)
      end,
    })
  end

  env.Log = namespace("Log", { "debug", "info", "warn", "warning", "error" })
  env.State = namespace("State", { "get", "set", "increment", "append", "all", "clear" })
  env.Human = namespace("Human", { "approve", "input", "review", "select", "notify", "escalate" })
  env.Json = namespace("Json", { "encode", "decode" })
  env.unpack = table_unpack
  -- `state.key` reads and `state.key = value` writes the same store as State.get/set.
  local State = env.State
  env.state = raw_setmetatable({}, {
    __index = function(_, key) return State.get(key) end,
    __newindex = function(_, key, value) State.set(key, value) end,
  })
  env.Agent = declarer("agent")
  env.Tool = declarer("tool")
  env.Procedure = declarer("procedure")
  env.Mocks = declarer("mocks")
  env.Model = declarer("model")
  env.Classify = declarer("classifier")
  env.Evaluation = declarer("evaluation")
  env.Evaluations = declarer("evaluations")
  -- `Specification [[ ... ]]`: the string is the Gherkin text, not a name to declare under.
  env.Specification = function(text, more)
    local file, line = where(2)
    return host.declare("specification", text, more, file, line)
  end
  env.Specifications = env.Specification
  env.Step = declarer("step")

  local modules = {}
  env.require = function(name)
    if raw_type(name) ~= "string" then raw_error("require expects a module name", 2) end
    local cached = modules[name]
    if cached ~= nil then return cached end
    local builtin = host.builtin_module(name)
    if builtin ~= nil then
      modules[name] = builtin
      return builtin
    end
    local source, chunkname = host.module_source(name)
    local chunk, err = raw_load(source, chunkname, "t", env)
    if not chunk then raw_error(err, 0) end
    local value = chunk(name)
    if value == nil then value = true end
    modules[name] = value
    return value
  end

  local api = {}
  function api.compile(source, chunkname)
    -- Text only: binary chunks could break the VM's invariants.
    return raw_load(source, chunkname, "t", env)
  end
  api.make_handle = make_handle
  api.set_inputs = function(values)
    for k in raw_pairs(input_values) do input_values[k] = nil end
    for k, v in raw_pairs(values) do input_values[k] = v end
  end
  api.is_handle = function(value) return handles[value] == true end
  return env, api
end
