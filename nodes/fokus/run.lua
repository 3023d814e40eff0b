-- g:run: executing a graph, after ComfyUI's execution model without its globals.
--
-- * Pull: only the nodes the requested outputs need run (default: every node whose
--   outputs no other node uses), each after its inputs.
-- * Content signatures: a node's signature is its type, its constants and the
--   signatures of the outputs it links to. Tensors, models, functions and other
--   userdata count by identity (a tensor changed in place is not seen), plain tables
--   by content. The graph keeps each node's last outputs under its signature, so a
--   graph run again executes nothing, and a changed constant re-runs exactly what
--   depends on it.
-- * An error in a node raises "node ID (type): message"; what succeeded stays cached.
-- * Events: events{type = "start" | "executed" | "cached" | "progress" | "error" |
--   "done", node = id, ...}; returning false interrupts the run, which raises
--   "interrupted". Without `events`, a terminal display on stderr when it is a TTY.
local core = require "fokus.core"
local check = require "fokus.check"
local define = require "fokus.define"
local graph = require "fokus.graph"

local M = {}

-- Identity numbers for objects used as constants; weak keys, so a collected tensor's
-- number is never handed to a new one.
local ident = setmetatable({}, {__mode = "k"})
local next_ident = 0
local function identity(v)
  local id = ident[v]
  if not id then
    next_ident = next_ident + 1
    id = next_ident
    ident[v] = id
  end
  return id
end

local function num_repr(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  if x == math.floor(x) and math.abs(x) < 2 ^ 53 then return string.format("%.0f", x) end
  return string.format("%.17g", x)
end

-- A constant's text for the signature.
local function repr(v, depth)
  local tv = type(v)
  if tv == "number" then return "n" .. num_repr(v) end
  if tv == "string" then return string.format("%q", v) end
  if tv == "boolean" then return v and "T" or "F" end
  if tv == "table" and getmetatable(v) == nil and depth < 16 then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      local ta, tb = type(a), type(b)
      if ta ~= tb then return ta < tb end
      if ta == "number" or ta == "string" then return a < b end
      return tostring(a) < tostring(b)
    end)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = repr(k, depth + 1) .. "=" .. repr(v[k], depth + 1) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return "@" .. tv .. identity(v)
end

-- The short name of a signature string (interned per graph, so signatures of deep
-- graphs stay short: a node's text holds its inputs' names, not their texts).
local function intern(g, s)
  local id = g.sigs[s]
  if not id then
    g.nsigs = g.nsigs + 1
    id = "s" .. g.nsigs
    g.sigs[s] = id
  end
  return id
end

local function sorted_input_names(n)
  local keys = {}
  for k in pairs(n.inputs) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- The nodes `targets` need, inputs before the nodes that use them.
