local fokus = require 'fokus'

-- ---------------------------------------------------------------------------------
-- An independent evaluation of a mod function on numbers: Num values behave like the
-- symbolic ones (operators, methods, fokus.where & co., captured tensor indexing) but
-- compute at once in double precision, with Lua's own arithmetic.
-- ---------------------------------------------------------------------------------
local Num = {}
local NumPartial = {}
local nmethods = {}
local function num(v, b) return setmetatable({v = v, b = b or false}, Num) end
local function val(x)
  if getmetatable(x) == Num then return x.v end
  if type(x) == 'boolean' then return x and 1 or 0 end
  return x
end
local function isbool(x)
  if getmetatable(x) == Num then return x.b end
  return type(x) == 'boolean'
end
local function lmod(a, b)
  local m = math.fmod(a, b)
  if m ~= 0 and (m < 0) ~= (b < 0) then m = m + b end
  return m
end
Num.__index = function(_, key) return nmethods[key] end
Num.__add = function(a, b) return num(val(a) + val(b)) end
Num.__sub = function(a, b) return num(val(a) - val(b)) end
Num.__mul = function(a, b) return num(val(a) * val(b)) end
Num.__div = function(a, b) return num(val(a) / val(b)) end
Num.__mod = function(a, b) return num(lmod(val(a), val(b))) end
Num.__pow = function(a, b) return num(val(a) ^ val(b)) end
Num.__unm = function(a) return num(-val(a)) end
Num.__band = function(a, b) return num((val(a) ~= 0 and val(b) ~= 0) and 1 or 0, true) end
Num.__bor = function(a, b) return num((val(a) ~= 0 or val(b) ~= 0) and 1 or 0, true) end
Num.__bnot = function(a) return num(val(a) == 0 and 1 or 0, true) end
local cmps = {
  lt = function(a, b) return a < b end, le = function(a, b) return a <= b end,
  gt = function(a, b) return a > b end, ge = function(a, b) return a >= b end,
  eq = function(a, b) return a == b end, ne = function(a, b) return a ~= b end,
}
for name, f in pairs(cmps) do
  nmethods[name] = function(a, b) return num(f(val(a), val(b)) and 1 or 0, true) end
end
nmethods.logical_and = Num.__band
nmethods.logical_or = Num.__bor
nmethods.logical_not = Num.__bnot
local function dtanh(x)
  if x > 20 then return 1 elseif x < -20 then return -1 end
  local e = math.exp(2 * x)
  return (e - 1) / (e + 1)
end
local unary = {abs = math.abs, exp = math.exp, log = math.log, tanh = dtanh, sqrt = math.sqrt}
for name, f in pairs(unary) do nmethods[name] = function(a) return num(f(val(a))) end end
Num.__fokus_op = function(name, a, b, c)
  if name == 'where' then
    if val(a) ~= 0 then return getmetatable(b) == Num and b or num(val(b), isbool(b)) end
    return getmetatable(c) == Num and c or num(val(c), isbool(c))
  end
  if name == 'min' then return num(math.min(val(a), val(b))) end
  if name == 'max' then return num(math.max(val(a), val(b))) end
  return num(unary[name](val(a)))
end
-- captured tensors: t[i][j] with the documented clamp into 1..n
local function index_tensor(t, idx)
  local shape = t:shape()
  if #idx < #shape then return setmetatable({t = t, idx = idx}, NumPartial) end
  local args = {}
  for d = 1, #idx do
    local i = val(idx[d])
    if not (i >= 1) then i = 1 end
    if i > shape[d] then i = shape[d] end
    args[d] = math.floor(i)
  end
  local x = t:get((table.unpack or unpack)(args))
  if t:dtype() == 'bool' then return num(x ~= 0 and x ~= false and 1 or 0, true) end
  return num(x)
