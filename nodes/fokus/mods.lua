-- Custom attention variants: score_mod / mask_mod traced from Lua.
--
-- fokus.score_mod(fn) calls fn(score, b, h, q, k) ONCE with symbolic values whose
-- metatables record the arithmetic; the recording is checked (kinds, captured tensor
-- ranks, division by a constant zero), simplified (constant folding, common
-- subexpressions) and lowered to a straight-line program that the flash kernel runs
-- on whole SIMD vectors of a tile (core.mod_program, core/attention/mod_*.c).
--
-- Lua control flow cannot be recorded (an `if` sees one value, the kernel needs all
-- of them), so comparisons are methods returning symbolic booleans (s:gt(0)) and
-- choices go through fokus.where(cond, a, b). Written for the subset of Lua shared
-- by LuaJIT, 5.3 and 5.4: &, | and ~ work through __band / __bor / __bnot where the
-- host has them; the method forms everywhere.
local M = {}
local unpack = table.unpack or unpack
local core_program -- core.mod_program, set by M.install

local HINT = "symbolic values stand for every score at once: use fokus.where(cond, a, b) " ..
             "and the methods :lt :le :gt :ge :eq :ne, :logical_and :logical_or :logical_not " ..
             "instead of Lua control flow and operators"

local Sym = {}      -- metatable of symbolic values
local Partial = {}  -- metatable of a captured tensor indexed with fewer indices than its rank
local methods = {}
local FIELDS = {op = true, ty = true, a = true, b = true, c = true, k = true, t = true, idx = true, id = true,
                tr = true}
Sym.__index = function(x, key)
  local m = methods[key]
  if m then return m end
  if FIELDS[key] then return nil end -- a node's own optional fields
  if type(key) ~= "string" and rawget(x, "op") == "gather" then
    local n = #rawget(x, "idx")
    error((cur and cur.what or "fokus") .. ": captured tensor is " .. n .. "-d, indexed with " .. (n + 1) ..
          " indices", 2)
  elseif type(key) ~= "string" then
    error((cur and cur.what or "fokus") .. ": cannot index a symbolic value (only captured tensors)", 2)
  end
  error("symbolic value has no field '" .. tostring(key) .. "' (" .. HINT .. ")", 2)
end

local function is_sym(x) return getmetatable(x) == Sym end
local function is_partial(x) return getmetatable(x) == Partial end

-- The trace in progress (one at a time; tracing does not yield).
local cur = nil

local function fail(msg, level)
  error((cur and cur.what or "fokus") .. ": " .. msg, (level or 1) + 1)
end

-- Lua's floored modulo as the C reference computes it (double precision).
local function lua_mod(a, b)
  local m = math.fmod(a, b)
  if m ~= 0 and (m < 0) ~= (b < 0) then m = m + b end
  return m
end

local function is_integral(x)
  return x == x and x ~= math.huge and x ~= -math.huge and x == math.floor(x)
end

-- Node constructor with hash-consing (common subexpressions are one node).
local function node(op, ty, a, b, c, extra)
  if not cur then
    error("fokus: a symbolic value was used after its score_mod / mask_mod definition ended", 4)
  end
  local key = op .. "|" .. (a and a.id or "") .. "|" .. (b and b.id or "") .. "|" .. (c and c.id or "") ..
              "|" .. (extra or "")
  local n = cur.memo[key]
  if n then return n end
  cur.count = cur.count + 1
  n = setmetatable({op = op, ty = ty, a = a, b = b, c = c, id = cur.count, tr = cur}, Sym)
  cur.memo[key] = n
  return n
end

local function const(x)
  if type(x) == "boolean" then
    local n = node("bconst", "b", nil, nil, nil, x and "1" or "0")
    n.k = x and 1 or 0
    return n
  end
  local k = x + 0.0
  local n = node("const", is_integral(k) and math.abs(k) < 2^53 and "i" or "f", nil, nil, nil, string.format("%.17g", k))
  n.k = k
  return n
end

