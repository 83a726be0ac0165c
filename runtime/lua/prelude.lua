-- The sandbox's trusted set-up. It runs once per Lua state with the full standard library,
-- captures what it needs in locals, and returns a function that builds the environment that
-- procedure code sees. Procedure code never gets `debug`, `load`, `os`, `io`, `package` or
-- `collectgarbage`; it reaches Python only through the `host` functions wrapped here.

local debug_sethook, debug_gethook, debug_getinfo = debug.sethook, debug.gethook, debug.getinfo
local debug_getmetatable, math_tointeger, raw_tonumber = debug.getmetatable, math.tointeger, tonumber
local raw_load, raw_error, raw_pcall, raw_xpcall = load, error, pcall, xpcall
local raw_select, raw_type, raw_setmetatable, raw_rawget = select, type, setmetatable, rawget
local raw_rawset, raw_pairs, raw_tostring = rawset, pairs, tostring
local co_create, co_resume, co_status, co_close = coroutine.create, coroutine.resume, coroutine.status, coroutine.close
local table_pack, table_unpack = table.pack, table.unpack
-- The pattern guard must not depend on anything procedure code can replace (`string.sub = ...`
-- would otherwise blind it and let an unguarded match run in C, out of the hook's reach).
local str_sub, str_find, str_format = string.sub, string.find, string.format

return function(control, calls, hook_count)
  local aborted, ticked = control.aborted, control.ticked
  local PRELUDE_SOURCE = debug_getinfo(1, "S").source
  local PRELUDE_PREFIX = debug_getinfo(1, "S").short_src .. ":"
  -- What a stopped run raises. It is raised from Lua, not from Python: raising a Python
  -- exception through Lua while its memory is exhausted deadlocks, and the value exists
  -- already, so raising it allocates nothing. The Python side asks the sandbox why it stopped.
  local STOPPED = raw_setmetatable({}, { __tostring = function() return "the run was stopped" end })

  -- "file:line: " of the innermost procedure code on the stack (not the prelude, not C).
  local function user_location()
    local level = 2
    while true do
      local info = debug_getinfo(level, "Sl")
      if not info then return "" end
      if info.source ~= PRELUDE_SOURCE and info.what ~= "C" and (info.currentline or 0) > 0 then
        return info.short_src .. ":" .. info.currentline .. ": "
      end
      level = level + 1
    end
  end

  -- Host functions never raise into Lua: they return `true, results...`, or `false, message,
  -- located` for a failure (`false` alone: the run is being stopped). The error Lua sees is a
  -- string naming the procedure's file:line, never a Python object.
  local function settle(ok, ...)
    if ok then return ... end
    local message, located = ...
    if message == nil then raw_error(STOPPED, 0) end
    if not located then message = user_location() .. message end
    raw_error(message, 0)
  end
  local host = {}
  for name, fn in raw_pairs(calls) do
    host[name] = function(...) return settle(fn(...)) end
  end
  host.out_of_memory = control.out_of_memory

  -- A count hook asks Python whether the run was cancelled or is out of time, and raises if so.
  -- Once tripped it raises on every call, so a `pcall` that swallows one error cannot keep going.
  -- Where the procedure was when the run was stopped, for the error to name.
  -- Written here, read by Python as a plain table (calling Lua then could trip the hook).
  local location = control.location
  local function note_stop()
    -- 1 is this function, 2 `pcall`, 3 the hook, 4 the code it interrupted.
    local info = debug_getinfo(4, "Sl")
    if info and info.source ~= PRELUDE_SOURCE and (info.currentline or 0) > 0 then
      location.stop_file, location.stop_line = info.short_src, info.currentline
    end
  end
  -- Where procedure code was at the latest tick. Running out of memory unwinds the stack
  -- before anything can look at it (Lua calls no message handler for that error), so this is
  -- the line a memory error names. Each call from Python ticks early once (FIRST_TICK
  -- instructions), so that code that fills the memory at once is located too.
  local FIRST_TICK = 64
  local LARGE_RESULT = 1024 * 1024
  -- Notes the innermost frame of procedure code from `level` on: of the coroutine `co` (a
  -- coroutine that ran out of memory keeps its stack: where it was is known exactly), or of
  -- the code running now (levels counted from the caller of this function).
  local function procedure_frame(co, level)
    for _ = 1, 10 do
      local info
      if co then info = debug_getinfo(co, level, "Sl") else info = debug_getinfo(level + 1, "Sl") end
      if not info then return nil, nil end
      if info.source ~= PRELUDE_SOURCE and info.what ~= "C" and (info.currentline or 0) > 0 then
        return info.short_src, info.currentline
      end
      level = level + 1
    end
    return nil, nil
  end
  local function note_tick(co, level)
    local file, line = procedure_frame(co, co and level or level + 1)
    if file then location.tick_file, location.tick_line = file, line end
    return file, line
  end
  local function hook()
    -- Python keeps the tick's place too: it can tell where the code is stuck while a call
    -- into C holds this state (`aborted` as well, in the same call).
    if ticked(note_tick(nil, 2)) then  -- 1 is this hook, 2 the code it interrupted
      if not location.stop_file then raw_pcall(note_stop) end
      raw_error(STOPPED, 0)
    end
    local _, _, count = debug_gethook()
    if count ~= hook_count then debug_sethook(hook, "", hook_count) end
  end
  debug_sethook(hook, "", hook_count)

  -- After any caught error, re-raise if the run has been stopped: user code must not be able to
  -- catch a cancellation, a time-out, or running out of memory.
  local function rethrow_if_stopped(ok, ...)
    if not ok then
      local err = ...
      if err == "not enough memory" then control.out_of_memory() end
      if aborted() then raw_error(STOPPED, 0) end
    end
    return ok, ...
  end

  local function safe_pcall(f, ...)
    return rethrow_if_stopped(raw_pcall(f, ...))
  end

  -- Lua calls a message handler before it unwinds, and with hooks off when the error came from
  -- the hook: a procedure's handler must not run once the run is stopped (it could loop for
  -- good), and an error raised in it calls it again, which then answers at once.
  local function safe_xpcall(f, handler, ...)
    local function guarded(err)
      if err == STOPPED or aborted() then return STOPPED end
      return handler(err)
    end
    return rethrow_if_stopped(raw_xpcall(f, guarded, ...))
  end

  -- Hooks are per coroutine: every coroutine gets the same one.
  local function co_create_hooked(f)
    local co = co_create(f)
    debug_sethook(co, hook, "", hook_count)
    return co
  end

  local function located_resume(co, ok, ...)
    if not ok and ... == "not enough memory" then raw_pcall(note_tick, co, 0) end
    return ok, ...
  end

  local function safe_resume(co, ...)
    return rethrow_if_stopped(located_resume(co, co_resume(co, ...)))
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


  -- Lua's C library runs each call to its end: the hook cannot interrupt `string.rep`, a
  -- pattern match or `table.move`. Every such function that can be asked for unbounded work is
  -- wrapped here, and refuses before the call a request whose worst case is too large.
  local LIMITS = control.limits
  local PATTERN_BUDGET, MAX_BYTES, MAX_ITEMS = LIMITS.pattern_budget, LIMITS.max_bytes, LIMITS.max_items
  local MAX_FORMAT = LIMITS.max_format

  local function refuse(message, ...)
    raw_error(user_location() .. str_format(message, ...), 0)
  end

  -- The pattern guard: worst-case steps of a match. A repetition (`*`, `+`, `-`), a balance
  -- (`%b`) or a back-reference (`%1`) can each take time proportional to the subject; an
  -- optional item (`?`) doubles the alternatives tried; an unanchored pattern is tried at
  -- every position; a pattern without repetitions costs its own length at each position.
  local pattern_cost = raw_setmetatable({}, { __mode = "k" })
  -- The literal character a pattern's item at `i` matches, if it is one (skipping captures).
  local function literal_at(pattern, i)
    while true do
      local c = str_sub(pattern, i, i)
      if c ~= "(" and c ~= ")" then break end
      i = i + 1
    end
    local c = str_sub(pattern, i, i)
    if c == "%" then
      local nxt = str_sub(pattern, i + 1, i + 1)
      if nxt ~= "" and not str_find(nxt, "^%w$") then return nxt end
      return nil
    end
    if c == "" or str_find(c, "^[%^%$%*%+%?%.%[%-]$") then return nil end
    local q = str_sub(pattern, i + 1, i + 1)
    if q == "*" or q == "-" or q == "?" then return nil end
    return c
  end

  local function pattern_shape(pattern)
    local cached = pattern_cost[pattern]
    if cached then return cached[1], cached[2] end
    local growing, optional, i, n, last_quantified = 0, 0, 1, #pattern, nil
    -- Repetitions followed by a character they cannot match can end in one place only: all of
    -- them together scan the subject once, whatever their number.
    local separated = 0
    if str_sub(pattern, 1, 1) == "^" then i = 2 end
    while i <= n do
      local c = str_sub(pattern, i, i)
      local item_end = i
      if c == "%" then
        local nxt = str_sub(pattern, i + 1, i + 1)
        if nxt == "b" then
          item_end = i + 3
          growing = growing + 1
        elseif nxt == "f" then
          local j = i + 3
          if str_sub(pattern, j, j) == "^" then j = j + 1 end
          if str_sub(pattern, j, j) == "]" then j = j + 1 end
          while j <= n and str_sub(pattern, j, j) ~= "]" do
            if str_sub(pattern, j, j) == "%" then j = j + 1 end
            j = j + 1
          end
          item_end = j
        else
          if str_find(nxt, "^%d$") then growing = growing + 1 end
          item_end = i + 1
        end
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
        local follower = literal_at(pattern, item_end + 2)
        if follower and not str_find(follower, "^" .. str_sub(pattern, i, item_end)) then
          separated = 1
        else
          growing = growing + 1
          last_quantified = item_end + 1
        end
        i = item_end + 2
      elseif q == "?" then
        optional = optional + 1
        i = item_end + 2
      else
        i = item_end + 1
      end
    end
    -- A greedy repetition with nothing but closing captures after it settles at once.
    if last_quantified then
      local q = str_sub(pattern, last_quantified, last_quantified)
      local rest = str_sub(pattern, last_quantified + 1)
      if (q == "*" or q == "+") and str_find(rest, "^%)*%$?$") then growing = growing - 1 end
    end
    growing = growing + separated
    pattern_cost[pattern] = { growing, optional }
    return growing, optional
  end

  local function guard(name, fn, anchored_ok)
    return function(s, pattern, init, plain, ...)
      if raw_type(s) == "number" then s = raw_tostring(s) end
      if raw_type(pattern) == "number" then pattern = raw_tostring(pattern) end
      if raw_type(s) == "string" and raw_type(pattern) == "string"
        and not (name == "find" and plain) then
        local growing, optional = pattern_shape(pattern)
        local size = #s + 1
        local cost = size ^ growing * 2 ^ optional
        if growing == 0 then cost = cost * (#pattern + 1) end
        if not (anchored_ok and str_sub(pattern, 1, 1) == "^") then cost = cost * size end
        if cost > PATTERN_BUDGET then
          local shown = #pattern > 60 and (str_sub(pattern, 1, 57) .. "...") or pattern
          refuse("string.%s: pattern %q could take too long on a %d-byte string (%d "
            .. "repetitions, %d optional items, %d bytes); simplify the pattern or split the "
            .. "string", name, shown, #s, growing, optional, #pattern)
        end
      end
      return fn(s, pattern, init, plain, ...)
    end
  end
  string.find = guard("find", string.find, true)
  string.match = guard("match", string.match, true)
  string.gmatch = guard("gmatch", string.gmatch, false)
  string.gsub = guard("gsub", string.gsub, true)

  local raw_rep = string.rep
  string.rep = function(s, n, sep)
    if raw_type(n) == "number" and (raw_type(s) == "string" or raw_type(s) == "number") then
      if n ~= n or n < 1 then return "" end
      local piece = #raw_tostring(s)
      if sep ~= nil and (raw_type(sep) == "string" or raw_type(sep) == "number") then
        piece = piece + #raw_tostring(sep)
      end
      -- An empty result takes no memory but as many steps as `n`: answer it here.
      if piece == 0 then return "" end
      -- The procedure's line (its caller may be C, or gone: `return string.rep(...)`).
      local file, line = nil, nil
      if n * piece >= LARGE_RESULT then file, line = procedure_frame(nil, 1) end
      -- Larger than the whole memory limit: it would run out of memory, so it does now.
      if n * piece > MAX_BYTES then
        if file then location.stop_file, location.stop_line = file, line end
        control.out_of_memory()
        raw_error(STOPPED, 0)
      end
      -- A large result is where the memory may run out next (here, or where it is copied).
      if file then location.tick_file, location.tick_line = file, line end
    end
    return raw_rep(s, n, sep)
  end

  -- What reading (`__index`) or writing (`__newindex`) one element of `t` costs C, counted in
  -- plain reads: C follows a chain of tables by itself, and runs a metamethod written in C
  -- (`__index = tostring`) without the hook. A metamethod written in Lua is the hook's.
  local function access_cost(t, event)
    local cost = 1
    for _ = 1, 100 do
      local mt = debug_getmetatable(t)
      local m = raw_type(mt) == "table" and raw_rawget(mt, event) or nil
      if m == nil then return cost end
      if raw_type(m) ~= "table" then
        if raw_type(m) == "function" and debug_getinfo(m, "S").what ~= "C" then return cost end
        return cost + 32
      end
      cost, t = cost + 1, m
    end
    return cost + 2000  -- as long a chain as Lua follows
  end
  local function span(first, last, what, cost)
    -- C reads "1e15" as a number too; the difference is taken in floats, which do not wrap.
    first, last = raw_tonumber(first), raw_tonumber(last)
    if raw_type(first) ~= "number" or raw_type(last) ~= "number" then return end
    local count = (last + 0.0) - first + 1
    cost = cost or 1
    if count * cost > MAX_ITEMS then
      if cost == 1 then
        refuse("%s: %.0f elements is more than a procedure may handle in one call (%d)",
          what, count, MAX_ITEMS)
      end
      refuse("%s: %.0f elements read through metamethods is more than a procedure may handle "
        .. "in one call (%d)", what, count, MAX_ITEMS // cost)
    end
  end
  local raw_move, raw_concat, raw_unpack = table.move, table.concat, table.unpack
  table.move = function(a1, f, e, t, a2)
    local cost = 1
    if raw_type(a1) == "table" then cost = access_cost(a1, "__index") end
    local target = a2 == nil and a1 or a2
    if raw_type(target) == "table" then cost = cost + access_cost(target, "__newindex") - 1 end
    span(f, e, "table.move", cost)
    return raw_move(a1, f, e, t, a2)
  end
  -- The length is read once, here: a `__len` metamethod could answer C's own reading with a
  -- larger one.
  table.concat = function(list, sep, i, j)
    if raw_type(list) == "table" then
      i, j = i or 1, j or #list
      span(i, j, "table.concat", access_cost(list, "__index"))
    end
    return raw_concat(list, sep, i, j)
  end
  table.unpack = function(list, i, j)
    if raw_type(list) == "table" then
      i, j = i or 1, j or #list
      span(i, j, "table.unpack", access_cost(list, "__index"))
    end
    return raw_unpack(list, i, j)
  end
  -- `table.insert(t, pos, v)` and `table.remove(t, pos)` shift every element after `pos` in C,
  -- as many as the length says, and a `__len` metamethod may claim any length: a table with
  -- one is shifted here, in Lua, where the hook reaches, with its length read once.
  local raw_insert, raw_remove = table.insert, table.remove
  local function claimed_length(list, what)
    local mt = debug_getmetatable(list)
    if raw_type(mt) ~= "table" or raw_rawget(mt, "__len") == nil then return nil end
    local n = math_tointeger(#list)
    if n == nil then raw_error("object length is not an integer", 3) end
    return n
  end
  local function position(value, what)
    local pos = math_tointeger(raw_tonumber(value))
    if pos == nil then
      raw_error("bad argument #2 to '" .. what .. "' (number has no integer representation)", 3)
    end
    return pos
  end
  table.insert = function(list, ...)
    local size = raw_select("#", ...) == 2 and raw_type(list) == "table" and claimed_length(list)
    if not size then return raw_insert(list, ...) end
    local pos, value = ...
    pos = position(pos, "insert")
    if pos < 1 or pos > size + 1 then
      raw_error("bad argument #2 to 'insert' (position out of bounds)", 2)
    end
    span(pos, size, "table.insert")
    for k = size + 1, pos + 1, -1 do list[k] = list[k - 1] end
    list[pos] = value
  end
  table.remove = function(list, ...)
    local size = raw_type(list) == "table" and claimed_length(list)
    if not size then return raw_remove(list, ...) end
    local pos = size
    if raw_select("#", ...) > 0 and (...) ~= nil then pos = position((...), "remove") end
    if pos ~= size and (pos < 1 or pos > size + 1) then
      raw_error("bad argument #2 to 'remove' (position out of bounds)", 2)
    end
    span(pos, size, "table.remove")
    local value = list[pos]
    for k = pos, size - 1 do list[k] = list[k + 1] end
    list[pos < size and size or pos] = nil
    return value
  end
  local raw_sort = table.sort
  -- Sorting without a comparison function compares in C, out of the hook's reach.
  local MAX_C_SORT = LIMITS.max_c_sort
  table.sort = function(list, comp)
    if raw_type(list) == "table" then
      local n = #list
      span(1, n, "table.sort", access_cost(list, "__index") + access_cost(list, "__newindex") - 1)
      if comp == nil and n > MAX_C_SORT then
        refuse("table.sort: sorting %d elements without a comparison function is more than a "
          .. "procedure may do in one call (%d); pass one, e.g. function(a, b) return a < b end",
          n, MAX_C_SORT)
      end
      -- A comparison written in C (`rawequal`, a table's `__call`) is out of the hook's reach too.
      if n > MAX_C_SORT and (raw_type(comp) ~= "function" or debug_getinfo(comp, "S").what == "C") then
        refuse("table.sort: sorting %d elements with a comparison that is not a Lua function is "
          .. "more than a procedure may do in one call (%d); pass a Lua function", n, MAX_C_SORT)
      end
    end
    return raw_sort(list, comp)
  end

  -- `string.pack` formats: the work is one step per format item, and sizes are read from it.
  for _, name in ipairs({ "pack", "unpack", "packsize" }) do
    local raw = string[name]
    string[name] = function(fmt, ...)
      if raw_type(fmt) == "string" and #fmt > MAX_FORMAT then
        refuse("string.%s: a %d-byte format is longer than the %d bytes allowed", name, #fmt, MAX_FORMAT)
      end
      return raw(fmt, ...)
    end
  end
  local raw_format = string.format
  -- `%q` escapes byte by byte in C: about 50 ns a byte at worst, seconds for a large string.
  local MAX_QUOTED = LIMITS.max_quoted
  string.format = function(fmt, ...)
    if raw_type(fmt) == "string" then
      if #fmt > MAX_BYTES then
        refuse("string.format: the format is larger than the run's memory limit")
      end
      if str_find(fmt, "%q", 1, true) then
        local quoted = 0
        for i = 1, raw_select("#", ...) do
          local arg = raw_select(i, ...)
          if raw_type(arg) == "string" then quoted = quoted + #arg end
        end
        if quoted > MAX_QUOTED then
          refuse("string.format: quoting %d bytes with %%q is more than a procedure may do in "
            .. "one call (%d)", quoted, MAX_QUOTED)
        end
      end
    end
    return raw_format(fmt, ...)
  end
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
      -- Anything else (`agent.output`, `tool.name`) is read from the host when asked for.
      __index = function(_, key)
        local method = index[key]
        if method ~= nil then return method end
        return host.handle_get(kind, id, key)
      end,
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
  raw_setmetatable(field, {
    __index = function(_, key)
      -- Evaluators for Evaluations { evaluators = {...} } are written like fields:
      -- field.contains{field = "answer", value = "yes"} is {type = "contains", ...}.
      if host.evaluator_type(key) then
        return function(options)
          local spec = { type = key }
          if raw_type(options) == "table" then
            for k, v in raw_pairs(options) do spec[k] = v end
          end
          return spec
        end
      end
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
  env.Human = namespace("Human", {
    "approve", "input", "review", "select", "notify", "escalate", "inputs", "multiple",
  })
  env.Json = namespace("Json", { "encode", "decode" })
  env.unpack = table_unpack
  -- `state.key` and `State.key` read, and `state.key = value` and `State.key = value` write,
  -- the same store as State.get/set (Tactus procedures use both spellings).
  local State = env.State
  local state_fields = {
    __index = function(_, key) return State.get(key) end,
    __newindex = function(_, key, value) State.set(key, value) end,
  }
  env.state = raw_setmetatable({}, state_fields)
  raw_setmetatable(State, state_fields)
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

  local modules, loading, loading_order = {}, {}, {}
  local library_modules = {}
  env.require = function(name)
    if raw_type(name) ~= "string" then raw_error("require expects a module name", 2) end
    local cached = modules[name]
    if cached ~= nil then return cached end
    local builtin = library_modules[name]
    if builtin == nil then builtin = host.builtin_module(name) end
    if builtin ~= nil then
      modules[name] = builtin
      return builtin
    end
    if loading[name] then
      local chain = {}
      for i = loading[name], #loading_order do chain[#chain + 1] = loading_order[i] end
      chain[#chain + 1] = name
      raw_error("circular require: " .. table.concat(chain, " -> "), 2)
    end
    local source, chunkname = host.module_source(name)
    local chunk, err = raw_load(source, chunkname, "t", env)
    if not chunk then raw_error(err, 0) end
    loading_order[#loading_order + 1] = name
    loading[name] = #loading_order
    local results = table_pack(raw_pcall(chunk, name))
    loading[name] = nil
    loading_order[#loading_order] = nil
    if not results[1] then raw_error(results[2], 0) end
    local value = results[2]
    if value == nil then value = true end
    modules[name] = value
    return value
  end

  -- Text for an error value that is not a string: `error({code = 42})`, `error()`, `error(obj)`.
  local function render(value, depth, seen)
    local kind = raw_type(value)
    if kind == "string" then return str_format("%q", #value > 200 and str_sub(value, 1, 200) .. "..." or value) end
    if kind ~= "table" then return raw_tostring(value) end
    if handles[value] then return raw_tostring(value) end
    if seen[value] then return "<cycle>" end
    if depth > 3 then return "{...}" end
    seen[value] = true
    local parts, count = {}, 0
    for k, v in next, value do
      count = count + 1
      if count > 20 then parts[#parts + 1] = "..." break end
      local key = raw_type(k) == "string" and str_format("%q", k) or "[" .. raw_tostring(k) .. "]"
      parts[#parts + 1] = key .. ": " .. render(v, depth + 1, seen)
    end
    seen[value] = nil
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  local function error_text(err)
    if err == nil then return "error() was called without a message" end
    if raw_type(err) == "table" and not handles[err] then
      local mt = getmetatable(err)
      if raw_type(mt) == "table" and raw_rawget(mt, "__tostring") ~= nil then
        local ok, text = raw_pcall(raw_tostring, err)
        if ok and raw_type(text) == "string" then return text end
      end
      return "error raised with a table: " .. render(err, 1, {})
    end
    return "error raised with a " .. raw_type(err) .. ": " .. raw_tostring(err)
  end
  -- An error's text is cut here before it leaves Lua: the host copies it into events, the
  -- store and the terminal, where a message as large as the memory limit would be held many
  -- times over.
  local MAX_ERROR = LIMITS.max_error
  local function clipped(text)
    if #text <= MAX_ERROR then return text end
    return str_sub(text, 1, MAX_ERROR) .. str_format("…[truncated %d bytes]", #text - MAX_ERROR)
  end
  local function on_error(err)
    if err == STOPPED then return err end
    if raw_type(err) == "string" then
      err = clipped(err)
      -- A C function's error raised through one of the wrappers above names the wrapper's
      -- line: name the procedure's instead.
      if str_sub(err, 1, #PRELUDE_PREFIX) == PRELUDE_PREFIX then
        local rest = str_find(err, ": ", #PRELUDE_PREFIX, true)
        if rest then return user_location() .. str_sub(err, rest + 2) end
      end
      -- Errors Lua raises inside C ("C stack overflow"), and `error(text, 0)`, name no line.
      if not str_find(err, "^[^\n:]+:%d+: ") then return user_location() .. err end
      return err
    end
    if aborted() then return STOPPED end
    local ok, text = raw_pcall(error_text, err)
    if not ok or raw_type(text) ~= "string" then text = "error raised with a " .. raw_type(err) end
    return user_location() .. clipped(text)
  end
  local function finish(ok, ...)
    if ok then return ... end
    local err = ...
    if err == "not enough memory" then control.out_of_memory() end
    if err == STOPPED or aborted() then raw_error(STOPPED, 0) end
    raw_error(err, 0)
  end

  local api = {}
  -- How Python calls procedure code: every error arrives as text with file:line.
  function api.call(f, ...)
    -- Until the first tick: the function called (an earlier call's line would mislead).
    local info = raw_type(f) == "function" and debug_getinfo(f, "S")
    if info and info.source ~= PRELUDE_SOURCE and info.what ~= "C" then
      location.tick_file, location.tick_line = info.short_src, info.linedefined
    end
    debug_sethook(hook, "", FIRST_TICK)
    return finish(raw_xpcall(f, on_error, ...))
  end
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
  -- A table's identity (for cycles) and the handle tag it carries: both read raw, so that no
  -- metamethod of procedure code runs while the host converts a value.
  api.identity = function(value)
    local tag = raw_rawget(value, "__tide_handle")
    if raw_type(tag) ~= "string" then tag = nil end
    return str_format("%p", value), tag
  end
  -- The standard library (library.lua) installs its globals with the prelude's own helpers.
  api.install_library = function(install)
    library_modules = install(env, { namespace = namespace, where = where, pcall = safe_pcall }, host)
  end
  return env, api
end
