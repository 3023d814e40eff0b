-- opts.out on the model calls (CLIP forward/encode, DiT and MMDiT forward), the sampler
-- steps and schedules, fokus.tensor, dit_step and sample: the result is written into
-- the given tensor (contiguous, or a strided view), that same object is returned, the
-- values equal the call without out bit for bit, and a wrong shape or dtype raises
-- naming the function, the expected and the given tensor.
local fokus = require 'fokus'
local H = require 'tests.spec.helper'

-- a strided view of the given shape (the transpose of a buffer of the reversed shape)
local function strided(shape, dtype)
  local rev = {}
  for i = 1, #shape do rev[i] = shape[#shape + 1 - i] end
  local dims = {}
  for i = #shape, 1, -1 do dims[#dims + 1] = i end
  local v = fokus.zeros(rev, dtype):permute(dims)
  assert.are.same(shape, v:shape())
  return v
end

-- f(opts) with out = a contiguous tensor and with a strided one: both return their out,
-- holding exactly `ref`
local function both_forms(ref, f, dtype)
  for _, o in ipairs({fokus.zeros(ref:shape(), dtype), strided(ref:shape(), dtype)}) do
    assert.are.equal(o, f(o))
    assert.are.same(ref:totable(), o:totable())
  end
end

describe('opts.out (models, samplers)', function()
  local x = fokus.randn({2, 3, 4}, {seed = 1})
  local v = fokus.randn({2, 3, 4}, {seed = 2})
  local n = fokus.randn({2, 3, 4}, {seed = 3})

  it('every sampler step writes into out, strided or not', function()
    both_forms(fokus.euler_flow(x, v, 0.8, 0.5), function(o) return fokus.euler_flow(x, v, 0.8, 0.5, {out = o}) end)
    both_forms(fokus.euler(x, v, 3.0, 1.5), function(o) return fokus.euler(x, v, 3.0, 1.5, {out = o}) end)
    both_forms(fokus.ddim_sigma(x, v, 3.0, 1.5, {eta = 0.5, noise = n}),
      function(o) return fokus.ddim_sigma(x, v, 3.0, 1.5, {eta = 0.5, noise = n, out = o}) end)
    both_forms(fokus.dpmpp_2m(x, v, 3.0, 1.5, {old_denoised = n, sigma_prev = 5.0}),
      function(o) return fokus.dpmpp_2m(x, v, 3.0, 1.5, {old_denoised = n, sigma_prev = 5.0, out = o}) end)
    both_forms(fokus.cfg(x, v, 4.5), function(o) return fokus.cfg(x, v, 4.5, {out = o}) end)
    both_forms(fokus.denoised(x, v, 2.0), function(o) return fokus.denoised(x, v, 2.0, {out = o}) end)
    both_forms(fokus.axpby(0.5, x, 2.0, v), function(o) return fokus.axpby(0.5, x, 2.0, v, {out = o}) end)
    both_forms(fokus.axpby(0.5, x), function(o) return fokus.axpby(0.5, x, {out = o}) end)
  end)

  it('ddim takes out for x_prev and out_x0 for pred_x0, in either combination', function()
    local rx, r0 = fokus.ddim(x, v, 500, 400)
    local o, o0 = fokus.zeros{2, 3, 4}, strided({2, 3, 4})
    local a, b = fokus.ddim(x, v, 500, 400, {out = o})
    assert.are.equal(o, a)
    assert.are.same(rx:totable(), a:totable())
    assert.are.same(r0:totable(), b:totable())
    a, b = fokus.ddim(x, v, 500, 400, {out_x0 = o0})
    assert.are.equal(o0, b)
    assert.are.same(rx:totable(), a:totable())
    assert.are.same(r0:totable(), o0:totable())
    local p, p0 = strided({2, 3, 4}), fokus.zeros{2, 3, 4}
    a, b = fokus.ddim(x, v, 500, 400, {out = p, out_x0 = p0})
    assert.are.equal(p, a)
    assert.are.equal(p0, b)
    assert.are.same(rx:totable(), p:totable())
    assert.are.same(r0:totable(), p0:totable())
  end)

  it('a step may write over its own x (in place), contiguous or strided', function()
    local ref = fokus.euler_flow(x, v, 0.8, 0.5)
    local y = x:clone()
    assert.are.equal(y, fokus.euler_flow(y, v, 0.8, 0.5, {out = y}))
    assert.are.same(ref:totable(), y:totable())
    local s = x:permute{3, 2, 1}:contiguous():permute{3, 2, 1} -- x's values, strided
    assert.is_false(s:is_contiguous())
    assert.are.equal(s, fokus.cfg(s, v, 3.0, {out = s}))
    assert.are.same(fokus.cfg(x, v, 3.0):totable(), s:totable())
  end)

  it('schedules and previews take out', function()
    both_forms(fokus.sigmas(10, {shift = 3.0}), function(o) return fokus.sigmas(10, {shift = 3.0, out = o}) end)
    both_forms(fokus.sigmas(10, {betas = 'scaled_linear'}),
      function(o) return fokus.sigmas(10, {betas = 'scaled_linear', out = o}) end)
    both_forms(fokus.alphas_cumprod(), function(o) return fokus.alphas_cumprod{out = o} end)
    both_forms(fokus.ddim_timesteps(7), function(o) return fokus.ddim_timesteps(7, {out = o}) end, 'i32')
    local z = fokus.randn({4, 3, 5}, {seed = 4})
    both_forms(fokus.latent_preview(z, {scale = 2}), function(o) return fokus.latent_preview(z, {scale = 2, out = o}) end,
      'u8')
  end)

  it('fokus.tensor takes out, and leaves it untouched when an element is bad', function()
    both_forms(fokus.tensor({{1, 2, 3}, {4, 5, 6}}), function(o) return fokus.tensor({{1, 2, 3}, {4, 5, 6}}, {out = o}) end)
    both_forms(fokus.tensor({{1, 2}, {3, 4}}, 'i32'),
      function(o) return fokus.tensor({{1, 2}, {3, 4}}, 'i32', {out = o}) end, 'i32')
    local o = fokus.zeros{2, 2}
    assert.error_matches(function() fokus.tensor({{1, 2}, {3, 'x'}}, {out = o}) end, 'tensor')
    assert.are.same({{0, 0}, {0, 0}}, o:totable())
    assert.error_matches(function() fokus.tensor({{1, 2}, {3, 4}}, {out = fokus.zeros{4}}) end,
      'tensor: out must be f32 2x2, got f32 4')
    assert.error_matches(function() fokus.tensor({1, 2}, {otu = o}) end, "did you mean 'out'")
  end)

  it('CLIP forward and encode write last_hidden_state / cond into out', function()
    local m = fokus.clip.tiny{seed = 3}
    local ids = {49406, 320, 2368, 49407}
    for i = 5, 77 do ids[i] = 49407 end
    local ref = m:forward({ids})
    for _, o in ipairs({fokus.zeros{1, 77, 64}, strided({1, 77, 64})}) do
      local r = m:forward({ids}, {out = o})
      assert.are.equal(o, r.last_hidden_state)
      assert.are.same(ref.last_hidden_state:totable(), o:totable())
      assert.are.same(ref.pooler_output:totable(), r.pooler_output:totable())
    end
    for _, skip in ipairs({1, 2}) do
      local cond, pooled = m:encode({ids, ids}, {skip = skip})
      for _, o in ipairs({fokus.zeros{1, 154, 64}, strided({1, 154, 64})}) do
        local c, p = m:encode({ids, ids}, {skip = skip, out = o})
        assert.are.equal(o, c)
        assert.are.same(cond:totable(), o:totable())
        assert.are.same(pooled:totable(), p:totable())
      end
    end
    assert.error_matches(function() m:forward({ids}, {out = fokus.zeros{1, 77, 32}}) end,
      'forward: out must be f32 1x77x64, got f32 1x77x32')
    assert.error_matches(function() m:forward({ids}, {out = fokus.zeros({1, 77, 64}, 'f16')}) end,
      'forward: out must be f32 1x77x64, got f16 1x77x64')
    assert.error_matches(function() m:encode({ids}, {out = fokus.zeros{77, 64}}) end,
      'encode: out must be f32 1x77x64, got f32 77x64')
    assert.error_matches(function() m:encode({ids}, {out = 1}) end, "encode: option 'out' must be a fokus.Tensor")
  end)

  it('DiT and MMDiT forward write into out', function()
    local d = fokus.dit.tiny{seed = 7}
    local xd = fokus.randn({2, 4, 8, 8}, {seed = 1})
    both_forms(d:forward(xd, {20, 999.5}, {3, 10}), function(o) return d:forward(xd, {20, 999.5}, {3, 10}, {out = o}) end)
    assert.error_matches(function() d:forward(xd, {20, 999.5}, {3, 10}, {out = fokus.zeros{2, 4, 8, 8}}) end,
      'forward: out must be f32 2x8x8x8, got f32 2x4x8x8')
    assert.error_matches(function() d:forward(xd, {20, 999.5}, {3, 10}, {out = xd}) end, 'forward: out')
    local m = fokus.mmdit.tiny{seed = 3}
    local x = fokus.randn({2, 4, 8, 12}, {seed = 1})
    local ctx, y = fokus.randn({2, 5, 32}, {seed = 2}), fokus.randn({2, 48}, {seed = 3})
    local ref = m:forward(x, {100, 900}, ctx, y)
    both_forms(ref, function(o) return m:forward(x, {100, 900}, ctx, y, {out = o}) end)
    local o = fokus.zeros(ref:shape())
    local r = m:forward(x, {100, 900}, ctx, y, {attention = true, out = o})
    assert.are.equal(o, r.out)
    assert.are.same(ref:totable(), o:totable())
    assert.error_matches(function() m:forward(x, {100, 900}, ctx, y, {out = fokus.zeros({2, 4, 8, 12}, 'f16')}) end,
      'forward: out must be f32 2x4x8x12, got f16 2x4x8x12')
  end)

  it('dit_step and sample write the latent into out', function()
    local m = fokus.mmdit.tiny{seed = 3}
    local x0 = fokus.randn({1, 4, 8, 8}, {seed = 5})
    local cond = {context = fokus.randn({1, 5, 32}, {seed = 6}), y = fokus.randn({1, 48}, {seed = 7})}
    local ref = fokus.dit_step(m, x0, 0.8, 0.6, cond)
    both_forms(ref, function(o) return (fokus.dit_step(m, x0, 0.8, 0.6, cond, {out = o})) end)
    local y = x0:clone()
    assert.are.equal(y, (fokus.dit_step(m, y, 0.8, 0.6, cond, {out = y})))
    assert.are.same(ref:totable(), y:totable())
    local lat = fokus.sample(m, x0, cond, {steps = 3, progress = false})
    for _, o in ipairs({fokus.zeros{1, 4, 8, 8}, strided({1, 4, 8, 8})}) do
      assert.are.equal(o, fokus.sample(m, x0, cond, {steps = 3, progress = false, out = o}))
      assert.are.equal(0, H.maxdiff(lat, o))
    end
    local dp = fokus.sample(m, x0, cond, {steps = 3, progress = false, sampler = 'dpmpp_2m'})
    local o = fokus.zeros{1, 4, 8, 8}
    fokus.sample(m, x0, cond, {steps = 3, progress = false, sampler = 'dpmpp_2m', out = o})
    assert.are.equal(0, H.maxdiff(dp, o))
  end)

  it('rejects a wrong shape or dtype for the steps', function()
    assert.error_matches(function() fokus.euler_flow(x, v, 0.8, 0.5, {out = fokus.zeros{2, 3}}) end,
      'euler_flow: out must be f32 2x3x4, got f32 2x3')
    assert.error_matches(function() fokus.cfg(x, v, 2, {out = fokus.zeros({2, 3, 4}, 'f16')}) end,
      'cfg: out must be f32 2x3x4, got f16 2x3x4')
    assert.error_matches(function() fokus.ddim(x, v, 500, 400, {out_x0 = fokus.zeros{3}}) end,
      'ddim: out must be f32 2x3x4, got f32 3')
    assert.error_matches(function() fokus.sigmas(4, {out = fokus.zeros{4}}) end, 'sigmas: out must be f32 5, got f32 4')
    assert.error_matches(function() fokus.ddim_timesteps(4, {out = fokus.zeros{4}}) end,
      'ddim_timesteps: out must be i32 4, got f32 4')
    assert.error_matches(function() fokus.latent_preview(fokus.randn{4, 3, 5}, {out = fokus.zeros{3, 5, 3}}) end,
      'latent_preview: out must be u8 3x5x3, got f32 3x5x3')
    assert.error_matches(function() fokus.denoised(x, v, 1, {ot = x}) end, "did you mean 'out'")
    assert.error_matches(function() fokus.euler_flow(x, v, 0.8, 0.5, {out = 'x'}) end,
      "euler_flow: option 'out' must be a fokus.Tensor, got string")
  end)
end)
