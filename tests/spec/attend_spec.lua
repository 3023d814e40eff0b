local fokus = require 'fokus'
local H = require 'tests.spec.helper'

-- Naive attention in Lua doubles: q [H,Nq,d], k/v [Hkv,Nk,*] as nested tables.
local function naive(q, k, v, scale, visible)
  local out, lse = {}, {}
  local Hq, Hkv = #q, #k
  for h = 1, Hq do
    local g = math.floor((h - 1) / (Hq / Hkv)) + 1
    out[h], lse[h] = {}, {}
    for i = 1, #q[h] do
      local s, m = {}, -math.huge
      for j = 1, #k[g] do
        if not visible or visible(i, j) then
          local t = 0
          for c = 1, #q[h][i] do t = t + q[h][i][c] * k[g][j][c] end
          s[j] = t * scale
          if s[j] > m then m = s[j] end
        end
      end
      local l = 0
      for _, x in pairs(s) do l = l + math.exp(x - m) end
      out[h][i] = {}
      for c = 1, #v[g][1] do
        local acc = 0
        for j, x in pairs(s) do acc = acc + math.exp(x - m) / l * v[g][j][c] end
        out[h][i][c] = acc
      end
      lse[h][i] = m + math.log(l)
    end
  end
  return out, lse
end

local function maxdiff_tables(a, b)
  local m = 0
  local function walk(x, y)
    if type(x) == 'table' then
      for i = 1, #x do walk(x[i], y[i]) end
    else
      local d = (x == y) and 0 or math.abs(x - y)
      if d ~= d then d = math.huge end
      if d > m then m = d end
    end
  end
  walk(a, b)
  return m
end

