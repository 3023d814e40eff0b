-- fokus.graph(): building and checking a graph of nodes.
--
--   local g = fokus.graph()
--   local tok = g:add("load_tokenizer", {path = "vocab.txt.gz"})
--   local t = g:add("tokenize", {tokenizer = tok.tokenizer, text = "a red cat"})
--   t:set("text", "a blue cat")
--   local ok, problems = g:validate()
--
-- A node is a table {id =, type =, inputs =, graph =, where =}; indexing it with one
-- of its type's output names gives an output reference (a link). Input values are
-- links, or constants (plain Lua values; tensors and models by identity). Execution
-- lives in run.lua, JSON in workflow.lua, Graphviz in dot.lua.
local check = require "fokus.check"
local define = require "fokus.define"

local M = {}

local Graph = {}
Graph.__index = Graph
M.Graph = Graph

local Node = {}   -- methods of nodes
M.Node = Node

local Ref = {}    -- output references
Ref.__index = Ref
M.Ref = Ref

local function is_ref(v) return getmetatable(v) == Ref end
M.is_ref = is_ref

local NodeMT = {}
M.NodeMT = NodeMT

local function is_node(v) return getmetatable(v) == NodeMT end
M.is_node = is_node

local function describe(n) return string.format("node %s (%s)", n.id, n.type) end
M.describe = describe

local suggest = check.suggest
M.suggest = suggest

local function socket_names(list)
  local names = {}
  for i, s in ipairs(list) do names[i] = s.name end
  return names
end

local function ref(n, index, name)
  return setmetatable({node = n, index = index, name = name}, Ref)
end
M.ref = ref

function Ref.__tostring(r)
  return string.format("%s.%s", describe(r.node), tostring(r.name or r.index))
end

NodeMT.__index = function(n, k)
  local m = Node[k]
  if m then return m end
  if type(k) ~= "string" then return nil end
  local def = define.get(rawget(n, "type"))
  if not def then return ref(n, nil, k) end -- the unknown type is reported by validate
  local o = def.outputs[k]
  if o then return ref(n, o.index, o.name) end
  error(string.format("%s has no output '%s'%s", describe(n), k, suggest(k, socket_names(def.outputs), "outputs")), 2)
end

NodeMT.__tostring = function(n) return describe(n) end

-- n:set(input, value): a constant, a link, or nil to remove. Returns n.
function Node.set(n, input, value)
  if type(input) ~= "string" then
    error(string.format("set: input name must be a string, got %s", type(input)), 2)
  end
  n.inputs[input] = value
  return n
end

-- ------------------------------------------------------------------ graph

function M.new()
  return setmetatable({nodes = {}, by_id = {}, next_id = 1, cache = {}, sigs = {}, nsigs = 0}, Graph)
end

-- The caller's file:line, `level` frames above the caller of this function.
local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if not info then return "?" end
  local src = info.short_src or "?"
  if info.currentline and info.currentline > 0 then return src .. ":" .. info.currentline end
  return src
end
M.where = where

