-- fokus.define and fokus.node_types: the registry of node types.
--
-- A node type is a function with typed inputs and outputs:
--   fokus.define{type = "scale", category = "tensor", description = "...",
--                inputs = {{"x", "TENSOR"}, {"factor", "FLOAT", {default = 1, min = 0}}},
--                outputs = {{"y", "TENSOR"}},
--                run = function(inputs, ctx) return inputs.x * inputs.factor end}
-- `run` gets the inputs by name (defaults filled in) and returns the outputs as
-- multiple values in the declared order; `ctx` offers ctx.progress(i, n) (returns
-- false once the run is interrupted), ctx.node (the id) and ctx.workflow() (the
-- graph as ComfyUI API JSON).
--
-- The registry is this module's table: `require` keeps one per Lua state, so two
-- states never see each other's plugins and nothing is global.
local M = {}

local types = {}   -- type name -> definition (checked, normalized)
M.types = types

-- Input types that take a constant of a plain Lua type.
M.SCALAR = {INT = "number", FLOAT = "number", STRING = "string", BOOLEAN = "boolean"}

-- Tensor-valued types: TENSOR links to and from any of them.
M.TENSORISH = {TENSOR = true, LATENT = true, IMAGE = true, ATTN_MAP = true}

-- Names a node object uses itself, so no output may take them (n.id, n:set, ...).
local RESERVED = {id = true, type = true, set = true, inputs = true, graph = true, where = true}

local INPUT_OPTS = {default = true, min = true, max = true, optional = true, choices = true,
                    description = true}
local DEF_KEYS = {type = true, inputs = true, outputs = true, run = true, description = true,
                  category = true, replace = true, output_node = true}

local function fail(msg, level) error("define: " .. msg, level + 1) end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return ks
end

-- Is `v` an acceptable constant for a socket of type `ty` with options `o`?
-- Returns nil when it is, else the reason.
function M.check_constant(ty, o, v)
  local want = M.SCALAR[ty]
  if want then
    if type(v) ~= want then
      return string.format("expected %s, got %s", ty, type(v) == "string" and string.format("%q", v) or type(v))
    end
    if ty == "INT" and v ~= math.floor(v) then
      return string.format("expected INT, got %s", tostring(v))
    end
    if want == "number" and v ~= v then return "expected " .. ty .. ", got nan" end
    if o then
      if o.min ~= nil and v < o.min then
        return string.format("%s is below the minimum %s", tostring(v), tostring(o.min))
      end
      if o.max ~= nil and v > o.max then
        return string.format("%s is above the maximum %s", tostring(v), tostring(o.max))
      end
    end
  elseif ty ~= "*" then
    local tv = type(v)
    if tv == "number" or tv == "string" or tv == "boolean" then
      return string.format("expected %s, got %s %s", ty, tv, tostring(v))
    end
  end
  if o and o.choices then
    for _, c in ipairs(o.choices) do
      if c == v then return nil end
    end
    local cs = {}
    for i, c in ipairs(o.choices) do cs[i] = tostring(c) end
    return string.format("%s is not one of %s", tostring(v), table.concat(cs, ", "))
  end
  return nil
end

-- Can an output of type `from` feed an input of type `to`?
function M.compatible(from, to)
  if from == to or from == "*" or to == "*" then return true end
  if to == "FLOAT" and from == "INT" then return true end
  -- TENSOR is the type of the generic tensor ops (select, average, randn, ...): it
  -- feeds and takes every tensor type, while LATENT -> IMAGE stays a mismatch
  if (to == "TENSOR" and M.TENSORISH[from]) or (from == "TENSOR" and M.TENSORISH[to]) then return true end
  return false
end

