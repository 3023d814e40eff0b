-- Element-wise tensor arithmetic from Lua: operators with numbers on either side,
-- methods, unary functions against double-precision references computed here in
-- Lua (ulp bounds as documented), broadcasting and its errors, f16/bf16 inputs,
-- opts.out (checks, strided views, aliasing), comparisons, where, logical ops,
-- fill/copy, and the creation functions (rand with fixed expected values).
local fokus = require 'fokus'

-- float32 rounding of a Lua number, through a 1-element tensor
local function f32(x) return fokus.tensor{x}:totable()[1] end

local function flat(t) return t:reshape{-1}:totable() end

-- |got - want| in float ulps at want (2^-149 below 2^-126)
local function ulps(got, want)
  if want ~= want then return got ~= got and 0 or math.huge end
  if want == math.huge or want == -math.huge then return got == want and 0 or math.huge end
  local a = math.abs(want)
  local u
  if a < 2 ^ -126 then u = 2 ^ -149 else
    local e = math.floor(math.log(a, 2))
    if 2 ^ e > a then e = e - 1 end
    if 2 ^ (e + 1) <= a then e = e + 1 end
    u = 2 ^ (e - 23)
  end
  return math.abs(got - want) / u
end

local function erfc(x)
  -- double-precision erfc for the gelu reference: a continued fraction for x > 3
  -- and the series of erf otherwise (both good to ~1e-15 relative where used)
  if x < 0 then return 2 - erfc(-x) end
  if x < 3 then
    local sum, term, n = x, x, 0
    repeat
      n = n + 1
      term = -term * x * x / n
      local add = term / (2 * n + 1)
      sum = sum + add
    until math.abs(add) <= 1e-17 * math.abs(sum) or n > 200
    return 1 - 2 / math.sqrt(math.pi) * sum
  end
  local f = 0
  for k = 60, 1, -1 do f = k / 2 / (x + f) end
  return math.exp(-x * x) / math.sqrt(math.pi) / (x + f)
end

local values = {0, 1, -1, 0.5, -0.5, 2, -2, 3.7, -3.7, 10, -10, 0.001, -0.001, 20, -20,
                 1e-30, 80, -80, 0.3, -0.3, 1.5, -5.25, 7, -7}