-- g:add with the file:line of the frame `level` above the caller.
function M.add(g, level, ty, inputs, opts)
  if getmetatable(g) ~= Graph then error("add: expected a graph (call it as g:add(...))", level + 1) end
  if type(ty) ~= "string" then error("add: type must be a string, got " .. type(ty), level + 1) end
  if inputs ~= nil and type(inputs) ~= "table" then
    error("add: inputs must be a table {name = value, ...}, got " .. type(inputs), level + 1)
  end
  if inputs ~= nil and getmetatable(inputs) ~= nil then
    error("add: inputs must be a plain table {name = value, ...}", level + 1)
  end
  local id, at
  if opts ~= nil then
    -- (`where` is for from_json: the file the node came from)
    check.checkopts("add", opts, {"id", "where"}, level + 1)
    id, at = opts.id, opts.where
  end
  if id == nil then
    while g.by_id[tostring(g.next_id)] do g.next_id = g.next_id + 1 end
    id = tostring(g.next_id)
  elseif type(id) == "number" then
    id = string.format("%d", id)
  elseif type(id) ~= "string" or id == "" then
    error("add: option 'id' must be a non-empty string, got " .. tostring(id), level + 1)
  end
  if g.by_id[id] then
    error(string.format("add: id '%s' is already used by %s", id, describe(g.by_id[id])), level + 1)
  end
  local ins = {}
  for k, v in pairs(inputs or {}) do
    if type(k) ~= "string" then
      error(string.format("add: input names must be strings, got %s", type(k)), level + 1)
    end
    ins[k] = v
  end
  local n = setmetatable({id = id, type = ty, inputs = ins, graph = g, where = at or where(level + 1)}, NodeMT)
  g.nodes[#g.nodes + 1] = n
  g.by_id[id] = n
  return n
end

-- g:add(type, inputs [, {id =}]) -> node
-- (not a tail call: the frame count matters for the caller's file:line)
function Graph.add(g, ty, inputs, opts)
  local n = M.add(g, 2, ty, inputs, opts)
  return n
end

-- g:node(id) -> the node with that id, or nil.
function Graph.node(g, id) return g.by_id[tostring(id)] end

-- g:list() -> the nodes in the order they were added.
function Graph.list(g)
  local l = {}
  for i, n in ipairs(g.nodes) do l[i] = n end
  return l
end

-- g:remove(node): drops a node (links to it become problems for validate).
function Graph.remove(g, n)
  if type(n) == "string" then n = g.by_id[n] end
  if not is_node(n) or g.by_id[n.id] ~= n then error("remove: not a node of this graph", 2) end
  g.by_id[n.id] = nil
  for i, m in ipairs(g.nodes) do
    if m == n then table.remove(g.nodes, i) break end
  end
  g.cache[n.id] = nil
end

-- The link an input value stands for: a Ref, or a node given whole (its only output).
-- Returns ref, nil | nil, problem | nil, nil (a constant).
function M.link_of(v)
  if is_ref(v) then return v end
  if is_node(v) then
    local def = define.get(v.type)
    if not def then return ref(v, 1, nil) end
    if #def.outputs == 1 then return ref(v, 1, def.outputs[1].name) end
    return nil, string.format("%s has %d outputs; pick one (%s)", describe(v), #def.outputs,
                              table.concat(socket_names(def.outputs), ", "))
  end
  return nil, nil
end

-- ------------------------------------------------------------------ validate

local function problem(list, n, input, msg)
  local head = string.format("%s: %s", n.where, describe(n))
  if input then head = head .. " input '" .. input .. "'" end
  list[#list + 1] = {node = n.id, input = input, where = n.where, message = head .. ": " .. msg}
end

-- g:validate() -> true | false, problems: every problem at once, each
-- {node = id, input = name or nil, where = "file:line", message = "file:line: node ...: what"}.
function Graph.validate(g)
  local problems = {}
  local names
  for _, n in ipairs(g.nodes) do
    local def = define.get(n.type)
    if not def then
      if not names then
        names = {}
        for _, t in ipairs(define.node_types()) do names[#names + 1] = t.type end
      end
      problem(problems, n, nil, string.format("unknown node type '%s'%s", tostring(n.type),
                                              suggest(n.type, names, "types")))
    else
      local given = {}
      for k in pairs(n.inputs) do given[#given + 1] = k end
      table.sort(given)
      for _, k in ipairs(given) do
        if not def.inputs[k] then
          problem(problems, n, k, "unknown input" .. suggest(k, socket_names(def.inputs), "inputs"))
        end
      end
      for _, s in ipairs(def.inputs) do
        local v = n.inputs[s.name]
        if v == nil then
          if s.opts.default == nil and not s.opts.optional then
            problem(problems, n, s.name, "missing (" .. s.type .. ")")
          end
        else
          local r, why = M.link_of(v)
          if why then
            problem(problems, n, s.name, why)
          elseif r then
            local src = r.node
            if src.graph ~= g or g.by_id[src.id] ~= src then
              problem(problems, n, s.name, string.format("links to %s, which is not in this graph", describe(src)))
            else
              local sdef = define.get(src.type)
              if sdef then
                local o = r.index and sdef.outputs[r.index]
                if not o then
                  problem(problems, n, s.name, string.format("links to output %s of %s, which has %d output(s)",
                                                             tostring(r.name or r.index), describe(src),
                                                             #sdef.outputs))
                elseif not define.compatible(o.type, s.type) then
                  problem(problems, n, s.name, string.format("expected %s, got %s from %s.%s", s.type, o.type,
                                                             describe(src), o.name))
                end
              end
            end
          else
            local why2 = define.check_constant(s.type, s.opts, v)
            if why2 then problem(problems, n, s.name, why2) end
          end
        end
      end
    end
  end
  -- cycles: depth-first over links, reporting each cycle once at the node closing it
  local state = {}
  local stack = {}
  local function visit(n)
    state[n] = 1
    stack[#stack + 1] = n
    local keys = {}
    for k in pairs(n.inputs) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local r = M.link_of(n.inputs[k])
      local src = r and r.node
      if src and src.graph == g and g.by_id[src.id] == src then
        if state[src] == 1 then
          local ids, on = {}, false
          for _, m in ipairs(stack) do
            if m == src then on = true end
            if on then ids[#ids + 1] = m.id end
          end
          ids[#ids + 1] = src.id
          problem(problems, n, k, "cycle: " .. table.concat(ids, " -> "))
        elseif not state[src] then
          visit(src)
        end
      end
    end
    stack[#stack] = nil
    state[n] = 2
  end
  for _, n in ipairs(g.nodes) do
    if not state[n] then visit(n) end
  end
  if #problems == 0 then return true end
  return false, problems
end

-- One error message listing every problem.
function M.problems_text(problems)
  local lines = {string.format("graph: %d problem%s:", #problems, #problems == 1 and "" or "s")}
  for _, p in ipairs(problems) do lines[#lines + 1] = "  " .. p.message end
  return table.concat(lines, "\n")
end

-- ------------------------------------------------------------------ sugar

-- fokus.nodes(g): nodes.encode{clip = c, tokens = t} adds an "encode" node to g.
function M.sugar(g)
  if getmetatable(g) ~= Graph then error("nodes: expected a graph, got " .. type(g), 2) end
  return setmetatable({}, {
    __index = function(_, ty)
      return function(inputs, opts)
        local n = M.add(g, 2, ty, inputs, opts)
        return n
      end
    end,
  })
end

return M