local function check_sockets(def, key, list, is_input, level)
  if type(list) ~= "table" then
    fail(string.format("type '%s': %s must be a table of {name, TYPE}, got %s", def, key, type(list)), level + 1)
  end
  local out, seen = {}, {}
  for k in pairs(list) do
    if type(k) ~= "number" or k < 1 or k > #list or k ~= math.floor(k) then
      fail(string.format("type '%s': %s must be an array of {name, TYPE}, has key %s", def, key, tostring(k)),
           level + 1)
    end
  end
  for i, s in ipairs(list) do
    local where = string.format("type '%s': %s[%d]", def, key, i)
    if type(s) ~= "table" then fail(where .. " must be {name, TYPE}, got " .. type(s), level + 1) end
    local name, ty, o = s[1], s[2], s[3]
    if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
      fail(where .. ": name must be an identifier string, got " .. tostring(name), level + 1)
    end
    if type(ty) ~= "string" or ty == "" then
      fail(where .. " ('" .. name .. "'): TYPE must be a non-empty string, got " .. tostring(ty), level + 1)
    end
    if seen[name] then fail(where .. ": '" .. name .. "' is declared twice", level + 1) end
    seen[name] = true
    if not is_input and RESERVED[name] then
      fail(where .. ": '" .. name .. "' is reserved for the node object (id, type, set, inputs, graph, where)",
           level + 1)
    end
    local opts = {}
    if o ~= nil then
      if not is_input then fail(where .. " ('" .. name .. "'): outputs take no options", level + 1) end
      if type(o) ~= "table" then fail(where .. " ('" .. name .. "'): options must be a table", level + 1) end
      for k, v in pairs(o) do
        if not INPUT_OPTS[k] then
          fail(string.format("%s ('%s'): unknown option '%s' (known: %s)", where, name, tostring(k),
                             table.concat(sorted_keys(INPUT_OPTS), ", ")), level + 1)
        end
        opts[k] = v
      end
      if opts.min ~= nil and type(opts.min) ~= "number" then fail(where .. ": min must be a number", level + 1) end
      if opts.max ~= nil and type(opts.max) ~= "number" then fail(where .. ": max must be a number", level + 1) end
      if opts.choices ~= nil and (type(opts.choices) ~= "table" or #opts.choices == 0) then
        fail(where .. ": choices must be a non-empty array", level + 1)
      end
      if opts.default ~= nil then
        local why = M.check_constant(ty, opts, opts.default)
        if why then fail(where .. " ('" .. name .. "'): default " .. why, level + 1) end
      end
    end
    out[i] = {name = name, type = ty, opts = opts, index = i}
    out[name] = out[i]
  end
  return out
end

-- fokus.define{type =, inputs =, outputs =, run = [, description =, category =, replace =]}
-- -> the definition (normalized).
function M.define(spec, level)
  level = (level or 1) + 1
  if type(spec) ~= "table" then
    fail("expected a table {type =, inputs =, outputs =, run =}, got " .. type(spec), level)
  end
  for k in pairs(spec) do
    if not DEF_KEYS[k] then
      fail(string.format("unknown field '%s' (known: %s)", tostring(k), table.concat(sorted_keys(DEF_KEYS), ", ")),
           level)
    end
  end
  local name = spec.type
  if type(name) ~= "string" or name == "" then
    fail("type must be a non-empty string, got " .. tostring(name), level)
  end
  if type(spec.run) ~= "function" then
    fail(string.format("type '%s': run must be a function, got %s", name, type(spec.run)), level)
  end
  if types[name] and not spec.replace then
    fail(string.format("type '%s' is already defined (pass replace = true to redefine it)", name), level)
  end
  for _, k in ipairs({"description", "category"}) do
    if spec[k] ~= nil and type(spec[k]) ~= "string" then
      fail(string.format("type '%s': %s must be a string", name, k), level)
    end
  end
  local def = {
    type = name,
    inputs = check_sockets(name, "inputs", spec.inputs or {}, true, level),
    outputs = check_sockets(name, "outputs", spec.outputs or {}, false, level),
    run = spec.run,
    description = spec.description or "",
    category = spec.category or "user",
    output_node = spec.output_node and true or false,
  }
  types[name] = def
  return def
end

function M.get(name) return types[name] end

-- fokus.node_types() -> array sorted by type name of
--   {type =, category =, description =, inputs = {{name, TYPE, opts}, ...}, outputs = {{name, TYPE}, ...}}
function M.node_types()
  local names = sorted_keys(types)
  local list = {}
  for i, name in ipairs(names) do
    local d = types[name]
    local ins, outs = {}, {}
    for j, s in ipairs(d.inputs) do
      local o = {}
      for k, v in pairs(s.opts) do o[k] = v end
      ins[j] = {s.name, s.type, o}
    end
    for j, s in ipairs(d.outputs) do outs[j] = {s.name, s.type} end
    list[i] = {type = name, category = d.category, description = d.description, inputs = ins, outputs = outs}
  end
  return list
end

return M