local function plan(targets)
  local order, seen = {}, {}
  local function visit(n)
    if seen[n] then return end
    seen[n] = true
    for _, k in ipairs(sorted_input_names(n)) do
      local r = graph.link_of(n.inputs[k])
      if r then visit(r.node) end
    end
    order[#order + 1] = n
  end
  for _, n in ipairs(targets) do visit(n) end
  return order
end

-- Nodes whose outputs no other node uses.
local function sinks(g)
  local used = {}
  for _, n in ipairs(g.nodes) do
    for _, v in pairs(n.inputs) do
      local r = graph.link_of(v)
      if r then used[r.node] = true end
    end
  end
  local list = {}
  for _, n in ipairs(g.nodes) do
    if not used[n] then list[#list + 1] = n end
  end
  return list
end

local function resolve_targets(g, outputs)
  if outputs == nil then return sinks(g) end
  if type(outputs) ~= "table" or graph.is_node(outputs) or graph.is_ref(outputs) then
    outputs = {outputs}
  end
  local list = {}
  for i, o in ipairs(outputs) do
    local n = o
    if graph.is_ref(o) then n = o.node end
    if type(o) == "string" or type(o) == "number" then n = g.by_id[tostring(o)] end
    if not graph.is_node(n) or g.by_id[n.id] ~= n then
      error(string.format("run: outputs[%d] is not a node of this graph (%s)", i, tostring(o)), 3)
    end
    list[#list + 1] = n
  end
  return list
end

-- ------------------------------------------------------------------ display

local function fmt_time(s)
  if s < 1 then return string.format("%.1f ms", s * 1e3) end
  return string.format("%.2f s", s)
end
M.fmt_time = fmt_time

-- The default events handler: one line per executed node on `out` with its time,
-- sampler progress updated in place with "\r", cached nodes counted at the end.
function M.display(out)
  local open = false
  return function(ev)
    if ev.type == "progress" then
      out:write(string.format("\r  [%s] %s %d/%d", ev.node, ev.node_type or "", ev.value or 0, ev.max or 0))
      open = true
    elseif ev.type == "executed" or ev.type == "cached" or ev.type == "error" then
      if open then out:write("\n") open = false end
      if ev.type == "executed" then
        out:write(string.format("  [%s] %-18s %s\n", ev.node, ev.node_type, fmt_time(ev.time)))
      elseif ev.type == "cached" then
        return -- counted in the "done" line
      else
        out:write(string.format("  [%s] %-18s error\n", ev.node, ev.node_type))
      end
    elseif ev.type == "done" then
      if open then out:write("\n") open = false end
      out:write(string.format("  done: %d executed, %d cached, %s\n", #ev.executed, #ev.cached, fmt_time(ev.time)))
    end
    out:flush()
  end
end

-- ------------------------------------------------------------------ run

local function pack(...) return {n = select("#", ...), ...} end

-- xpcall's handler: the message, and where in the node's code it came from (the
-- error event carries the traceback; the raised error stays one line).
local function with_traceback(e)
  local msg = type(e) == "string" and e or tostring(e)
  return {message = msg, traceback = debug.traceback(msg, 2)}
end

local INTERRUPTED = "interrupted"
M.INTERRUPTED = INTERRUPTED

local RUN_OPTS = {"events", "outputs"}

-- g:run{outputs = {...}, events = fn} -> results, report
function M.run(g, opts)
  if getmetatable(g) ~= graph.Graph then error("run: expected a graph (call it as g:run{...})", 2) end
  opts = check.checkopts("run", opts, RUN_OPTS, 2)
  local events = opts.events
  if events == nil then
    if core.isatty(io.stderr) then events = M.display(io.stderr) end
  elseif events == false then
    events = nil
  elseif type(events) ~= "function" then
    error("run: option 'events' must be a function or false, got " .. type(events), 2)
  end

  local ok, problems = g:validate()
  if not ok then error(graph.problems_text(problems), 2) end
  local targets = resolve_targets(g, opts.outputs)
  local order = plan(targets)

  local interrupted = false
  local function emit(ev)
    if events and events(ev) == false then interrupted = true end
    return not interrupted
  end

  local t_run = core.clock()
  local sig_of, values = {}, {}
  local results = {}
  local report = {executed = {}, cached = {}, times = {}}
  local workflow_json, workflow_err
  for _, n in ipairs(order) do
    local def = define.get(n.type)
    -- signature
    local parts = {n.type, "#", tostring(identity(def))}
    for _, k in ipairs(sorted_input_names(n)) do
      local v = n.inputs[k]
      local r = graph.link_of(v)
      if r then
        parts[#parts + 1] = k .. "=<" .. sig_of[r.node] .. "." .. r.index .. ">"
      else
        parts[#parts + 1] = k .. "=" .. repr(v, 0)
      end
    end
    local sig = intern(g, table.concat(parts, ";"))
    sig_of[n] = sig

    local entry = g.cache[n.id]
    local outs
    if entry and entry.sig == sig then
      outs = entry.outputs
      report.cached[#report.cached + 1] = n.id
      if not emit({type = "cached", node = n.id, node_type = n.type}) then error(INTERRUPTED, 0) end
    else
      if not emit({type = "start", node = n.id, node_type = n.type}) then error(INTERRUPTED, 0) end
      local inputs = {}
      for _, s in ipairs(def.inputs) do
        local v = n.inputs[s.name]
        local r = graph.link_of(v)
        if r then
          v = values[r.node][r.index]
        elseif v == nil then
          v = s.opts.default
        end
        inputs[s.name] = v
      end
      local ctx = {
        node = n.id,
        graph = g,
        -- ctx.progress(value, max [, extra]): a progress event (extra's fields added, e.g.
        -- a sampler's x and denoised); false once the run is interrupted
        progress = function(value, max, extra)
          local ev = {}
          if type(extra) == "table" then
            for k, v in pairs(extra) do ev[k] = v end
          end
          ev.type, ev.node, ev.node_type, ev.value, ev.max = "progress", n.id, n.type, value, max
          emit(ev)
          return not interrupted
        end,
        interrupted = function() return interrupted end,
        -- the graph as ComfyUI API JSON (for PNG text chunks), or nil, reason when a
        -- constant (a tensor, a model) cannot be written to a file
        workflow = function()
          if workflow_json == nil then
            local ok, text = pcall(g.to_json, g)
            workflow_json = ok and text or false
            workflow_err = not ok and tostring(text) or nil
          end
          if workflow_json then return workflow_json end
          return nil, workflow_err
        end,
      }
      local t0 = core.clock()
      local res = pack(xpcall(def.run, with_traceback, inputs, ctx))
      local dt = core.clock() - t0
      if not res[1] then
        local msg = res[2].message
        if msg == INTERRUPTED or interrupted then
          emit({type = "error", node = n.id, node_type = n.type, message = INTERRUPTED})
          error(INTERRUPTED, 0)
        end
        local text = string.format("%s (added at %s): %s", graph.describe(n), n.where, msg)
        emit({type = "error", node = n.id, node_type = n.type, message = text, traceback = res[2].traceback})
        error(text, 0)
      end
      if interrupted then
        emit({type = "error", node = n.id, node_type = n.type, message = INTERRUPTED})
        error(INTERRUPTED, 0)
      end
      outs = {}
      for i = 1, #def.outputs do outs[i] = res[i + 1] end
      for i, o in ipairs(def.outputs) do
        if outs[i] == nil then
          local text = string.format("%s (added at %s): run returned %d value%s, but output %d ('%s') is declared",
                                     graph.describe(n), n.where, res.n - 1, res.n == 2 and "" or "s", i, o.name)
          emit({type = "error", node = n.id, node_type = n.type, message = text})
          error(text, 0)
        end
      end
      g.cache[n.id] = {sig = sig, outputs = outs}
      report.executed[#report.executed + 1] = n.id
      report.times[n.id] = dt
      if not emit({type = "executed", node = n.id, node_type = n.type, time = dt}) then error(INTERRUPTED, 0) end
    end
    values[n] = outs
    local byname = {}
    for i, o in ipairs(def.outputs) do byname[o.name] = outs[i] end
    results[n] = byname
    results[n.id] = byname
  end
  report.time = core.clock() - t_run
  emit({type = "done", executed = report.executed, cached = report.cached, time = report.time})
  return results, report
end

-- g:clear(): forgets every cached result.
function M.clear(g)
  g.cache = {}
  g.sigs = {}
  g.nsigs = 0
end

return M
