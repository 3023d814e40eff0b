-- Workflows that travel: fokus.json, g:to_json() and fokus.graph.from_json(text) in
-- ComfyUI's API format:
--   {"3": {"class_type": "tokenize", "_meta": {"title": "tokenize"},
--          "inputs": {"text": "a red cat", "tokenizer": ["1", 0]}}, ...}
-- ids are strings, a link is [node_id, output_index] with a 0-based index, constants
-- are JSON values. Text written by to_json reads back to a graph whose to_json is the
-- same text (keys in a stable order, integers kept integers, reals with 17 digits).
local core = require "fokus.core"
local check = require "fokus.check"
local define = require "fokus.define"
local graph = require "fokus.graph"

local M = {}

local json = {encode = core.json_encode, decode = core.json_decode, null = core.json_null}
M.json = json

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

-- Does a JSON value read as a ComfyUI link [id, index]?
local function looks_like_link(v)
  return type(v) == "table" and #v == 2 and is_array(v) and type(v[1]) == "string" and type(v[2]) == "number"
end

-- A constant as JSON can hold it, or raises naming the node and input.
local function plain(n, input, v, depth)
  local tv = type(v)
  if tv == "number" or tv == "string" or tv == "boolean" then return v end
  if tv == "table" and getmetatable(v) == nil and depth < 32 then
    local c = {}
    for k, x in pairs(v) do c[k] = plain(n, input, x, depth + 1) end
    return c
  end
  local what = core.is_tensor(v) and "a fokus.Tensor" or ("a " .. tv)
  error(string.format("to_json: %s input '%s' is %s, which a workflow file cannot hold (make it the output of "
                      .. "a node, e.g. a loader)", graph.describe(n), input, what), 4)
end

-- g:to_json([{indent = 2}]) -> text
function M.to_json(g, opts)
  local indent = 2
  if opts ~= nil then
    check.checkopts("to_json", opts, {"indent"}, 2)
    if opts.indent ~= nil then indent = opts.indent end
  end
  local doc = {}
  for _, n in ipairs(g.nodes) do
    local inputs = {}
    for k, v in pairs(n.inputs) do
      local r, why = graph.link_of(v)
      if why then error("to_json: " .. graph.describe(n) .. " input '" .. k .. "': " .. why, 2) end
      if r then
        if r.node.graph ~= g then
          error(string.format("to_json: %s input '%s' links to another graph's node", graph.describe(n), k), 2)
        end
        inputs[k] = {r.node.id, (r.index or 1) - 1}
      else
        local c = plain(n, k, v, 0)
        if looks_like_link(c) then
          error(string.format("to_json: %s input '%s': the constant {\"%s\", %s} would read back as a link",
                              graph.describe(n), k, c[1], tostring(c[2])), 2)
        end
        inputs[k] = c
      end
    end
    doc[n.id] = {class_type = n.type, inputs = inputs, _meta = {title = rawget(n, "title") or n.type}}
  end
  return json.encode(doc, {indent = indent})
end

local function from_error(name, msg) return nil, name .. ": " .. msg end

-- fokus.graph.from_json(text [, {name =}]) -> graph | nil, "name: reason"
-- A workflow is rejected (nil, message) when it is not JSON, not in the API format,
-- uses node types fokus lacks (all of them listed), or links to nodes it lacks.
-- Everything else (unknown inputs, types, ranges, cycles) is g:validate's to report.
function M.from_json(text, opts)
  if type(text) ~= "string" then error("from_json: text must be a string, got " .. type(text), 2) end
  local name = "workflow"
  if opts ~= nil then
    check.checkopts("from_json", opts, {"name"}, 2)
    if opts.name ~= nil then name = tostring(opts.name) end
  end
  local doc, err = json.decode(text)
  if doc == nil then return from_error(name, err) end
  if type(doc) ~= "table" then return from_error(name, "expected a JSON object of nodes") end
  if type(doc.nodes) == "table" and type(doc.links) == "table" then
    return from_error(name, "this is ComfyUI's UI format (nodes and links); export it with \"Save (API Format)\"")
  end
  if type(doc.prompt) == "table" and doc.class_type == nil then doc = doc.prompt end -- a /prompt request body

  local ids = {}
  for id, spec in pairs(doc) do
    if type(id) ~= "string" then return from_error(name, "expected a JSON object of nodes") end
    if type(spec) ~= "table" or type(spec.class_type) ~= "string" then
      return from_error(name, string.format("node %s: expected {\"class_type\": ..., \"inputs\": {...}}", id))
    end
    if spec.inputs ~= nil and (type(spec.inputs) ~= "table" or (next(spec.inputs) ~= nil and #spec.inputs > 0)) then
      return from_error(name, string.format("node %s: \"inputs\" must be an object", id))
    end
    ids[#ids + 1] = id
  end
  -- the order to_json writes: numeric ids by value, then the others
  table.sort(ids, function(a, b)
    local na, nb = a:match("^%d+$") and #a <= 15, b:match("^%d+$") and #b <= 15
    if na and nb then return tonumber(a) < tonumber(b) end
    if na ~= nb then return na and true or false end
    return a < b
  end)

  local missing, seen, counts = {}, {}, {}
  for _, id in ipairs(ids) do
    local ct = doc[id].class_type
    if not define.get(ct) then
      if not seen[ct] then
        seen[ct] = true
        missing[#missing + 1] = ct
      end
      counts[ct] = (counts[ct] or 0) + 1
    end
  end
  if #missing > 0 then
    table.sort(missing)
    local parts = {}
    for i, ct in ipairs(missing) do
      parts[i] = counts[ct] > 1 and string.format("%s (%d nodes)", ct, counts[ct]) or ct
    end
    return from_error(name, string.format("the workflow uses %d node type%s fokus lacks: %s", #missing,
                                          #missing == 1 and "" or "s", table.concat(parts, ", ")))
  end

  local g = graph.new()
  for _, id in ipairs(ids) do
    local spec = doc[id]
    local n = graph.add(g, 1, spec.class_type, {}, {id = id, where = name})
    if type(spec._meta) == "table" and type(spec._meta.title) == "string" and spec._meta.title ~= spec.class_type then
      rawset(n, "title", spec._meta.title)
    end
  end
  for _, id in ipairs(ids) do
    local n = g.by_id[id]
    local keys = {}
    for k in pairs(doc[id].inputs or {}) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = doc[id].inputs[k]
      if looks_like_link(v) then
        local src = g.by_id[v[1]]
        if not src then
          return from_error(name, string.format("node %s input '%s' links to node %s, which the workflow lacks",
                                                id, k, v[1]))
        end
        local idx = v[2]
        if idx ~= math.floor(idx) or idx < 0 then
          return from_error(name, string.format("node %s input '%s': output index must be an integer >= 0, got %s",
                                                id, k, tostring(idx)))
        end
        local def = define.get(src.type)
        local o = def.outputs[idx + 1]
        n.inputs[k] = graph.ref(src, idx + 1, o and o.name)
      elseif v == json.null then
        -- ComfyUI writes null for an unset optional input
      else
        n.inputs[k] = v
      end
    end
  end
  return g
end

function M.install(fokus, Graph)
  Graph.to_json = M.to_json
  local mt = getmetatable(fokus.graph)
  local g = fokus.graph
  rawset(g, "from_json", M.from_json)
  rawset(g, "Graph", Graph)
  fokus.json = json
  fokus.json_encode, fokus.json_decode, fokus.json_null = nil, nil, nil
  return mt
end

return M
