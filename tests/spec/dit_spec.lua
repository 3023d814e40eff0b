local fokus = require 'fokus'
local H = require 'tests.spec.helper'

local function relerr(got, ref)
  return H.maxdiff(got, ref) / math.max(H.maxabs(ref), 1e-6)
end

local function close(got, ref, tol, what)
  local e = relerr(got, ref)
  assert(e <= tol, string.format('%s: relative error %.3g > %.3g', what, e, tol))
end

local function oracle()
  local shared = H.shared()
  if not shared then return nil end
  return shared .. '/oracles/models/dit_tiny.safetensors'
end

describe('fokus.dit', function()
  it('matches the dit_tiny oracle at every stored stage', function()
    local path = oracle()
    if not path then return pending('../shared not found: DiT oracle skipped') end
    local t = assert(fokus.load(path))
    -- by path with an explicit prefix and the oracle's own config keys ...
    local m = assert(fokus.dit(path, {prefix = 'weights.', config = {
      num_heads = 4, input_size = 8, patch_size = 2, learn_sigma = true, mlp_ratio = 4.0,
      class_dropout_prob = 0.1, num_classes = 10, model_type = 'dit'}}))
    -- ... and from the loaded table, the prefix found by itself
    local m2 = fokus.dit(t, {config = {num_heads = 4}})
    local c = m2:config()
    assert.are.equal('weights.', c.prefix)
    assert.are.equal('dit', c.family)
    assert.are.same({4, 8, 2, 64, 2, 4, 10, 8}, {c.in_channels, c.out_channels, c.patch_size, c.hidden_size,
      c.depth, c.num_heads, c.num_classes, c.input_size})
    assert.is_true(c.learn_sigma)
    local x, ts, y = t['inputs.x'], t['inputs.t'], t['inputs.y']
    local r = m:forward(x, ts, y, {trace = true})
    for _, k in ipairs({'x_tokens', 't_freq', 't_emb', 'y_emb', 'c', 'final_tokens', 'out'}) do
      close(r[k], t['outputs.' .. k], 1e-4, k)
    end
    assert.are.equal(2, #r.blocks)
    for i = 1, 2 do close(r.blocks[i], t['outputs.block.' .. (i - 1)], 1e-4, 'block.' .. (i - 1)) end
    -- every stored output was compared
    local n = 0
    for k in pairs(t) do if k:match('^outputs%.') then n = n + 1 end end
    assert.are.equal(9, n)
    -- plain forward: the same output; t and y as Lua tables
    local out = m2:forward(x, ts:totable(), y:totable())
    assert.are.same({3, 8, 8, 8}, out:shape())
    close(out, t['outputs.out'], 1e-4, 'out from tables')
    assert.are.same(r.out:totable(), m:forward(x, ts, y):totable())
  end)

  it('uses f16 and bf16 weights within the weight rounding', function()
    local path = oracle()
    if not path then return pending('../shared not found: DiT oracle skipped') end
    local t = assert(fokus.load(path))
    for _, case in ipairs({{'f16', 5e-3}, {'bf16', 3e-2}}) do
      local w = {}
      for k, v in pairs(t) do
        if k:match('^weights%.') then w[k] = v:to(case[1]) end
      end
      local m = fokus.dit(w, {config = {num_heads = 4}})
      local out = m:forward(t['inputs.x'], t['inputs.t'], t['inputs.y'])
      local e = relerr(out, t['outputs.out'])
      assert(e <= case[2] and e > 1e-5, case[1] .. ' weights: relative error ' .. e)
    end
  end)

  it('builds a deterministic tiny model', function()
    local m = fokus.dit.tiny{seed = 7}
    assert.matches('fokus.DiT%(width 64, 2 blocks, 4 heads, patch 2, 4 %-> 8 channels, 10 classes%)', tostring(m))
    local c = m:config()
    assert.are.equal('dit', c.family)
    assert.are.equal(4, c.in_channels)
    assert.is_true(c.learn_sigma)
    local x = fokus.randn({2, 4, 8, 8}, {seed = 1})
    local a = m:forward(x, {20, 999.5}, {3, 10})
    local b = fokus.dit.tiny{seed = 7}:forward(x, {20, 999.5}, {3, 10})
    assert.are.same(a:totable(), b:totable())
    local d = fokus.dit.tiny{seed = 8}:forward(x, {20, 999.5}, {3, 10})
    assert.is_true(H.maxdiff(a, d) > 1e-3)
    -- the label and the timestep change the output; a number t applies to every entry
    local e = m:forward(x, {20, 999.5}, {4, 10})
    assert.is_true(H.maxdiff(a:narrow(1, 1, 1), e:narrow(1, 1, 1)) > 1e-4)
    assert.are.same(a:narrow(1, 2, 1):totable(), e:narrow(1, 2, 1):totable())
    local f = m:forward(x, 20, 3)
    -- an f16 latent is widened exactly: the same as its f32 values
    local xh = x:to('f16')
    assert.are.same(m:forward(xh:to('f32'), 20, 3):totable(), m:forward(xh, 20, 3):totable())
    assert.are.same(a:narrow(1, 1, 1):totable(), f:narrow(1, 1, 1):totable())
    -- other sizes: a non-square latent, and the options
    assert.are.same({1, 8, 8, 12}, m:forward(fokus.randn({1, 4, 8, 12}), 5, 0):shape())
    local s = fokus.dit.tiny{seed = 1, hidden_size = 32, depth = 1, heads = 2, in_channels = 16,
      patch_size = 1, input_size = 4, num_classes = 3, learn_sigma = false}
    c = s:config()
    assert.are.same({16, 16, 1, 32, 1, 2, 3, 4}, {c.in_channels, c.out_channels, c.patch_size, c.hidden_size,
      c.depth, c.num_heads, c.num_classes, c.input_size})
    assert.is_false(c.learn_sigma)
    assert.are.same({1, 16, 4, 4}, s:forward(fokus.randn({1, 16, 4, 4}), 1, 3):shape())
    m:close()
    assert.error_matches(function() m:forward(x, 1, 1) end, 'model is closed')
  end)

  it('rejects bad inputs with what was expected and what came', function()
    local m = fokus.dit.tiny{seed = 1}
    local x = fokus.randn({2, 4, 8, 8}, {seed = 2})
    assert.error_matches(function() m:forward(fokus.randn({2, 3, 8, 8}), 1, 1) end,
      'x has 3 channels, the model takes 4')
    assert.error_matches(function() m:forward(fokus.randn({2, 4, 8, 7}), 1, 1) end,
      'multiples of the patch size 2')
    assert.error_matches(function() m:forward(fokus.randn({4, 8, 8}), 1, 1) end,
      'x must be a float tensor %[N, C, H, W%], got f32 4x8x8')
    assert.error_matches(function() m:forward(x, {1, 2, 3}, {1, 2}) end,
      't must be a numeric tensor %[2%] %(one timestep per batch entry%), got f32 3')
    assert.error_matches(function() m:forward(x, 1, {1}) end,
      'y must be an integer tensor %[2%] %(one label per batch entry%), got i64 1')
    assert.error_matches(function() m:forward(x, 1, {1, 11}) end,
      'label 11 at y%[2%] is outside 0..10 %(the last one is the null class%)')
    assert.error_matches(function() m:forward(x, 1, {1, 2.5}) end, 'y%[2%] = 2.5 is not an integer label')
    assert.error_matches(function() m:forward(x, {1, 0 / 0}, 1) end, 't%[2%] is %-?nan')
    local bad = x:clone()
    bad:set(2, 3, 4, 5, 0 / 0)
    assert.error_matches(function() m:forward(bad, 1, 1) end, 'x has NaN at %[2, 3, 4, 5%]')
    assert.error_matches(function() m:forward(x, 'a', 1) end, 't must be a number, a table of numbers or a tensor')
    assert.error_matches(function() m:forward(x, 1, 1, {trac = true}) end, "did you mean 'trace'")
    assert.error_matches(function() m:forward(x, 1, 1, {attention = true}) end, 'a DiT has none')
    assert.error_matches(function() fokus.dit(42) end, 'expected a path or a table of tensors')
    assert.error_matches(function() fokus.dit({}, {prefx = ''}) end, "did you mean 'prefix'")
    assert.error_matches(function() fokus.dit.tiny{seed = 1, heads = 3} end, 'heads must divide hidden_size 64')
    assert.error_matches(function() fokus.dit({}) end, 'no DiT in these weights')
    local ok, err = fokus.dit('/nonexistent.safetensors')
    assert.is_nil(ok)
    assert.matches('^/nonexistent.safetensors: ', err)
  end)

  it('says which family another checkpoint looks like', function()
    local shared = H.shared()
    if not shared then return pending('../shared not found: checkpoint families skipped') end
    local dir = shared .. '/oracles/models/'
    local ok, err = fokus.dit(dir .. 'mmdit_tiny.safetensors')
    assert.is_nil(ok)
    assert.matches('they look like an SD3 MMDiT %(joint_blocks%.%*, context_embedder%), not a DiT', err)
    ok, err = fokus.dit(dir .. 'clip_text_tiny.safetensors')
    assert.is_nil(ok)
    assert.matches('they look like a CLIP text encoder', err)
    assert.error_matches(function() fokus.dit((assert(fokus.load(dir .. 'mmditx_tiny_bf16.safetensors')))) end,
      'SD3 MMDiT')
    assert.error_matches(function() fokus.dit(dir .. 'dit_tiny.safetensors', {config = {hidden_size = 32}}) end,
      'config hidden_size = 32, but the weights have 64')
    assert.error_matches(function() fokus.dit(dir .. 'dit_tiny.safetensors', {config = {learn_sigma = false}}) end,
      'config learn_sigma = false, but the weights have out_channels 8 with in_channels 4')
    assert.error_matches(function() fokus.dit(dir .. 'dit_tiny.safetensors', {config = {num_heads = 'four'}}) end,
      "config: option 'num_heads' must be an integer")
  end)
end)
