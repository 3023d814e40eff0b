-- Reductions, softmax and norms from Lua, against double-precision references
-- computed here from totable(): every function, keepdim, negative dims, strided
-- views, f16/bf16/integer inputs, the 10^7-element sum, -inf/NaN rows, out=, errors.
local fokus = require 'fokus'

local function flat(t)
  local n = t:numel()
  if t:dim() == 0 then return {t:item()}, {} end
  return t:reshape{n}:totable(), t:shape()
end

-- x viewed as [outer, n, inner] around 1-based dim d
local function split(shape, d)
  local outer, inner = 1, 1
  for i = 1, d - 1 do outer = outer * shape[i] end
  for i = d + 1, #shape do inner = inner * shape[i] end
  return outer, shape[d], inner
end

-- reference of op over dim d (nil: all dims); returns values and 1-based positions
local function ref(t, op, d, opts)
  local f, shape = flat(t)
  local outer, n, inner
  if d then outer, n, inner = split(shape, d) else outer, n, inner = 1, #f, 1 end
  local vals, pos = {}, {}
  for o = 0, outer - 1 do
    for i = 0, inner - 1 do
      local s, best, bi = 0, nil, nil
      for k = 0, n - 1 do
        local v = f[(o * n + k) * inner + i + 1]
        s = s + v
        local better
        if best == nil then better = true
        elseif best ~= best then better = false
        elseif v ~= v then better = true
        elseif op == 'max' or op == 'argmax' then better = v > best
        else better = v < best end
        if better then best, bi = v, k + 1 end
      end
      local r
      if op == 'sum' then r = s
      elseif op == 'mean' then r = s / n
      elseif op == 'var' then
        local m, q = s / n, 0
        for k = 0, n - 1 do
          local v = f[(o * n + k) * inner + i + 1]
          q = q + (v - m) * (v - m)
        end
        r = q / (n - ((opts and opts.correction) or 1))
      elseif op == 'norm' then
        local p, q = (opts and opts.p) or 2, 0
        for k = 0, n - 1 do
          local v = math.abs(f[(o * n + k) * inner + i + 1])
          if p == math.huge then q = math.max(q, v) else q = q + v ^ p end
        end
        r = p == math.huge and q or q ^ (1 / p)
      else r = best end
      vals[#vals + 1] = r
      pos[#pos + 1] = bi
    end
  end
  return vals, pos
end

local function close(got, want, rtol, what)
  assert(#got == #want, what .. ': ' .. #got .. ' values, expected ' .. #want)
  for i = 1, #want do
    local g, w = got[i], want[i]
    if not (g == w or (g ~= g and w ~= w)) then
      local tol = rtol * math.max(1, math.abs(w))
      if not (math.abs(g - w) <= tol) then
        error(string.format('%s: entry %d is %.9g, expected %.9g (tolerance %.3g)', what, i, g, w, tol), 2)
      end
    end
  end
end

local function same_shape(t, shape) assert.are.same(shape, t:shape()) end

describe('reductions', function()
  local x = fokus.randn({3, 5, 37}, {seed = 1})

  it('sum, mean, var, norm, max, min, argmax match a double reference over every dim', function()
    for _, op in ipairs{'sum', 'mean', 'var', 'norm', 'max', 'min', 'argmax', 'argmin'} do
      for d = -3, 3 do
        if d ~= 0 then
          local pd = d < 0 and d + 4 or d
          local wantv, wantp = ref(x, op, pd)
          local r, ri = x[op](x, d)
          if op == 'max' or op == 'min' then
            close(flat(r), wantv, 0, op .. ' dim ' .. d)
            assert.are.same(wantp, (flat(ri)))
            assert.are.equal('i64', ri:dtype())
          elseif op == 'argmax' or op == 'argmin' then
            assert.are.same(wantp, (flat(r)))
            assert.are.equal('i64', r:dtype())
          else
            close(flat(r), wantv, 2e-6, op .. ' dim ' .. d)
          end
          local shape = x:shape()
          table.remove(shape, pd)
          same_shape(r, shape)
          local k = x[op](x, d, {keepdim = true})
          local kshape = x:shape()
          kshape[pd] = 1
          same_shape(k, kshape)
        end
      end
    end
  end)

  it('reduce all dims into a 0-d tensor whose item() and totable() give the number', function()
    local s = x:sum()
    assert.are.same({}, s:shape())
    assert.are.equal(0, s:dim())
    local want = ref(x, 'sum')[1]
    assert.is_true(math.abs(s:item() - want) < 1e-5)
    assert.are.equal(s:item(), s:totable())
    assert.is_true(math.abs(x:mean():item() - want / x:numel()) < 1e-7)
    close({x:var():item()}, ref(x, 'var'), 2e-6, 'var all')
    close({x:norm():item()}, ref(x, 'norm'), 2e-6, 'norm all')
    assert.are.equal(ref(x, 'max')[1], x:max():item())
    local _, p = ref(x, 'argmax')
    assert.are.equal(p[1], x:argmax():item())
    same_shape(x:sum{keepdim = true}, {1, 1, 1})
  end)

  it('var takes correction / unbiased, norm takes p', function()
    close(flat(x:var(3, {correction = 0})), ref(x, 'var', 3, {correction = 0}), 2e-6, 'var correction 0')
    close(flat(x:var(3, {unbiased = false})), ref(x, 'var', 3, {correction = 0}), 2e-6, 'var unbiased false')
    close(flat(x:var(2, {unbiased = true})), ref(x, 'var', 2), 2e-6, 'var unbiased')
    close(flat(x:norm(1, {p = 1})), ref(x, 'norm', 1, {p = 1}), 2e-6, 'norm p=1')
    close(flat(x:norm(-1, {p = 3})), ref(x, 'norm', 3, {p = 3}), 2e-6, 'norm p=3')
    close(flat(x:norm(2, {p = math.huge})), ref(x, 'norm', 2, {p = math.huge}), 0, 'norm p=inf')
  end)

  it('read strided views and f16 / bf16 / integer tensors', function()
    local views = {
      x:transpose(1, 3), x:narrow(3, 2, 30), x:slice(3, 1, -1, 3), x:permute{2, 3, 1},
      x:to('f16'), x:to('bf16'):transpose(2, 3),
    }
    for vi, v in ipairs(views) do
      for _, op in ipairs{'sum', 'mean', 'max', 'var'} do
        for d = 1, 3 do
          close(flat((v[op](v, d))), (ref(v, op, d)), 2e-6, 'view ' .. vi .. ' ' .. op .. ' dim ' .. d)
        end
      end
    end
    local i = fokus.tensor({{1, 2, 3}, {40, 50, 60}}, 'i32')
    assert.are.same({41, 52, 63}, i:sum(1):totable())
    assert.are.equal('f32', i:sum():dtype())
    assert.are.same({2, 50}, i:mean(2):totable())
    assert.are.same({3, 3}, i:argmax(2):totable())
  end)

  it('sum over 10^7 elements stays within float rounding of the double sum', function()
    -- rows normalised, then shifted by 3.3: 10^7 values around 3.3, where a plain
    -- float loop loses ~1e-4 relative
    local n = 10000
    local bias = {}
    for i = 1, n do bias[i] = 3.3 end
    local y = fokus.layer_norm(fokus.randn({1000, n}, {seed = 9}), nil, fokus.tensor(bias))
    local want = 0
    for r = 1, 1000 do
      local row = y:select(1, r):totable()
      for i = 1, n do want = want + row[i] end
    end
    local got = y:sum():item()
    assert.is_true(math.abs(got - want) <= 1.2e-7 * math.abs(want),
                   string.format('sum %.10g vs %.10g', got, want))
    local m = y:mean():item()
    assert.is_true(math.abs(m - want / 1e7) <= 1.2e-7 * math.abs(want / 1e7))
    local cols = y:sum(1)     -- columns: 1000 rows each
    local c1 = 0
    for r = 1, 1000 do c1 = c1 + y:get(r, 1) end
    assert.is_true(math.abs(cols:get(1) - c1) <= 2e-7 * math.abs(c1))
  end)

  it('propagate NaN and take the first of ties, as PyTorch', function()
    local t = fokus.tensor{{1, 0 / 0, 3, 0 / 0}, {2, 7, 7, 1}}
    local v, i = t:max(2)
    assert.is_true(v:get(1) ~= v:get(1))
    assert.are.same({2, 2}, i:totable())
    assert.is_true(t:sum():item() ~= t:sum():item())
    assert.are.same({2, 4}, t:argmin(2):totable())
    local ninf = fokus.tensor{-math.huge, -math.huge}
    assert.are.equal(1, ninf:argmax():item())
    assert.are.equal(-math.huge, ninf:max():item())
  end)

  it('write into out tensors, strided ones too, and check them', function()
    local buf = fokus.zeros{3, 4}
    local col = buf:select(2, 2)                        -- stride 4
    assert.are.equal(col, x:sum(2):sum(2, {out = col}))
    local rows = ref(x:reshape{3, 5 * 37}, 'sum', 2)
    close(flat(col), rows, 2e-6, 'sum into a strided column')
    assert.are.same({0, 0, 0}, (flat(buf:select(2, 1))))
    local v, i = fokus.zeros{3, 37}, fokus.zeros({3, 37}, 'i64')
    local rv, ri = x:max(2, {out = {v, i}})
    assert.are.equal(v, rv)
    assert.are.equal(i, ri)
    local wantv, wantp = ref(x, 'max', 2)
    close(flat(v), wantv, 0, 'max out')
    assert.are.same(wantp, (flat(i)))
    local a = fokus.zeros({3, 5}, 'i64')
    assert.are.equal(a, x:argmax(3, {out = a}))
    assert.has_error(function() x:sum(1, {out = fokus.zeros{5}}) end, 'sum: out must be f32 5x37, got f32 5')
    assert.has_error(function() x:sum(1, {out = fokus.zeros({5, 37}, 'f16')}) end,
                     'sum: out must be f32 5x37, got f16 5x37')
    assert.error_matches(function() x:sum(3, {out = x:select(3, 1)}) end, 'overlaps input')
    assert.error_matches(function() x:max(2, {out = v}) end, "option 'out' must be a table {values, indices}")
  end)

  it('raise clear errors on bad arguments', function()
    assert.has_error(function() x:sum(4) end, 'sum: dim 4 out of range for a 3-d tensor')
    assert.has_error(function() x:mean(-4) end, 'mean: dim -4 out of range for a 3-d tensor')
    assert.has_error(function() x:max(0) end, 'max: dim 0 out of range for a 3-d tensor')
    assert.error_matches(function() x:sum{keepdims = true} end, "sum: unknown option 'keepdims' %(did you mean 'keepdim'%?%)")
    assert.error_matches(function() x:sum('a') end, 'sum: dim: expected an integer')
    assert.has_error(function() x:var{correction = 1, unbiased = true} end, "var: give 'correction' or 'unbiased', not both")
    assert.has_error(function() fokus.zeros{0, 3}:max(1) end, 'max: cannot reduce an empty dimension')
    assert.are.same({0, 0, 0}, fokus.zeros{0, 3}:sum(1):totable())
    assert.error_matches(function() x:softmax() end, 'softmax: dim: expected an integer')
  end)
end)

describe('softmax and log_softmax', function()
  local function ref_softmax(t, d, log)
    local f, shape = flat(t)
    local outer, n, inner = split(shape, d)
    local out = {}
    for o = 0, outer - 1 do
      for i = 0, inner - 1 do
        local m, s = -math.huge, 0
        for k = 0, n - 1 do m = math.max(m, f[(o * n + k) * inner + i + 1]) end
        for k = 0, n - 1 do s = s + math.exp(f[(o * n + k) * inner + i + 1] - m) end
        for k = 0, n - 1 do
          local j = (o * n + k) * inner + i + 1
          out[j] = log and (f[j] - m - math.log(s)) or math.exp(f[j] - m) / s
        end
      end
    end
    return out
  end

  it('match a double reference along every dim, for views and bf16', function()
    local x = fokus.randn({4, 6, 33}, {seed = 2})
    for _, v in ipairs{x, x:transpose(1, 3), x:to('bf16')} do
      for d = -1, 3 do
        if d ~= 0 then
          local pd = d < 0 and v:dim() + 1 + d or d
          close(flat(v:softmax(d)), ref_softmax(v, pd, false), 1e-6, 'softmax dim ' .. d)
          close(flat(v:log_softmax(d)), ref_softmax(v, pd, true), 1e-6, 'log_softmax dim ' .. d)
        end
      end
    end
  end)

  it('give NaN for rows of -inf (as PyTorch), exact zeros for -inf entries, and stay finite for large values', function()
    local inf = math.huge
    local t = fokus.tensor{{-inf, -inf, -inf}, {0, -inf, 1}, {1e30, -1e30, 1e30}, {3e38, 3e38, -3e38}}
    local s = t:softmax(2):totable()
    local l = t:log_softmax(2):totable()
    for j = 1, 3 do assert.is_true(s[1][j] ~= s[1][j] and l[1][j] ~= l[1][j]) end
    assert.are.equal(0, s[2][2])
    assert.are.equal(-inf, l[2][2])
    assert.is_true(math.abs(s[2][3] - 1 / (1 + math.exp(-1))) < 1e-7)
    assert.are.same({0.5, 0, 0.5}, s[3])
    assert.are.same({0.5, 0.5, 0}, s[4])
    assert.is_true(math.abs(l[3][1] - math.log(0.5)) < 1e-7)
  end)

  it('write into out (strided too) and reject a bad one', function()
    local x = fokus.randn({5, 7}, {seed = 3})
    local buf = fokus.zeros{7, 5}
    local o = buf:transpose(1, 2)
    assert.are.equal(o, x:softmax(2, {out = o}))
    close(flat(o), ref_softmax(x, 2, false), 1e-6, 'softmax out')
    assert.has_error(function() x:softmax(2, {out = fokus.zeros{5}}) end, 'softmax: out must be f32 5x7, got f32 5')
    assert.has_error(function() x:log_softmax(3) end, 'log_softmax: dim 3 out of range for a 2-d tensor')
  end)
end)

describe('layer_norm and rms_norm', function()
  it('match a double reference over the last dim, with and without affine', function()
    local x = fokus.randn({2, 3, 20}, {seed = 4}):transpose(1, 2)
    local w, b = fokus.randn({20}, {seed = 5}), fokus.randn({20}, {seed = 6}):to('f16')
    local f = flat(x)
    local wf, bf = w:totable(), b:totable()
    local want, wantr, wantn = {}, {}, {}
    for r = 0, 5 do
      local m, q, ms = 0, 0, 0
      for j = 1, 20 do m = m + f[r * 20 + j] end
      m = m / 20
      for j = 1, 20 do
        q = q + (f[r * 20 + j] - m) ^ 2
        ms = ms + f[r * 20 + j] ^ 2
      end
      for j = 1, 20 do
        local v = f[r * 20 + j]
        want[r * 20 + j] = (v - m) / math.sqrt(q / 20 + 1e-5) * wf[j] + bf[j]
        wantn[r * 20 + j] = (v - m) / math.sqrt(q / 20 + 1e-3)
        wantr[r * 20 + j] = v / math.sqrt(ms / 20 + 1e-6) * wf[j]
      end
    end
    close(flat(fokus.layer_norm(x, w, b)), want, 1e-5, 'layer_norm')
    close(flat(fokus.layer_norm(x, nil, nil, {eps = 1e-3})), wantn, 1e-5, 'layer_norm no affine')
    close(flat(fokus.layer_norm(x, {eps = 1e-3})), wantn, 1e-5, 'layer_norm opts second')
    close(flat(fokus.rms_norm(x, w, {eps = 1e-6})), wantr, 1e-5, 'rms_norm')
    local out = fokus.zeros{3, 2, 20}
    assert.are.equal(out, fokus.rms_norm(x, w, {eps = 1e-6, out = out}))
    close(flat(out), wantr, 1e-5, 'rms_norm out')
    assert.has_error(function() fokus.layer_norm(x, fokus.zeros{19}) end,
                     'layer_norm: weight must be a float tensor [20], got f32 19')
    assert.error_matches(function() fokus.rms_norm(x, w, {epsilon = 1}) end, "rms_norm: unknown option 'epsilon'")
  end)
end)
