-- `fokus run workflow.json [--set id.input=value ...] [--output id ...] [--quiet]`:
-- runs a saved workflow (ComfyUI API format), prints each node's time and the files
-- the output nodes wrote. main(args) returns the exit status; every error is one
-- clear line on stderr (status 1), a usage error status 2.
local M = {}

local USAGE = [[
usage: fokus run WORKFLOW.json [options]
  --set ID.INPUT=VALUE   change a constant before running (repeatable); VALUE is taken
                         as the input's type wants it (text for STRING, a number for
                         INT/FLOAT, true/false for BOOLEAN, JSON otherwise)
  --output ID            run only what node ID needs (repeatable; default: every node
                         whose outputs no other node uses)
  --quiet                print only errors
  --dot                  print the graph in Graphviz's language and exit
  --json                 print the workflow (after --set) as JSON and exit
usage: fokus run --types  lists the node types a workflow can use
]]

local function fail(out, msg)
  out:write("fokus run: ", msg, "\n")
  out:flush()
  return 1
end

-- The value of `--set` text for an input of type `ty`.
local function coerce(fokus, ty, text)
  if ty == "STRING" then return text end
  if ty == "INT" or ty == "FLOAT" then
    local v = tonumber(text)
    if v == nil then return nil, string.format("expected a number, got '%s'", text) end
    if ty == "INT" and math.tointeger then v = math.tointeger(v) or v end
    return v
  end
  if ty == "BOOLEAN" then
    if text == "true" or text == "1" then return true end
    if text == "false" or text == "0" then return false end
    return nil, string.format("expected true or false, got '%s'", text)
  end
  local v = fokus.json.decode(text)
  if v == nil or v == fokus.json.null then return text end
  return v
end

function M.main(args, opts)
  opts = opts or {}
  local stdout, stderr = opts.stdout or io.stdout, opts.stderr or io.stderr
  local fokus = require "fokus"
  local define = require "fokus.define"
  local run = require "fokus.run"

  local path, sets, outputs, quiet, mode = nil, {}, {}, false, nil
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--set" or a == "--output" then
      local v = args[i + 1]
      if v == nil then
        stderr:write("fokus run: ", a, " needs a value\n", USAGE)
        return 2
      end
      if a == "--set" then sets[#sets + 1] = v else outputs[#outputs + 1] = v end
      i = i + 1
    elseif a:match("^%-%-set=") then
      sets[#sets + 1] = a:sub(7)
    elseif a == "--quiet" or a == "-q" then
      quiet = true
    elseif a == "--types" then
      for _, t in ipairs(fokus.node_types()) do
        local ins, outs = {}, {}
        for k, sk in ipairs(t.inputs) do
          local o = sk[3]
          local extra = ""
          if o.default ~= nil then extra = " = " .. tostring(o.default) elseif o.optional then extra = "?" end
          ins[k] = sk[1] .. ": " .. sk[2] .. extra
        end
        for k, sk in ipairs(t.outputs) do outs[k] = sk[1] .. ": " .. sk[2] end
        stdout:write(string.format("%s (%s): %s -> %s\n    %s\n", t.type, t.category, table.concat(ins, ", "),
                                   table.concat(outs, ", "), t.description))
      end
      return 0
    elseif a == "--dot" or a == "--json" then
      mode = a:sub(3)
    elseif a == "--help" or a == "-h" then
      stdout:write(USAGE)
      return 0
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      stderr:write("fokus run: unknown option '", a, "'\n", USAGE)
      return 2
    elseif path == nil then
      path = a
    else
      stderr:write("fokus run: one workflow at a time (got '", path, "' and '", a, "')\n", USAGE)
      return 2
    end
    i = i + 1
  end
  if path == nil then
    stderr:write(USAGE)
    return 2
  end

  local text
  if path == "-" then
    text = io.read("*a")
  else
    local f, err = io.open(path, "rb")
    if not f then return fail(stderr, err) end
    text = f:read("*a")
    f:close()
  end
  local g, err = fokus.graph.from_json(text, {name = path})
  if not g then return fail(stderr, err) end

  for _, s in ipairs(sets) do
    local id, input, value = s:match("^([^=]+)%.([%a_][%w_]*)=(.*)$")
    if not id then
      return fail(stderr, string.format("--set '%s': expected ID.INPUT=VALUE (e.g. 3.seed=42)", s))
    end
    local n = g:node(id)
    if not n then return fail(stderr, string.format("--set '%s': %s has no node %s", s, path, id)) end
    local def = define.get(n.type)
    local socket = def and def.inputs[input]
    if not socket then
      local names = {}
      for k, sk in ipairs(def.inputs) do names[k] = sk.name end
      return fail(stderr, string.format("--set '%s': node %s (%s) has no input '%s' (inputs: %s)", s, id, n.type,
                                        input, table.concat(names, ", ")))
    end
    local v, why = coerce(fokus, socket.type, value)
    if v == nil then
      return fail(stderr, string.format("--set '%s': input '%s' is %s: %s", s, input, socket.type, why))
    end
    n:set(input, v)
  end

  if mode == "dot" then
    stdout:write(g:to_dot())
    return 0
  elseif mode == "json" then
    stdout:write(g:to_json(), "\n")
    return 0
  end

  local targets
  if #outputs > 0 then
    targets = {}
    for _, id in ipairs(outputs) do
      local n = g:node(id)
      if not n then return fail(stderr, string.format("--output %s: %s has no node %s", id, path, id)) end
      targets[#targets + 1] = n
    end
  end

  local tty = fokus.isatty(stderr)
  local open = false
  local function events(ev)
    if quiet then return end
    if ev.type == "progress" then
      if tty then
        stderr:write(string.format("\r  [%s] %s %d/%d", ev.node, ev.node_type, ev.value or 0, ev.max or 0))
        stderr:flush()
        open = true
      end
      return
    end
    if open then
      stderr:write("\r\27[K")
      open = false
    end
    if ev.type == "executed" then
      stdout:write(string.format("  [%s] %-18s %10s\n", ev.node, ev.node_type, run.fmt_time(ev.time)))
    elseif ev.type == "cached" then
      stdout:write(string.format("  [%s] %-18s %10s\n", ev.node, ev.node_type, "cached"))
    end
    stdout:flush()
  end

  if not quiet then stdout:write(string.format("fokus %s: %s, %d nodes\n", fokus.version, path, #g.nodes)) end
  local ok, results, report = pcall(g.run, g, {outputs = targets, events = events})
  if not ok then
    local msg = tostring(results):gsub("^[^\n]-cli%.lua:%d+: ", "")
    return fail(stderr, msg)
  end
  if not quiet then
    for _, n in ipairs(g.nodes) do
      local def = define.get(n.type)
      local r = results[n]
      if def.output_node and r then
        for _, o in ipairs(def.outputs) do
          if type(r[o.name]) == "string" then stdout:write("  wrote ", r[o.name], "\n") end
        end
      end
    end
    stdout:write(string.format("done in %s: %d executed, %d cached\n", run.fmt_time(report.time), #report.executed,
                               #report.cached))
  end
  return 0
end

return M