end
Num.__fokus_index = function(t, key) return index_tensor(t, {key}) end
NumPartial.__index = function(p, key)
  local idx = {}
  for i = 1, #p.idx do idx[i] = p.idx[i] end
  idx[#idx + 1] = key
  return index_tensor(p.t, idx)
end

-- ---------------------------------------------------------------------------------
-- The materialized reference: scores in double, the mod functions applied on Nums,
-- softmax; q [B, H, Nq, d], k/v [B, Hkv, Nk, *]; returns out, lse, probs tables.
-- ---------------------------------------------------------------------------------
local function reference(q, k, v, opts)
  local Q, K, V = q:totable(), k:totable(), v:totable()
  local B, Hq, Hkv = #Q, #Q[1], #K[1]
  local d = #Q[1][1][1]
  local scale = opts.scale or 1 / math.sqrt(d)
  local out, lse, probs = {}, {}, {}
  for b = 1, B do
    out[b], lse[b], probs[b] = {}, {}, {}
    for h = 1, Hq do
      local g = math.floor((h - 1) / (Hq / Hkv)) + 1
      out[b][h], lse[b][h], probs[b][h] = {}, {}, {}
      for i = 1, #Q[b][h] do
        local s, m = {}, -math.huge
        for j = 1, #K[b][g] do
          local t = 0
          for c = 1, d do t = t + Q[b][h][i][c] * K[b][g][j][c] end
          t = t * scale
          if opts.causal and j > i then t = -math.huge end
          if opts.score and t ~= -math.huge then t = val(opts.score(num(t), num(b), num(h), num(i), num(j))) end
          if opts.mask and val(opts.mask(num(b), num(h), num(i), num(j))) == 0 then t = -math.huge end
          s[j] = t
          if t > m then m = t end
        end
        local l = 0
        local p = {}
        for j = 1, #s do
          p[j] = (m > -math.huge) and math.exp(s[j] - m) or 0
          l = l + p[j]
        end
        out[b][h][i] = {}
        for c = 1, #V[b][g][1] do
          local acc = 0
          for j = 1, #s do acc = acc + p[j] * V[b][g][j][c] end
          out[b][h][i][c] = l > 0 and acc / l or 0
        end
        for j = 1, #s do p[j] = l > 0 and p[j] / l or 0 end
        probs[b][h][i] = p
        lse[b][h][i] = l > 0 and m + math.log(l) or -math.huge
      end
    end
  end
  return out, lse, probs
end

local function maxdiff(a, b)
  local m = 0
  local function walk(x, y)
    if type(x) == 'table' then
      assert(type(y) == 'table' and #x == #y, 'shapes differ')
      for i = 1, #x do walk(x[i], y[i]) end
    else
      local dd = (x == y) and 0 or math.abs(x - y)
      if dd ~= dd then dd = math.huge end
      if dd > m then m = dd end
    end
  end
  walk(a, b)
  return m
end

-- attend with the traced mods (+ lse and probs) against the reference
local function check(q, k, v, fns, extra, tol)
  local opts = {lse = true, probs = true}
  for key, x in pairs(extra or {}) do opts[key] = x end
  -- either the mod to test, or the same function traced
  opts.score_mod = fns.score_mod or (fns.score and fokus.score_mod(fns.score))
  opts.mask_mod = fns.mask_mod or (fns.mask and fokus.mask_mod(fns.mask))
  local o, l, p = fokus.attend(q, k, v, opts)
  local ro, rl, rp = reference(q, k, v, {score = fns.score, mask = fns.mask, causal = opts.causal, scale = opts.scale})
  tol = tol or 2e-5
  assert.is_true(maxdiff(o:totable(), ro) < tol, 'out differs by ' .. maxdiff(o:totable(), ro))
  assert.is_true(maxdiff(l:totable(), rl) < tol, 'lse differs by ' .. maxdiff(l:totable(), rl))
  assert.is_true(maxdiff(p:totable(), rp) < tol, 'probs differ by ' .. maxdiff(p:totable(), rp))
  return o, l, p
end

local function qkv(B, H, Hkv, Nq, Nk, d, seed)
  return fokus.randn({B, H, Nq, d}, {seed = seed}), fokus.randn({B, Hkv, Nk, d}, {seed = seed + 1}),
         fokus.randn({B, Hkv, Nk, d}, {seed = seed + 2})
end

describe('fokus.score_mod / fokus.mask_mod', function()
  it('trace once into a compact program (constants folded, common subexpressions shared)', function()
    local calls = 0
    local m = fokus.score_mod(function(s, b, h, q, k)
      calls = calls + 1
      local d = k - q
      return s + (2 * 3) * d + (k - q) * (1 + 1) -- k - q once; 2 * 3 and 1 + 1 folded
    end)
    assert.are.equal(1, calls)
    -- score, k, q, sub, const 6, mul, add, const 2, mul, add
    assert.is_true(m:size() <= 10)
    assert.are.equal('score', m:kind())
    assert.is_near(5 + 6 * (7 - 3) + (7 - 3) * 2, m:eval(5, 1, 1, 3, 7), 1e-12)
    assert.matches('fokus.Mod%(score', tostring(m))
    local c = fokus.mask_mod(function(b, h, q, k) return true end)
    assert.are.equal(1, c:size())
    assert.is_true(c:eval(1, 1, 1, 1))
  end)

  it('stock mods match the same functions applied to a materialized score matrix', function()
    local q, k, v = qkv(2, 2, 1, 50, 50, 8, 11)
    local slopes = fokus.mods.alibi_slopes(2)
    local S = slopes:totable()
    check(q, k, v, {mask_mod = fokus.mods.causal, mask = function(b, h, i, j) return j:le(i) end})
    check(q, k, v, {mask_mod = fokus.mods.sliding_window(9),
                    mask = function(b, h, i, j) return j:le(i):logical_and((i - j):lt(9)) end})
    check(q, k, v, {mask_mod = fokus.mods.sliding_window(5, {causal = false}),
                    mask = function(b, h, i, j) return num(math.abs(val(i) - val(j)) < 5 and 1 or 0, true) end})
    check(q, k, v, {score_mod = fokus.mods.alibi(slopes),
                    score = function(s, b, h, i, j) return s + S[val(h)] * (j - i) end})
    check(q, k, v, {score_mod = fokus.mods.alibi({0.5, 0.25}),
                    score = function(s, b, h, i, j) return s + 0.5 ^ val(h) * (j - i) end}, {causal = true})
    check(q, k, v, {score_mod = fokus.mods.softcap(2),
                    score = function(s) return 2 * dtanh(val(s) / 2) end}, {scale = 1})
    local ids = {}
    for b = 1, 2 do
      ids[b] = {}
      for i = 1, 50 do ids[b][i] = math.floor(i * (b + 1) / 23) end
    end
    check(q, k, v, {mask_mod = fokus.mods.document(fokus.tensor(ids, 'i64')),
                    mask = function(b, h, i, j) return num(ids[val(b)][val(i)] == ids[val(b)][val(j)] and 1 or 0, true) end})
    check(q, k, v, {mask_mod = fokus.mods.document(fokus.tensor(ids[1], 'i32')),
                    mask = function(b, h, i, j) return num(ids[1][val(i)] == ids[1][val(j)] and 1 or 0, true) end})
    check(q, k, v, {mask_mod = fokus.mods.prefix_lm(20),
                    mask = function(b, h, i, j) return num((val(j) <= 20 or val(j) <= val(i)) and 1 or 0, true) end})
    local w = {}
    for j = 1, 50 do w[j] = (j % 5 == 0) and 0 or (0.25 + j / 50) end -- 0 masks the key
    check(q, k, v, {score_mod = fokus.mods.token_weights(w),
                    score = function(s, b, h, i, j) return s + math.log(w[val(j)]) end})
    local wf = fokus.tensor(w, 'f16'):totable() -- the weights as f16 holds them
    check(q, k, v, {score_mod = fokus.mods.token_weights(fokus.tensor({w, w}, 'f16')),
                    score = function(s, b, h, i, j) return s + math.log(wf[val(j)]) end})
  end)

  it('handle GQA, batches, ragged sizes, fully masked rows, scale, causal and captured f16/bf16/int tensors', function()
    local q, k, v = qkv(2, 4, 1, 77, 45, 8, 21)
    local doc = fokus.tensor({{1, 1, 2, 2, 3}, {4, 4, 4, 5, 5}}, 'i64')
    local bias = fokus.tensor({0.5, -1, 2, 0.25}, 'bf16')
    local fn = function(s, b, h, i, j) return s * 0.5 + bias[h] + fokus.where(doc[b][(j % 5) + 1]:eq(doc[b][1]), 1, -1) end
    -- queries 1..3 see nothing: k <= q - 3
    local mask = function(b, h, i, j) return j:le(i - 3) end
    check(q, k, v, {score = fn, mask = mask})
    local o, l = check(q, k, v, {score = fn, mask = mask}, {scale = 0.3})
    local ot, lt = o:totable(), l:totable()
    for i = 1, 3 do
      assert.are.equal(-math.huge, lt[1][1][i])
      for c = 1, 8 do assert.are.equal(0, ot[2][4][i][c]) end
    end
    check(q, k, v, {score = function(s, b, h, i, j) return fokus.tanh(s) * 3 end}, {causal = true})
    -- 3-d inputs (b is 1)
    local q3, k3, v3 = fokus.randn({2, 20, 8}, {seed = 5}), fokus.randn({2, 33, 8}, {seed = 6}), fokus.randn({2, 33, 8}, {seed = 7})
    local o3, l3 = fokus.attend(q3, k3, v3, {score_mod = fokus.mods.softcap(1), lse = true})
    local r3 = reference(q3:reshape{1, 2, 20, 8}, k3:reshape{1, 2, 33, 8}, v3:reshape{1, 2, 33, 8},
                         {score = function(s) return fokus.tanh(s) end})
    assert.is_true(maxdiff(o3:totable(), r3[1]) < 2e-5)
  end)

  it('write into opts.out and reuse the block mask cached in the mod', function()
    local q, k, v = qkv(1, 2, 2, 40, 40, 8, 51)
    local buf = fokus.zeros{1, 2, 40, 8}
    local m = fokus.mods.sliding_window(7)
    local r = fokus.attend(q, k, v, {mask_mod = m, score_mod = fokus.mods.softcap(5), out = buf})
    assert.are.equal(buf, r)
    local again = fokus.attend(q, k, v, {mask_mod = m, score_mod = fokus.mods.softcap(5)})
    assert.are.equal(0, maxdiff(buf:totable(), again:totable()))
    local ro = reference(q, k, v, {score = function(s) return 5 * fokus.tanh(s / 5) end,
                                   mask = function(b, h, i, j) return j:le(i):logical_and((i - j):lt(7)) end})
    assert.is_true(maxdiff(buf:totable(), ro) < 2e-5)
    -- another shape through the same mod: the cache follows
    local q2, k2, v2 = qkv(1, 2, 2, 17, 17, 8, 61)
    local o2 = fokus.attend(q2, k2, v2, {mask_mod = m})
    local r2 = reference(q2, k2, v2, {mask = function(b, h, i, j) return j:le(i):logical_and((i - j):lt(7)) end})
    assert.is_true(maxdiff(o2:totable(), r2) < 2e-5)
  end)

  it('run random programs over every operation like the reference evaluator and Lua on numbers', function()
    -- expression trees as data, turned into ordinary mod functions
    local seed = 12345
    local function rnd()
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    end
    local function pick(t) return t[math.floor(rnd() * #t) + 1] end
    local cap_f = fokus.tensor({0.5, -1.25, 2, 0.75}, 'f16')
    local cap_i = fokus.tensor({{3, 1, 4, 1, 5, 9, 2, 6}, {2, 7, 1, 8, 2, 8, 1, 8}}, 'i32')
    local cap_b = fokus.tensor({{1, 0, 1, 1, 0, 1, 0, 0}}, 'bool')
    local gen
    local function gen_int(dep)
      if dep <= 0 or rnd() < 0.3 then
        local r = rnd()
        if r < 0.8 then return {pick{'b', 'h', 'q', 'k'}} end
        return {'const', math.floor(rnd() * 9) - 4}
      end
      local r = math.floor(rnd() * 8)
      if r == 0 then return {'+', gen_int(dep - 1), gen_int(dep - 1)} end
      if r == 1 then return {'-', gen_int(dep - 1), gen_int(dep - 1)} end
      if r == 2 then return {'*', gen_int(dep - 1), {'const', math.floor(rnd() * 5) - 2}} end
      if r == 3 then return {'%', gen_int(dep - 1), {'const', pick{2, 3, -3, 5, 7}}} end
      if r == 4 then return {pick{'min', 'max'}, gen_int(dep - 1), gen_int(dep - 1)} end
      if r == 5 then return {pick{'neg', 'abs'}, gen_int(dep - 1)} end
      if r == 6 then return {'where', gen(2, dep - 1), gen_int(dep - 1), gen_int(dep - 1)} end
      return {'ci', gen_int(dep - 1)}
    end
    local function gen_float(dep, score)
      if dep <= 0 or rnd() < 0.2 then
        local r = rnd()
        if score and r < 0.5 then return {'score'} end
        if r < 0.8 then return {'const', math.floor(rnd() * 16 - 8) / 4 + 0.5} end
        return {'cf', gen_int(1)}
      end
      local r = math.floor(rnd() * 11)
      if r == 0 then return {'+', gen_float(dep - 1, score), gen(pick{0, 1}, dep - 1, score)} end
      if r == 1 then return {'-', gen_float(dep - 1, score), gen_float(dep - 1, score)} end
      if r == 2 then return {'tanh', {'*', gen_float(dep - 1, score), gen_float(dep - 1, score)}} end
      if r == 3 then return {'/', gen_float(dep - 1, score), {'+', {'abs', gen(pick{0, 1}, dep - 1, score)}, {'const', 1}}} end
      if r == 4 then return {'exp', {'tanh', gen_float(dep - 1, score)}} end
      if r == 5 then return {'log', {'+', {'abs', gen_float(dep - 1, score)}, {'const', 0.5}}} end
      if r == 6 then return {'sqrt', {'abs', gen_float(dep - 1, score)}} end
      if r == 7 then return {'^', {'+', {'abs', {'tanh', gen_float(dep - 1, score)}}, {'const', 0.25}}, {'const', pick{0.5, 1.5, 2, 3, -1}}} end
      if r == 8 then return {'where', gen(2, dep - 1, score), gen_float(dep - 1, score), gen_float(dep - 1, score)} end
      if r == 9 then return {pick{'min', 'max'}, gen_float(dep - 1, score), gen_float(dep - 1, score)} end
      return {'neg', gen_float(dep - 1, score)}
    end
    local function gen_bool(dep, score)
      if dep <= 0 or rnd() < 0.2 then
        if rnd() < 0.2 then return {'bconst', rnd() < 0.5} end
        return {'cb', gen_int(1)}
      end
      local r = math.floor(rnd() * 5)
      if r <= 1 then
        local op = pick{'lt', 'le', 'gt', 'ge', 'eq', 'ne'}
        if rnd() < 0.6 then return {op, gen_int(dep - 1), gen_int(dep - 1)} end
        return {op, gen_float(dep - 1, score), gen_float(dep - 1, score)}
      end
      if r == 2 then return {'and', gen_bool(dep - 1, score), gen_bool(dep - 1, score)} end
      if r == 3 then return {'or', gen_bool(dep - 1, score), gen_bool(dep - 1, score)} end
      return {'not', gen_bool(dep - 1, score)}
    end
    gen = function(kind, dep, score)
      if kind == 2 then return gen_bool(dep, score) end
      if kind == 1 then return gen_int(dep) end
      return gen_float(dep, score)
    end
    local mirror = {lt = 'gt', le = 'ge', gt = 'lt', ge = 'le', eq = 'eq', ne = 'ne'}
    local plain = {lt = function(a, b) return a < b end, le = function(a, b) return a <= b end,
                   gt = function(a, b) return a > b end, ge = function(a, b) return a >= b end,
                   eq = function(a, b) return a == b end, ne = function(a, b) return a ~= b end}
    local function cmp(op, a, b) -- constants are plain Lua values, which have no methods
      if type(a) == 'number' and type(b) == 'number' then return plain[op](a, b) end
      if type(a) == 'number' then return b[mirror[op]](b, a) end
      return a[op](a, b)
    end
    local function land(a, b)
      if type(a) == 'boolean' then if a then return b else return false end end
      if type(b) == 'boolean' then if b then return a else return false end end
      return a:logical_and(b)
    end
    local function lor(a, b)
      if type(a) == 'boolean' then if a then return true else return b end end
      if type(b) == 'boolean' then if b then return true else return a end end
      return a:logical_or(b)
    end
    local function index(a, env, n) -- a symbolic/Num index into 1..n
      if type(a) == 'number' then a = env.k * 0 + a end
      return a % n + 1
    end
    local function run(e, env)
      local op = e[1]
      if op == 'const' or op == 'bconst' then return e[2] end
      if env[op] ~= nil then return env[op] end
      local a = e[2] and type(e[2]) == 'table' and run(e[2], env)
      local b = e[3] and type(e[3]) == 'table' and run(e[3], env)
      if op == '+' then return a + b elseif op == '-' then return a - b elseif op == '*' then return a * b
      elseif op == '/' then return a / b elseif op == '%' then return a % b elseif op == '^' then return a ^ b
      elseif op == 'neg' then return -a
      elseif op == 'min' or op == 'max' then return fokus[op](a, b)
      elseif op == 'abs' or op == 'exp' or op == 'log' or op == 'tanh' or op == 'sqrt' then return fokus[op](a)
      elseif op == 'where' then return fokus.where(a, b, run(e[4], env))
      elseif op == 'and' then return land(a, b) elseif op == 'or' then return lor(a, b)
      elseif op == 'not' then if type(a) == 'boolean' then return not a end return a:logical_not()
      elseif op == 'ci' then return cap_i[env.b][index(a, env, 8)]
      elseif op == 'cf' then return cap_f[index(a, env, 4)]
      elseif op == 'cb' then return cap_b[index(0, env, 1)][index(a, env, 8)]
      else return cmp(op, a, b) end
    end
    local q, k, v = qkv(2, 4, 2, 21, 19, 8, 31)
    local ops_seen = {}
    local function note(e)
      if type(e) ~= 'table' then return end
      ops_seen[e[1]] = true
      for i = 2, #e do note(e[i]) end
    end
    for trial = 1, 30 do
      local sexpr, mexpr = gen(0, 4, true), gen_bool(3, false)
      note(sexpr)
      note(mexpr)
      local score = function(s, b, h, i, j) return run(sexpr, {score = s, b = b, h = h, q = i, k = j}) end
      local mask = function(b, h, i, j) return run(mexpr, {b = b, h = h, q = i, k = j}) end
      local sm, mm = fokus.score_mod(score), fokus.mask_mod(mask)
      -- the C reference evaluator against Lua on numbers, point by point
      for _ = 1, 20 do
        local b, h, i, j = math.floor(rnd() * 2) + 1, math.floor(rnd() * 4) + 1, math.floor(rnd() * 21) + 1,
                           math.floor(rnd() * 19) + 1
        local s = rnd() * 6 - 3
        local want = val(score(num(s), num(b), num(h), num(i), num(j)))
        local got = sm:eval(s, b, h, i, j)
        assert.is_true(want ~= want and got ~= got or math.abs(got - want) <= 1e-9 * (1 + math.abs(want)),
                       'trial ' .. trial .. ': eval ' .. got .. ' vs ' .. want)
        assert.are.equal(val(mask(num(b), num(h), num(i), num(j))) ~= 0, mm:eval(b, h, i, j))
      end
      -- and the kernel against the materialized reference
      check(q, k, v, {score = score, mask = mask, score_mod = sm, mask_mod = mm}, nil, 2e-4)
    end
    for _, op in ipairs{'+', '-', '*', '/', '%', '^', 'neg', 'abs', 'exp', 'log', 'tanh', 'sqrt', 'min', 'max',
                        'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or', 'not', 'where', 'ci', 'cf', 'cb'} do
      assert.is_true(ops_seen[op] ~= nil, 'op ' .. op .. ' never generated')
    end
  end)

  it('take & | ~ where the host has them, and the method forms everywhere', function()
    local m1 = fokus.mask_mod(function(b, h, q, k) return k:le(q):logical_and(k:gt(2)):logical_or(q:eq(1)) end)
    assert.is_true(m1:eval(1, 1, 5, 3))
    assert.is_false(m1:eval(1, 1, 5, 2))
    assert.is_true(m1:eval(1, 1, 1, 9))
    if _VERSION ~= 'Lua 5.1' and _VERSION ~= 'Lua 5.2' and not jit then
      local f = load('return function(b, h, q, k) return (k:le(q) & k:gt(2)) | ~(q:ne(1)) end')()
      local m2 = fokus.mask_mod(f)
      for _, p in ipairs{{5, 3}, {5, 2}, {1, 9}, {2, 9}} do
        assert.are.equal(m1:eval(1, 1, p[1], p[2]), m2:eval(1, 1, p[1], p[2]))
      end
    end
  end)

  it('fokus.where / abs / min / max / exp / log / tanh / sqrt fall back to numbers', function()
    assert.are.equal(1, fokus.where(true, 1, 2))
    assert.are.equal(2, fokus.where(false, 1, 2))
    assert.are.equal(2, fokus.abs(-2))
    assert.are.equal(1, fokus.min(1, 2))
    assert.are.equal(2, fokus.max(1, 2))
    assert.is_near(math.exp(0.3), fokus.exp(0.3), 1e-15)
    assert.is_near(math.log(3), fokus.log(3), 1e-15)
    assert.is_near(0.46211715726000974, fokus.tanh(0.5), 1e-15)
    assert.are.equal(3, fokus.sqrt(9))
    -- tensors keep their methods and plain indexing
    local t = fokus.zeros{2}
    assert.are.same({2}, t:shape())
    assert.is_nil(t.no_such_method)
  end)
end)

describe('definition-time errors', function()
  local function err_of(f, ...)
    local ok, e = pcall(f, ...)
    assert.is_false(ok)
    return tostring(e)
  end

  it('control flow on symbolic values names fokus.where and the method forms', function()
    local e = err_of(fokus.score_mod, function(s) if s > 0 then return s end return 0 end)
    assert.matches('fokus%.where', e)
    assert.matches(':lt', e)
    assert.matches('mods_spec%.lua', e) -- points at the user's line
    e = err_of(fokus.mask_mod, function(b, h, q, k) return k <= q end)
    assert.matches('fokus%.where', e)
    e = err_of(fokus.score_mod, function(s) return s .. 'x' end)
    assert.matches('fokus%.where', e)
    if not rawget(_G, "jit") then -- LuaJIT (5.1 semantics) ignores __len on tables
      e = err_of(fokus.score_mod, function(s) return #s end)
      assert.matches('fokus%.where', e)
    end
    e = err_of(fokus.score_mod, function(s) return s() end)
    assert.matches('fokus%.where', e)
    e = err_of(fokus.score_mod, function(s) return math.max(s, 0) end)
    assert.matches('fokus%.where', e)
    e = err_of(fokus.mask_mod, function(b, h, q, k) return q == k end)
    assert.matches('fokus%.where', e)
  end)

  it('check kinds, captured tensor ranks, constant zero divisors and results', function()
    assert.matches('expected a number, got a boolean',
                   err_of(fokus.score_mod, function(s, b, h, q, k) return s + k:le(q) end))
    assert.matches('expected a boolean, got a number',
                   err_of(fokus.mask_mod, function(b, h, q, k) return q:logical_and(k) end))
    assert.matches('one branch is a boolean',
                   err_of(fokus.score_mod, function(s, b, h, q, k) return fokus.where(k:le(q), s, k:gt(1)) end))
    assert.matches('condition',
                   err_of(fokus.score_mod, function(s, b, h, q, k) return fokus.where(s, s, 0) end))
    assert.matches('division by the constant 0', err_of(fokus.score_mod, function(s) return s / 0 end))
    assert.matches('modulo by the constant 0', err_of(fokus.score_mod, function(s, b, h, q, k) return s + q % (1 - 1) end))
    local t2 = fokus.zeros{4, 4}
    assert.matches('is 2%-d, indexed with 1 index', err_of(fokus.score_mod, function(s, b, h) return s + t2[h] end))
    assert.matches('is 2%-d, indexed with 3 indices',
                   err_of(fokus.score_mod, function(s, b, h, q, k) return s + t2[h][q][k] end))
    assert.matches('must be an integer',
                   err_of(fokus.score_mod, function(s, b, h, q) return s + t2[h][q / 2] end))
    assert.matches('must return a symbolic boolean',
                   err_of(fokus.mask_mod, function(b, h, q, k) return nil end))
    assert.matches('must return a boolean', err_of(fokus.mask_mod, function(b, h, q, k) return q - k end))
    assert.matches('must return a number, got a boolean',
                   err_of(fokus.score_mod, function(s, b, h, q, k) return k:le(q) end))
    assert.matches('expected a function', err_of(fokus.score_mod, 3))
    assert.matches('no field', err_of(fokus.score_mod, function(s) return s.foo end))
  end)

  it('attend checks the options and the captured tensor ranges before running', function()
    local q = fokus.randn{8, 4, 16}
    local slopes = fokus.zeros{4}
    local m = fokus.score_mod(function(s, b, h) return s + slopes[h] end)
    assert.matches('with h up to 8', err_of(fokus.attend, q, q, q, {score_mod = m}))
    assert.matches("score_mod' is a mask_mod", err_of(fokus.attend, q, q, q, {score_mod = fokus.mods.causal}))
    assert.matches("mask_mod' is a score_mod", err_of(fokus.attend, q, q, q, {mask_mod = m}))
    assert.matches('must be a fokus.Mod', err_of(fokus.attend, q, q, q, {score_mod = function() end}))
    local bm = fokus.block_mask(fokus.mods.causal, 1, 8, 5, 4)
    assert.matches('was built for 1x8x5x4', err_of(fokus.attend, q, q, q, {block_mask = bm}))
    assert.matches('block', err_of(fokus.block_mask, fokus.mods.causal, 1, 8, 4, 4, {block = 20}))
    assert.matches("unknown option 'blok'", err_of(fokus.block_mask, fokus.mods.causal, 1, 8, 4, 4, {blok = 16}))
    assert.matches('expected a mask_mod', err_of(fokus.block_mask, m, 1, 8, 4, 4))
  end)
end)

describe('fokus.block_mask', function()
  it('classifies tiles exactly and is reused across calls', function()
    local N = 300
    local bm = fokus.block_mask(fokus.mods.causal, 1, 1, N, N)
    local c = bm:counts()
    -- 5 x 5 tiles of 64: 5 partial on the diagonal, 10 full below, 10 empty above
    assert.are.same({empty = 10, partial = 5, full = 10}, c)
    assert.are.equal('full', bm:class(1, 1, 3, 1))
    assert.are.equal('empty', bm:class(1, 1, 1, 3))
    assert.are.equal('partial', bm:class(1, 1, 2, 2))
    -- window 40 in 16 x 16 tiles: diagonal partial, next full (q - k in 1..31), then
    -- two partial diagonals (17..47, 33..63), empty above
    local bm16 = fokus.block_mask(fokus.mods.sliding_window(40), 1, 1, 64, 64, {block = 16})
    assert.are.same({empty = 6, partial = 7, full = 3}, bm16:counts())
    local q, k, v = qkv(1, 2, 2, 64, 64, 8, 41)
    -- the block mask alone carries its mask_mod
    local o1 = fokus.attend(q, k, v, {block_mask = bm16})
    local o2 = fokus.attend(q, k, v, {mask_mod = fokus.mods.sliding_window(40)})
    local ro = reference(q, k, v, {mask = function(b, h, i, j) return j:le(i):logical_and((i - j):lt(40)) end})
    assert.is_true(maxdiff(o1:totable(), ro) < 2e-5)
    assert.is_true(maxdiff(o2:totable(), ro) < 2e-5)
    -- per-head and per-batch masks keep their own classes
    local hb = fokus.block_mask(fokus.mask_mod(function(b, h, q, k) return k:le(q * h) end), 2, 3, 128, 128)
    assert.are.equal(3 * 4, hb:counts().empty + hb:counts().partial + hb:counts().full)
    assert.matches('BlockMask%(2x3x128x128', tostring(hb))
  end)
end)