-- A symbolic value from x (symbolic, number or boolean); anything else is an error.
local function lift(x, what)
  if is_sym(x) then
    if rawget(x, "tr") ~= cur then
      if not cur then error("fokus: a symbolic value was used after its score_mod / mask_mod definition ended", 3) end
      fail("a symbolic value from another definition was used here", 3)
    end
    return x
  end
  if is_partial(x) then
    fail("captured tensor " .. x.tname .. " is " .. x.rank .. "-d, indexed with " .. #x.idx ..
         (#x.idx == 1 and " index" or " indices"), 3)
  end
  local t = type(x)
  if t == "number" or t == "boolean" then
    return const(x)
  end
  fail("cannot use a " .. t .. " in " .. what .. " (only symbolic values, numbers and booleans)", 3)
end

local function isconst(n) return n.op == "const" or n.op == "bconst" end

local function num(n, opname)
  if n.ty == "b" then
    fail(opname .. ": expected a number, got a boolean (turn a condition into a number with fokus.where(cond, 1, 0))", 3)
  end
  return n
end

local function bool(n, opname)
  if n.ty ~= "b" then
    fail(opname .. ": expected a boolean, got a number (compare with :lt :le :gt :ge :eq :ne first)", 3)
  end
  return n
end

local fold2 = {
  add = function(a, b) return a + b end, sub = function(a, b) return a - b end,
  mul = function(a, b) return a * b end, div = function(a, b) return a / b end,
  mod = lua_mod, pow = function(a, b) return a ^ b end,
  min = function(a, b) return a < b and a or b end, max = function(a, b) return a > b and a or b end,
  lt = function(a, b) return a < b end, le = function(a, b) return a <= b end,
  gt = function(a, b) return a > b end, ge = function(a, b) return a >= b end,
  eq = function(a, b) return a == b end, ne = function(a, b) return a ~= b end,
}
local fold1 = {
  neg = function(a) return -a end, abs = math.abs, exp = math.exp, log = math.log,
  tanh = function(a)
    if a > 20 then return 1 elseif a < -20 then return -1 end
    local e = math.exp(2 * a)
    return (e - 1) / (e + 1)
  end,
  sqrt = math.sqrt,
}
local CMP = {lt = true, le = true, gt = true, ge = true, eq = true, ne = true}

local function binary(op, x, y)
  local a, b = num(lift(x, op), op), num(lift(y, op), op)
  if (op == "div" or op == "mod") and b.op == "const" and b.k == 0 then
    fail((op == "div" and "division" or "modulo") .. " by the constant 0", 2)
  end
  if isconst(a) and isconst(b) then return const(fold2[op](a.k, b.k)) end
  -- small identities that keep traced programs short
  if op == "pow" and b.op == "const" then
    if b.k == 1 then return a end
    if b.k == 2 then return binary("mul", a, a) end
  end
  if (op == "add" and b.op == "const" and b.k == 0) or ((op == "mul" or op == "div") and b.op == "const" and b.k == 1)
     or (op == "sub" and b.op == "const" and b.k == 0) then
    return a
  end
  if (op == "add" or op == "mul") and a.op == "const" and ((op == "add" and a.k == 0) or (op == "mul" and a.k == 1)) then
    return b
  end
  -- commutative ops: one order, so a + b and b + a are the same node
  if (op == "add" or op == "mul" or op == "min" or op == "max" or op == "eq" or op == "ne") and a.id > b.id then
    a, b = b, a
  end
  local ty
  if CMP[op] then ty = "b"
  elseif op == "div" or op == "pow" then ty = "f"
  elseif a.ty == "i" and b.ty == "i" then ty = "i"
  else ty = "f" end
  return node(op, ty, a, b)
end

local function unary(op, x)
  local a = num(lift(x, op), op)
  if isconst(a) then return const(fold1[op](a.k)) end
  local ty = (op == "neg" or op == "abs") and a.ty or "f"
  return node(op, ty, a)
end

local function logical(op, x, y)
  local a = bool(lift(x, "logical_" .. op), "logical_" .. op)
  if op == "not" then
    if isconst(a) then return const(a.k == 0) end
    if a.op == "not" then return a.a end
    return node("not", "b", a)
  end
  local b = bool(lift(y, "logical_" .. op), "logical_" .. op)
  if isconst(a) and isconst(b) then
    if op == "and" then return const(a.k ~= 0 and b.k ~= 0) end
    return const(a.k ~= 0 or b.k ~= 0)
  end
  -- a constant operand decides or disappears
  if isconst(b) then a, b = b, a end
  if isconst(a) then
    if op == "and" then if a.k ~= 0 then return b else return a end end
    if a.k ~= 0 then return a else return b end
  end
  if a.id > b.id then a, b = b, a end
  return node(op, "b", a, b)
end

local function where(c, x, y)
  local cn = bool(lift(c, "where"), "fokus.where (condition)")
  local a, b = lift(x, "where"), lift(y, "where")
  if (a.ty == "b") ~= (b.ty == "b") then fail("fokus.where: one branch is a boolean, the other a number", 2) end
  if isconst(cn) then if cn.k ~= 0 then return a else return b end end
  if rawequal(a, b) then return a end
  local ty = a.ty == "b" and "b" or ((a.ty == "i" and b.ty == "i") and "i" or "f")
  return node("where", ty, cn, a, b)
end

-- Captured tensors: t[i][j]... with symbolic (or integer) indices.
local function tensor_id(t)
  local id = cur.tensor_ids[t]
  if not id then
    cur.tensors[#cur.tensors + 1] = t
    id = #cur.tensors
    cur.tensor_ids[t] = id
  end
  return id
end

local function index_value(key)
  if is_sym(key) then
    if key.ty ~= "i" then
      fail("a captured tensor index must be an integer, got a " .. (key.ty == "b" and "boolean" or "float") ..
           " value (indices are 1-based integers like b, h, q, k)", 4)
    end
    return key
  end
  if type(key) == "number" and is_integral(key) then return const(key) end
  fail("a captured tensor index must be a symbolic integer or an integer, got " .. tostring(key), 4)
end

local function gather_step(t, idx)
  local shape = t:shape()
  local rank = #shape
  if #idx > rank then
    fail("captured tensor " .. tostring(t) .. " is " .. rank .. "-d, indexed with " .. #idx .. " indices", 3)
  end
  if rank > 4 then fail("captured tensor " .. tostring(t) .. " is " .. rank .. "-d, at most 4-d", 3) end
  if #idx < rank then
    return setmetatable({t = t, idx = idx, rank = rank, tname = tostring(t)}, Partial)
  end
  local id = tensor_id(t)
  local ids = {}
  for i = 1, #idx do ids[i] = idx[i].id end
  local dt = t:dtype()
  local ty = (dt == "bool") and "b" or ((dt == "f32" or dt == "f16" or dt == "bf16") and "f" or "i")
  local n = node("gather", ty, nil, nil, nil, id .. ":" .. table.concat(ids, ","))
  n.t = id
  n.idx = idx
  return n
end

Partial.__index = function(p, key)
  if type(key) == "string" then
    fail("captured tensor " .. p.tname .. " is " .. p.rank .. "-d, indexed with " .. #p.idx ..
         (#p.idx == 1 and " index" or " indices") .. " before '" .. key .. "'", 2)
  end
  local idx = {}
  for i = 1, #p.idx do idx[i] = p.idx[i] end
  idx[#idx + 1] = index_value(key)
  return gather_step(p.t, idx)
end

-- Called by the Tensor metatable's __index for a symbolic key (see below).
Sym.__fokus_index = function(t, key)
  if not cur then error("a symbolic value from a finished trace was used to index a tensor", 3) end
  return gather_step(t, {index_value(key)})
end

-- Operators and methods.
Sym.__add = function(x, y) return binary("add", x, y) end
Sym.__sub = function(x, y) return binary("sub", x, y) end
Sym.__mul = function(x, y) return binary("mul", x, y) end
Sym.__div = function(x, y) return binary("div", x, y) end
Sym.__mod = function(x, y) return binary("mod", x, y) end
Sym.__pow = function(x, y) return binary("pow", x, y) end
Sym.__unm = function(x) return unary("neg", x) end
Sym.__band = function(x, y) return logical("and", x, y) end
Sym.__bor = function(x, y) return logical("or", x, y) end
Sym.__bnot = function(x) return logical("not", x) end
Partial.__add, Partial.__sub, Partial.__mul, Partial.__div = Sym.__add, Sym.__sub, Sym.__mul, Sym.__div
Partial.__mod, Partial.__pow, Partial.__unm = Sym.__mod, Sym.__pow, Sym.__unm

local function refuse(what)
  return function() fail(what .. " on a symbolic value cannot be recorded (" .. HINT .. ")", 2) end
end
Sym.__lt = refuse("'<' / '>'")
Sym.__le = refuse("'<=' / '>='")
Sym.__eq = refuse("'==' / '~='")
Sym.__concat = refuse("'..'")
Sym.__len = refuse("'#'")
Sym.__call = refuse("calling")
Sym.__idiv = refuse("'//'")
Sym.__shl = refuse("'<<'")
Sym.__shr = refuse("'>>'")
Sym.__bxor = refuse("binary '~'")
Sym.__tostring = function(x)
  return "fokus.Sym(" .. ({i = "integer", f = "float", b = "boolean"})[x.ty] .. " " .. x.op .. ")"
end

for _, op in ipairs{"lt", "le", "gt", "ge", "eq", "ne"} do
  methods[op] = function(x, y) return binary(op, x, y) end
end
methods.logical_and = function(x, y) return logical("and", x, y) end
methods.logical_or = function(x, y) return logical("or", x, y) end
methods.logical_not = function(x) return logical("not", x) end
for _, op in ipairs{"abs", "exp", "log", "tanh", "sqrt"} do
  methods[op] = function(x) return unary(op, x) end
end
methods.min = function(x, y) return binary("min", x, y) end
methods.max = function(x, y) return binary("max", x, y) end

-- fokus.where / abs / min / max / exp / log / tanh / sqrt: symbolic when any argument
-- is (or is a table whose metatable has __fokus_op: the tests' numeric stand-ins).
Sym.__fokus_op = function(name, ...)
  if name == "where" then return where(...) end
  if name == "min" or name == "max" then return binary(name, ...) end
  return unary(name, ...)
end

local function hook_of(...)
  for i = 1, select("#", ...) do
    local mt = getmetatable((select(i, ...)))
    if type(mt) == "table" and rawget(mt, "__fokus_op") then return rawget(mt, "__fokus_op") end
  end
  return nil
end

-- Lowering: post-order over the DAG from the result, one instruction per node.
local function lower(result)
  local ins, index = {}, {}
  local function emit(n)
    if index[n] then return index[n] end
    local e = {op = n.op}
    if n.a then e.a = emit(n.a) end
    if n.b then e.b = emit(n.b) end
    if n.c then e.c = emit(n.c) end
    if n.op == "const" or n.op == "bconst" then e.k = n.k end
    if n.op == "gather" then
      e.t = n.t
      e.idx = {}
      for i = 1, #n.idx do e.idx[i] = emit(n.idx[i]) end
    end
    ins[#ins + 1] = e
    index[n] = #ins
    return #ins
  end
  emit(result)
  return ins
end

local function trace(kind, fn, what)
  if type(fn) ~= "function" then
    error(what .. ": expected a function, got " .. type(fn), 3)
  end
  if cur then error(what .. ": cannot trace inside another trace", 3) end
  local tr = {memo = {}, count = 0, tensors = {}, tensor_ids = {}, what = what}
  cur = tr
  local args
  if kind == "score" then
    args = {node("score", "f"), node("b", "i"), node("h", "i"), node("q", "i"), node("k", "i")}
  else
    args = {node("b", "i"), node("h", "i"), node("q", "i"), node("k", "i")}
  end
  local ok, res = xpcall(function() return fn(unpack(args)) end,
                         function(e)
                           if type(e) == "string" and not e:find("fokus.where", 1, true) then
                             e = e .. " (while tracing " .. what .. ": " .. HINT .. ")"
                           end
                           return e
                         end)
  if not ok then
    cur = nil
    error(res, 0) -- already carries the position in fn
  end
  local okl, r = pcall(function()
    if kind == "mask" then
      if type(res) ~= "boolean" and not is_sym(res) then
        fail("the function must return a symbolic boolean (or true / false), got " ..
             (is_partial(res) and "a partly indexed tensor" or type(res)))
      end
      local n = lift(res, "the result")
      if n.ty ~= "b" then fail("the function must return a boolean (a comparison such as k:le(q)), got a number") end
      return n
    end
    if type(res) ~= "number" and not is_sym(res) then
      fail("the function must return a number or a symbolic number, got " ..
           (is_partial(res) and "a partly indexed tensor" or type(res)))
    end
    local n = lift(res, "the result")
    if n.ty == "b" then
      fail("the function must return a number, got a boolean (use fokus.where(cond, score, -math.huge) to mask)")
    end
    return n
  end)
  cur = nil
  if not okl then error(r, 0) end
  return core_program(kind, lower(r), tr.tensors)
end

function M.install(fokus)
  local core = fokus.core
  core_program = core.mod_program

  function fokus.score_mod(fn) return trace("score", fn, "score_mod") end
  function fokus.mask_mod(fn) return trace("mask", fn, "mask_mod") end
  fokus.block_mask = core.block_mask

  -- Element-wise helpers that also take symbolic values.
  local prev = {}
  for _, name in ipairs{"where", "abs", "min", "max", "exp", "log", "tanh", "sqrt"} do prev[name] = fokus[name] end
  local is_tensor = fokus.is_tensor
  function fokus.where(c, a, b, opts)
    local h = hook_of(c, a, b)
    if h then return h("where", c, a, b) end
    if type(c) == "boolean" and not is_tensor(a) and not is_tensor(b) then
      if c then return a else return b end
    end
    if prev.where then return prev.where(c, a, b, opts) end
    error("fokus.where: expected a symbolic or Lua boolean condition (tensor where is not available in this build)", 2)
  end
  for _, name in ipairs{"abs", "exp", "log", "tanh", "sqrt"} do
    local f = name == "tanh" and fold1.tanh or math[name]
    fokus[name] = function(x, opts)
      local h = hook_of(x)
      if h then return h(name, x) end
      if type(x) == "number" then return f(x) end
      if is_tensor(x) then
        if prev[name] then return prev[name](x, opts) end
        local m = x[name]
        if m then return m(x, opts) end
      end
      error("fokus." .. name .. ": expected a number, tensor or symbolic value, got " .. type(x), 2)
    end
  end
  for _, name in ipairs{"min", "max"} do
    local f = math[name]
    fokus[name] = function(a, b, ...)
      local h = hook_of(a, b)
      if h then return h(name, a, b) end
      if type(a) == "number" and type(b) == "number" then return f(a, b) end
      if prev[name] then return prev[name](a, b, ...) end
      error("fokus." .. name .. ": expected numbers or symbolic values (element-wise " .. name ..
            " of tensors is not available in this build)", 2)
    end
  end

  -- Captured tensors indexed with symbolic values: the Tensor metatable's __index
  -- hands keys whose metatable has __fokus_index to it; method lookup (string keys)
  -- stays one table read.
  local mt = getmetatable(fokus.zeros{1})
  local old = rawget(mt, "__methods") or mt.__index -- the method table, also when loaded again
  if type(old) == "table" then
    mt.__index = function(t, key)
      local m = old[key]
      if m ~= nil then return m end
      local kmt = getmetatable(key)
      if type(kmt) == "table" and rawget(kmt, "__fokus_index") then return rawget(kmt, "__fokus_index")(t, key) end
      return nil
    end
  elseif type(old) == "function" then
    mt.__index = function(t, key)
      local kmt = type(key) == "table" and getmetatable(key)
      if kmt and rawget(kmt, "__fokus_index") then return rawget(kmt, "__fokus_index")(t, key) end
      return old(t, key)
    end
  end

  fokus.mods = require("fokus.stock_mods")(fokus)
  return fokus
end

return M