describe('tensor ops', function()
  it('operators take tensors and numbers on either side', function()
    local a = fokus.tensor{{1, 2, 3}, {4, 5, 6}}
    local b = fokus.tensor{10, 20, 30}
    assert.are.same({{11, 22, 33}, {14, 25, 36}}, (a + b):totable())
    assert.are.same({{2, 4, 6}, {8, 10, 12}}, (2 * a):totable())
    assert.are.same({{2, 4, 6}, {8, 10, 12}}, (a * 2):totable())
    assert.are.same({{0, 1, 2}, {3, 4, 5}}, (a - 1):totable())
    assert.are.same({{0, -1, -2}, {-3, -4, -5}}, (1 - a):totable())
    assert.are.same({{-1, -2, -3}, {-4, -5, -6}}, (-a):totable())
    assert.are.same({{1, 4, 9}, {16, 25, 36}}, (a ^ 2):totable())
    assert.are.same({{2, 4, 8}, {16, 32, 64}}, (2 ^ a):totable())
    assert.are.same({{0.5, 1, 1.5}, {2, 2.5, 3}}, (a / 2):totable())
    assert.are.same({{12, 6, 4}, {3, f32(12 / 5), 2}}, (12 / a):totable())
    assert.are.same({{10, 10, 10}, {2.5, 4, 5}}, (b / a):totable())
    assert.are.equal('f32', (a + 1):dtype())
    -- methods, and a 0-d result from two scalars is not possible from Lua (needs a tensor)
    assert.are.same({{11, 22, 33}, {14, 25, 36}}, a:add(b):totable())
    assert.are.same({{-9, -18, -27}, {-6, -15, -24}}, a:sub(b):totable())
    assert.are.same({{10, 40, 90}, {40, 100, 180}}, a:mul(b):totable())
    assert.are.same({{0.5, 1, 1.5}, {2, 2.5, 3}}, a:div(2):totable())
    assert.are.same({{1, 8, 27}, {64, 125, 216}}, a:pow(3):totable())
  end)

  it('add/sub/mul/div round once (as float32 of the double result)', function()
    local n = 257
    local x, y = {}, {}
    for i = 1, n do x[i] = math.sin(i) * 10 ^ (i % 7 - 3); y[i] = math.cos(3 * i) * 10 ^ (i % 5 - 2) end
    local a, b = fokus.tensor(x), fokus.tensor(y)
    local xa, ya = a:totable(), b:totable()
    local ops = {add = function(p, q) return p + q end, sub = function(p, q) return p - q end,
                 mul = function(p, q) return p * q end, div = function(p, q) return p / q end}
    for name, f in pairs(ops) do
      local got = a[name](a, b):totable()
      local want = {}
      for i = 1, n do want[i] = f(xa[i], ya[i]) end
      local wf = fokus.tensor(want):totable()
      for i = 1, n do
        if got[i] ~= wf[i] then error(name .. ': element ' .. i .. ': ' .. got[i] .. ' vs ' .. wf[i]) end
      end
    end
  end)

  it('unary functions stay within their ulp bounds of double precision', function()
    local x = fokus.tensor(values)
    local xs = x:totable()
    local sqrt2 = math.sqrt(2)
    local refs = {
      exp = {math.exp, 1.5}, log = {math.log, 1}, sqrt = {math.sqrt, 0.5},
      rsqrt = {function(v) return 1 / math.sqrt(v) end, 1.5}, abs = {math.abs, 0},
      tanh = {function(v)
        if math.abs(v) < 0.5 then -- sinh / cosh by their series: no cancellation
          local sh, ch, t = 0, 1, 1
          for k = 1, 12 do
            t = t * v / k
            if k % 2 == 0 then ch = ch + t else sh = sh + t end
          end
          return sh / ch
        end
        local e = math.exp(-2 * math.abs(v))
        local r = (1 - e) / (1 + e)
        return v < 0 and -r or r
      end, 3},
      sigmoid = {function(v) return 1 / (1 + math.exp(-v)) end, 3},
      silu = {function(v) return v / (1 + math.exp(-v)) end, 3.5},
      gelu = {function(v) return v * 0.5 * erfc(-v / sqrt2) end, 4},
      relu = {function(v) return v > 0 and v or 0 end, 0},
      sin = {math.sin, 2}, cos = {math.cos, 2}, floor = {math.floor, 0},
    }
    for name, r in pairs(refs) do
      local got = x[name](x):totable()
      for i = 1, #xs do
        local want = r[1](xs[i])
        if name == 'log' and xs[i] <= 0 then want = xs[i] == 0 and -math.huge or 0 / 0 end
        if name == 'sqrt' and xs[i] < 0 then want = 0 / 0 end
        if name == 'rsqrt' and xs[i] < 0 then want = 0 / 0 end
        if name == 'rsqrt' and xs[i] == 0 then want = math.huge end
        local e = ulps(got[i], want)
        assert(e <= r[2], string.format('%s(%.9g) = %.9g, want %.17g (%.2f ulp > %g)', name, xs[i], got[i],
          want, e, r[2]))
      end
    end
    -- tanh form of gelu; the function form fokus.gelu; bad option value
    local gt = x:gelu{approximate = 'tanh'}:totable()
    for i = 1, #xs do
      local v = xs[i]
      local want = v / (1 + math.exp(-2 * math.sqrt(2 / math.pi) * (v + 0.044715 * v ^ 3)))
      assert(ulps(gt[i], want) <= 5, 'gelu tanh at ' .. v)
    end
    assert.are.same(x:gelu():totable(), fokus.gelu(x):totable())
    assert.are.same(x:gelu{approximate = 'tanh'}:totable(), fokus.gelu(x, {approximate = 'tanh'}):totable())
    assert.has_error(function() x:gelu{approximate = 'fast'} end,
      'gelu: option \'approximate\' must be "none" or "tanh", got "fast"')
    assert.error_matches(function() x:gelu{aproximate = 'tanh'} end, "unknown option 'aproximate'")
  end)

  it('handles special values', function()
    local inf, nan = math.huge, 0 / 0
    local x = fokus.tensor{0, -0.0, inf, -inf, nan}
    local e = x:exp():totable()
    assert.are.same({1, 1, inf, 0}, {e[1], e[2], e[3], e[4]})
    assert.is_true(e[5] ~= e[5])
    local l = x:log():totable()
    assert.are.equal(-inf, l[1]); assert.are.equal(inf, l[3]); assert.is_true(l[4] ~= l[4])
    local g = x:gelu():totable()
    assert.are.same({0, 0, inf, 0}, {g[1], g[2], g[3], g[4]})
    assert.is_true(1 / g[4] < 0) -- gelu(-inf) = -0
    local r = x:relu():totable()
    assert.is_true(r[5] ~= r[5])
    local s = fokus.tensor{1e30, -1e22, 1e6}:sin():totable()
    assert(ulps(s[1], math.sin(f32(1e30))) <= 1)
    assert(ulps(s[2], math.sin(f32(-1e22))) <= 1)
    assert(ulps(s[3], math.sin(1e6)) <= 2)
    local d = (fokus.tensor{1, -1, 0} / 0):totable()
    assert.are.equal(inf, d[1]); assert.are.equal(-inf, d[2]); assert.is_true(d[3] ~= d[3])
  end)

  it('broadcasts NumPy-style over strided views and names the failing dim', function()
    local a = fokus.arange(6):reshape{2, 3}:to('f32')   -- [[0,1,2],[3,4,5]]
    local col = fokus.tensor{{10}, {20}}                 -- [2,1]
    assert.are.same({{10, 11, 12}, {23, 24, 25}}, (a + col):totable())
    local at = a:transpose(1, 2)                         -- [3,2] strided view
    assert.are.same({{0, 3}, {1, 4}, {2, 5}}, at:totable())
    assert.are.same({{100, 303}, {101, 304}, {102, 305}}, (at + fokus.tensor{100, 300}):totable())
    assert.are.same({2, 3, 4}, (fokus.zeros{2, 1, 4} + fokus.zeros{3, 1}):shape())
    local nar = fokus.arange(10):to('f32'):narrow(1, 3, 4)  -- {2,3,4,5}
    assert.are.same({4, 6, 8, 10}, (nar * 2):totable())
    assert.has_error(function() return a + fokus.zeros{4, 3} end,
      'add: shapes 2x3 and 4x3 do not broadcast (dim 1: 2 vs 4)')
    assert.has_error(function() return fokus.zeros{2, 3}:lt(fokus.zeros{2}) end,
      'lt: shapes 2x3 and 2 do not broadcast (dim 2: 3 vs 2)')
    assert.has_error(function() return fokus.where(fokus.zeros{2, 3}, fokus.zeros{3}, fokus.zeros{2}) end,
      'where: shapes 2x3, 3 and 2 do not broadcast (dim 2: 3 vs 2)')
  end)

  it('reads f16, bf16, integer and bool inputs as f32', function()
    local v = {0.1, -2.5, 3.14159, 65504, 1e-3}
    for _, dt in ipairs{'f16', 'bf16'} do
      local h = fokus.tensor(v, dt)
      local hv = h:to('f32'):totable()
      local got = (h * 3):totable()
      for i = 1, #v do assert.are.equal(f32(hv[i] * 3), got[i]) end
      assert.are.equal('f32', h:exp():dtype())
      assert.are.same(h:to('f32'):exp():totable(), h:exp():totable())
    end
    assert.are.same({1.5, 2.5, 3.5}, (fokus.tensor({1, 2, 3}, 'i32') + 0.5):totable())
    assert.are.same({2, 4}, (fokus.tensor({1, 2}, 'i64') * 2):totable())
    assert.are.same({1, 0, 1}, fokus.tensor({true, false, true}, 'bool'):mul(1):totable())
  end)

  it('writes opts.out: checked, strided views, in place', function()
    local a = fokus.tensor{{1, 2}, {3, 4}}
    local o = fokus.zeros{2, 2}
    assert.are.equal(o, a:add(1, {out = o}))
    assert.are.same({{2, 3}, {4, 5}}, o:totable())
    -- a transposed view as out
    local buf = fokus.zeros{2, 2}
    a:mul(10, {out = buf:transpose(1, 2)})
    assert.are.same({{10, 30}, {20, 40}}, buf:totable())
    -- in place on the input itself, and on a shifted overlapping view
    a:exp({out = a})
    assert.are.same(fokus.tensor{{1, 2}, {3, 4}}:exp():totable(), a:totable())
    local x = fokus.arange(8):to('f32')
    x:narrow(1, 1, 7):mul(2, {out = x:narrow(1, 2, 7)})
    assert.are.same({0, 0, 2, 4, 6, 8, 10, 12}, x:totable())
    -- errors
    assert.has_error(function() a:add(1, {out = fokus.zeros{3}}) end, 'add: out must be f32 2x2, got f32 3')
    assert.has_error(function() a:gt(1, {out = fokus.zeros{2, 2}}) end, 'gt: out must be bool 2x2, got f32 2x2')
    if a.expand then -- t:expand comes with the layout ops
      assert.error_matches(function() a:add(1, {out = fokus.zeros{1, 2}:expand{2, 2}}) end, 'distinct elements')
    end
    assert.error_matches(function() a:add(1, {out = 5}) end, 'out')
    assert.error_matches(function() a:add(1, {otu = o}) end, "unknown option 'otu'")
    -- every kind of op takes out
    local m = fokus.zeros{2, 2}
    assert.are.equal(m, a:clamp(0, 1, {out = m}))
    assert.are.equal(m, fokus.where(a:gt(10), a, 0, {out = m}))
    assert.are.equal(m, fokus.gelu(a, {out = m}))
    local b = fokus.zeros({2, 2}, 'bool')
    assert.are.equal(b, a:lt(2, {out = b}))
    assert.are.equal(b, b:logical_not({out = b}))
    local r = fokus.zeros{5}
    assert.are.equal(r, fokus.arange(0, 5, 1, {dtype = 'f32', out = r}))
    assert.are.same({0, 1, 2, 3, 4}, r:totable())
    assert.are.equal(r, fokus.linspace(0, 1, 5, {out = r}))
    assert.are.equal(r, fokus.full({5}, 2, {out = r}))
    assert.are.equal(r, fokus.rand({5}, {seed = 3, out = r}))
  end)

  it('compares to bool tensors, selects with where, combines with logical ops', function()
    local a = fokus.tensor{1, 2, 3, 0 / 0}
    local function bools(t) assert.are.equal('bool', t:dtype()); return t:totable() end
    assert.are.same({1, 0, 0, 0}, bools(a:lt(2)))
    assert.are.same({1, 1, 0, 0}, bools(a:le(2)))
    assert.are.same({0, 0, 1, 0}, bools(a:gt(2)))
    assert.are.same({0, 1, 1, 0}, bools(a:ge(2)))
    assert.are.same({0, 1, 0, 0}, bools(a:eq(2)))
    assert.are.same({1, 0, 1, 1}, bools(a:ne(2)))
    assert.are.same({1, 1, 1, 0}, bools(a:eq(a)))
    local p, q = a:gt(1), a:lt(3)
    assert.are.same({0, 1, 0, 0}, bools(p:logical_and(q)))
    assert.are.same({1, 1, 1, 0}, bools(p:logical_or(q)))
    assert.are.same({1, 0, 0, 1}, bools(p:logical_not()))
    assert.are.same({1, 2, -1, -1}, fokus.where(q, a, -1):totable())
    assert.are.same({{5, 2}, {5, 5}}, fokus.where(fokus.tensor{{true, false}, {true, true}}, 5, fokus.tensor{1, 2}):totable())
    assert.has_error(function() fokus.where(q, 'x', 1) end, 'where: argument 2: expected a tensor or number, got string')
  end)

  it('names the function and argument in type errors', function()
    local a = fokus.zeros{2}
    assert.has_error(function() return a + 'x' end, 'add: argument 2: expected a tensor or number, got string')
    assert.has_error(function() return {} * a end, 'mul: argument 1: expected a tensor or number, got table')
    assert.has_error(function() a:sub(true) end, 'sub: argument 2: expected a tensor or number, got boolean')
    assert.has_error(function() a:clamp('a', 1) end, 'clamp: argument 2: expected a number or nil, got string')
    assert.has_error(function() a:clamp() end, 'clamp: at least one of lo and hi must be given')
    a:close()
    assert.has_error(function() return a + 1 end, 'add: argument 1: tensor is closed')
  end)

  it('clamps with one or both bounds', function()
    local a = fokus.tensor{-2, -0.5, 0.5, 2}
    assert.are.same({-1, -0.5, 0.5, 1}, a:clamp(-1, 1):totable())
    assert.are.same({0, 0, 0.5, 2}, a:clamp(0):totable())
    assert.are.same({-2, -0.5, 0, 0}, a:clamp(nil, 0):totable())
  end)

  it('fills and copies in place with broadcasting and conversion', function()
    local t = fokus.zeros{2, 3}
    assert.are.equal(t, t:fill(7))
    assert.are.same({{7, 7, 7}, {7, 7, 7}}, t:totable())
    assert.are.equal(t, t:copy(fokus.tensor{1, 2, 3}))
    assert.are.same({{1, 2, 3}, {1, 2, 3}}, t:totable())
    t:copy(fokus.tensor({{0.5}, {1.5}}, 'f16'))
    assert.are.same({{0.5, 0.5, 0.5}, {1.5, 1.5, 1.5}}, t:totable())
    local h = fokus.zeros({3}, 'bf16')
    h:copy(fokus.tensor{1 / 3, 2, 3})
    assert.are.same(fokus.tensor({1 / 3, 2, 3}, 'bf16'):totable(), h:totable())
    local i = fokus.zeros({3}, 'i64')
    i:copy(fokus.tensor({9007199254740993, 1, 2}, 'i64'))
    assert.are.equal(9007199254740993, i:totable()[1])
    assert.error_matches(function() i:copy(fokus.tensor{0 / 0, 1, 2}) end, 'does not fit i64')
    assert.error_matches(function() t:copy(fokus.zeros{4}) end, 'copy: source 4 does not broadcast to 2x3')
    local b = fokus.zeros({2}, 'bool')
    b:fill(true)
    assert.are.same({1, 1}, b:totable())
    -- copy from an overlapping view of itself
    local x = fokus.arange(5):to('f32')
    x:narrow(1, 2, 4):copy(x:narrow(1, 1, 4))
    assert.are.same({0, 0, 1, 2, 3}, x:totable())
  end)

  it('creates ranges, constants and uniform random tensors', function()
    local r = fokus.arange(5)
    assert.are.equal('i64', r:dtype())
    assert.are.same({0, 1, 2, 3, 4}, r:totable())
    assert.are.same({2, 4, 6, 8}, fokus.arange(2, 10, 2):totable())
    assert.are.same({5, 3, 1}, fokus.arange(5, 0, -2):totable())
    local f = fokus.arange(0, 1, 0.25)
    assert.are.equal('f32', f:dtype())
    assert.are.same({0, 0.25, 0.5, 0.75}, f:totable())
    assert.are.same({0}, fokus.arange(0, 0):shape())
    assert.are.same({0, 0.25, 0.5, 0.75, 1}, fokus.linspace(0, 1, 5):totable())
    assert.are.same({3}, fokus.linspace(3, 9, 1):totable())
    assert.are.same({0}, fokus.linspace(3, 9, 0):shape())
    assert.error_matches(function() fokus.arange(0, 1, 0) end, 'step must not be 0')
    assert.has_error(function() fokus.arange('a') end, 'arange: argument 1: expected a number, got string')
    local c = fokus.full({2, 2}, 1.5)
    assert.are.same({{1.5, 1.5}, {1.5, 1.5}}, c:totable())
    assert.are.equal('f32', c:dtype())
    assert.are.equal('i32', fokus.full({2}, 3, 'i32'):dtype())
    assert.are.equal('bool', fokus.full({2}, true):dtype())
    assert.error_matches(function() fokus.full({2}, 1.5, 'i32') end, 'not a value of i32')
    -- rand: fixed values for a seed (same on every machine), in [0, 1)
    local u = fokus.rand({4}, {seed = 1}):totable()
    local want = {0.890259146690369, 0.894684672355652, 0.585725903511047, 0.711268067359924}
    for i = 1, 4 do assert(math.abs(u[i] - want[i]) < 1e-9, 'rand value ' .. i) end
    assert.are.same(fokus.rand({100}, {seed = 9}):totable(), fokus.rand({100}, {seed = 9}):totable())
    assert.are_not.same(fokus.rand({100}, {seed = 9}):totable(), fokus.rand({100}, {seed = 10}):totable())
    local big = fokus.rand({10000}, {seed = 5})
    local s, lo, hi = 0, 1, 0
    for _, v in ipairs(big:totable()) do s = s + v; lo = math.min(lo, v); hi = math.max(hi, v) end
    assert(lo >= 0 and hi < 1 and math.abs(s / 10000 - 0.5) < 0.02)
    assert.are.equal('f16', fokus.rand({3}, {dtype = 'f16'}):dtype())
    assert.error_matches(function() fokus.rand({3}, {dtype = 'i32'}) end, 'dtype must be f32, f16 or bf16')
    assert.error_matches(function() fokus.rand({3}, {sed = 1}) end, "unknown option 'sed'")
  end)
end)