describe('fokus.attend', function()
  it('matches a naive reference, plain, causal (both alignments) and GQA', function()
    local q = fokus.randn({4, 9, 16}, {seed = 1})
    local k = fokus.randn({2, 13, 16}, {seed = 2})
    local v = fokus.randn({2, 13, 8}, {seed = 3})
    local Q, K, V = q:totable(), k:totable(), v:totable()
    local s = 1 / math.sqrt(16)
    local o, l = fokus.attend(q, k, v, {lse = true})
    local ro, rl = naive(Q, K, V, s)
    assert.is_true(maxdiff_tables(o:totable(), ro) < 1e-5)
    assert.is_true(maxdiff_tables(l:totable(), rl) < 1e-5)
    o = fokus.attend(q, k, v, {causal = true})
    ro = naive(Q, K, V, s, function(i, j) return j <= i end)
    assert.is_true(maxdiff_tables(o:totable(), ro) < 1e-5)
    o = fokus.attend(q, k, v, {causal = 'bottom_right', scale = 0.5})
    ro = naive(Q, K, V, 0.5, function(i, j) return j <= i + 13 - 9 end)
    assert.is_true(maxdiff_tables(o:totable(), ro) < 1e-5)
    assert.are.same({4, 9, 8}, o:shape())
  end)

  it('takes 4-d batches, masks, bias and returns probabilities', function()
    local q = fokus.randn({2, 3, 5, 8}, {seed = 4})
    local k = fokus.randn({2, 3, 6, 8}, {seed = 5})
    local v = fokus.randn({2, 3, 6, 8}, {seed = 6})
    local mask = fokus.tensor({{true, true, false, true, true, false}}, 'bool') -- [1, Nk] broadcast
    local o, p = fokus.attend(q, k, v, {mask = mask, probs = true})
    assert.are.same({2, 3, 5, 6}, p:shape())
    local pt = p:totable()
    for b = 1, 2 do for h = 1, 3 do for i = 1, 5 do
      local sum = 0
      for j = 1, 6 do sum = sum + pt[b][h][i][j] end
      assert.is_true(math.abs(sum - 1) < 1e-5)
      assert.are.equal(0, pt[b][h][i][3])
      assert.are.equal(0, pt[b][h][i][6])
    end end end
    -- an additive bias of -inf is the same as a false mask
    local bias = fokus.tensor({{0, 0, -math.huge, 0, 0, -math.huge}})
    local o2 = fokus.attend(q, k, v, {bias = bias})
    assert.is_true(H.maxdiff(o, o2) < 1e-6)
  end)

  it('gives 0 and lse -inf for rows that see no key', function()
    local q, k, v = fokus.randn{1, 3, 4}, fokus.randn{1, 5, 4}, fokus.randn{1, 5, 4}
    local mask = fokus.tensor({{false, false, false, false, false}, {true, true, true, true, true},
                               {false, false, false, false, false}}, 'bool')
    local o, l, p = fokus.attend(q, k, v, {mask = mask, lse = true, probs = true})
    local ot, lt = o:totable(), l:totable()
    assert.are.same({0, 0, 0, 0}, ot[1][1])
    assert.are.equal(-math.huge, lt[1][1])
    assert.are.equal(-math.huge, lt[1][3])
    assert.is_true(lt[1][2] > -math.huge)
    assert.are.same({0, 0, 0, 0, 0}, p:totable()[1][3])
  end)

  it('reads f16 and bf16 inputs as f32', function()
    local q, k, v = fokus.randn{2, 7, 32}, fokus.randn{2, 7, 32}, fokus.randn{2, 7, 32}
    local q16, k16, v16 = q:to('f16'), k:to('bf16'), v:to('f16')
    local a = fokus.attend(q16, k16, v16)
    local b = fokus.attend(q16:to('f32'), k16:to('f32'), v16:to('f32'))
    assert.is_true(H.maxdiff(a, b) < 1e-6)
  end)

  it('rejects bad arguments with clear messages', function()
    local q, k = fokus.randn{2, 4, 64}, fokus.randn{2, 4, 32}
    assert.error_matches(function() fokus.attend(q, k, k) end, 'head dim 32.*64')
    assert.error_matches(function() fokus.attend(q, q, q, {casual = true}) end, "unknown option 'casual' %(did you mean 'causal'%?%)")
    assert.error_matches(function() fokus.attend(q, q, q, {causal = 'diagonal'}) end, "'top_left' or 'bottom_right'")
    assert.error_matches(function() fokus.attend(q, q, q, {lse = 1}) end, "option 'lse' must be a boolean")
    assert.error_matches(function() fokus.attend(q, 'k', q) end, "bad argument #2 to .*k: expected a fokus.Tensor, got string")
    assert.error_matches(function() fokus.attend(fokus.randn{3, 4, 64}, q, q) end, 'not a multiple')
    assert.error_matches(function() fokus.attend(q, q, q, {mask = fokus.zeros{3, 3}}) end, 'mask')
    assert.error_matches(function() fokus.attend(fokus.randn{64}, q, q) end, 'q')
  end)

  local cases = {'attn_small', 'attn_77', 'attn_masked', 'attn_gqa', 'attn_large_logits'}
  for _, case in ipairs(cases) do
    it('matches the oracle ' .. case, function()
      local shared = H.shared()
      if not shared then
        pending('../shared not found: oracle ' .. case .. ' skipped')
        return
      end
      local t = assert(fokus.load(shared .. '/oracles/models/' .. case .. '.safetensors'))
      local f = io.open(shared .. '/oracles/models/' .. case .. '.json')
      local tol = tonumber(f:read('*a'):match('"max_abs_err_over_max_abs_ref":%s*([%d.eE+-]+)'))
      f:close()
      local q, k, v = t['inputs.q'], t['inputs.k'], t['inputs.v']
      local function check(name, got)
        local ref = t['outputs.' .. name]
        if not ref then return end
        local m = H.maxabs(ref)
        if m ~= m or m == math.huge then m = 1 end
        local d = H.maxdiff(got, ref)
        assert(d <= tol * math.max(m, 1e-6), string.format('%s: %s: err %.3g > %.3g', case, name, d, tol * m))
      end
      local variants = {
        {'', {}},
        {'_causal', {causal = true}},
        {'_causal_top_left', {causal = 'top_left'}},
        {'_causal_bottom_right', {causal = 'bottom_right'}},
      }
      local checked = 0
      for _, var in ipairs(variants) do
        if t['outputs.out' .. var[1]] then
          local opts = {lse = true, probs = t['outputs.probs' .. var[1]] ~= nil}
          for kk, vv in pairs(var[2]) do opts[kk] = vv end
          local o, l, p = fokus.attend(q, k, v, opts)
          check('out' .. var[1], o)
          check('lse' .. var[1], l)
          if p then check('probs' .. var[1], p) end
          checked = checked + 1
        end
      end
      if case == 'attn_masked' then
        local scale = t['inputs.scale']:totable()[1]
        local keep = t['inputs.key_keep']:reshape{1, -1}
        local o, l = fokus.attend(q, k, v, {scale = scale, bias = t['inputs.mask'], lse = true})
        check('out_mask', o); check('lse_mask', l)
        o, l = fokus.attend(q, k, v, {scale = scale, mask = keep, lse = true})
        check('out_keypad', o); check('lse_keypad', l)
        o, l = fokus.attend(q, k, v, {scale = scale, bias = t['inputs.mask'], mask = keep, lse = true})
        check('out_mask_keypad', o); check('lse_mask_keypad', l)
        checked = checked + 3
      end
      assert.is_true(checked > 0)
    end)
  end
end)
