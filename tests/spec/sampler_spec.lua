local fokus = require 'fokus'
local H = require 'tests.spec.helper'

-- element-wise helpers over flat tables (the references are written in Lua)
local function flat(t) return t:reshape({-1}):totable() end
local function build(shape, list) return fokus.tensor(list):reshape(shape) end
local function map2(a, b, f)
  local ta, tb, r = flat(a), flat(b), {}
  for i = 1, #ta do r[i] = f(ta[i], tb[i]) end
  return build(a:shape(), r)
end

local function close(got, ref, tol)
  local d, m = H.maxdiff(got, ref), H.maxabs(ref)
  if m < 1e-6 then m = 1e-6 end
  assert.is_true(d <= tol * m, string.format('rel err %.3g > %.3g', d / m, tol))
end

-- A fake MMDiT: v = x + context[b, 1, 1] + 0.001·t[b] per batch row b, and a log of
-- what each forward call received.
local function fake_mmdit()
  local m = {calls = {}}
  function m:config() return {family = 'mmdit', in_channels = 4, context_dim = 3, pooled_dim = 2} end
  function m:forward(x, t, context, y)
    local n = x:size(1)
    self.calls[#self.calls + 1] = {x = x:clone(), t = t:totable(), context = context:clone(), y = y:clone()}
    local per = x:numel() / n
    local xs, r = flat(x), {}
    for b = 1, n do
      local c = context:get(b, 1, 1) + 0.001 * t:get(b)
      for k = 1, per do r[(b - 1) * per + k] = xs[(b - 1) * per + k] + c end
    end
    return build(x:shape(), r)
  end
  return m
end

-- A fake class-conditional DiT with learned sigma: ε = 0.5·x_in + label/10 in the first
-- C channels, 1e6 in the variance channels (which must be dropped).
local function fake_dit()
  local m = {calls = {}}
  function m:config() return {family = 'dit', in_channels = 2, learn_sigma = true, num_classes = 10} end
  function m:forward(x, t, y)
    self.calls[#self.calls + 1] = {x = x:clone(), t = t:totable(), y = y:totable(), ydtype = y:dtype()}
    local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
    local r = {}
    for b = 1, n do
      for ch = 1, 2 * c do
        for i = 1, h do
          for j = 1, w do
            local v = 1e6
            if ch <= c then v = 0.5 * x:get(b, ch, i, j) + y:get(b) / 10 end
            r[#r + 1] = v
          end
        end
      end
    end
    return build({n, 2 * c, h, w}, r)
  end
  return m
end

describe('sampler steps', function()
  it('match the sampler oracle through the Lua API', function()
    local dir = H.shared()
    if not dir then
      pending('../shared not found (set FOKUS_SHARED): sampler oracle not checked')
      return
    end
    local t = fokus.load(dir .. '/oracles/models/samplers.safetensors')
    local tol = 1e-5
    close(fokus.sigmas(28, {shift = 3.0}), t['outputs.rf.sigmas_sd3_ref_28'], tol)
    close(fokus.sigmas(28, {shift = 3.0, schedule = 'simple'}), t['outputs.rf.sigmas_comfy_simple_28'], tol)
    local x, vc, vu = t['inputs.rf.x'], t['inputs.rf.v_cond'], t['inputs.rf.v_uncond']
    local s, sn, g = t['inputs.rf.sigma']:item(), t['inputs.rf.sigma_next']:item(), t['inputs.rf.cfg_scale']:item()
    close(fokus.euler_flow(x, vc, s, sn), t['outputs.rf.x_next'], tol)
    local v = fokus.cfg(vc, vu, g)
    close(v, t['outputs.rf.v_cfg'], tol)
    close(fokus.euler_flow(x, v, s, sn), t['outputs.rf.x_next_cfg'], tol)
    close(fokus.denoised(x, vc, s), t['outputs.rf.denoised'], tol)
    close(fokus.axpby(s, t['inputs.rf.noise'], 1 - s, t['inputs.rf.latent']), t['outputs.rf.noised'], tol)
    close(fokus.alphas_cumprod(), t['outputs.ddim.alphas_cumprod'], tol)
    assert.are.same(t['outputs.ddim.timesteps_20']:totable(), fokus.ddim_timesteps(20):totable())
    local dx, de, dn = t['inputs.ddim.x'], t['inputs.ddim.eps'], t['inputs.ddim.noise']
    local xp, x0 = fokus.ddim(dx, de, 651, 601)
    close(xp, t['outputs.ddim.x_prev_eta0'], tol)
    close(x0, t['outputs.ddim.pred_x0'], tol)
    close(fokus.ddim(dx, de, 651, 601, {eta = t['inputs.ddim.eta']:item(), noise = dn}), t['outputs.ddim.x_prev_eta05'], tol)
    close(fokus.ddim(dx, de, 1, -49), t['outputs.ddim.x_prev_last'], tol)
    local es, esn = t['inputs.euler_eps.sigma']:item(), t['inputs.euler_eps.sigma_next']:item()
    close(fokus.euler(t['inputs.euler_eps.x'], t['inputs.euler_eps.eps'], es, esn), t['outputs.euler_eps.x_next'], tol)
    assert.is_true(math.abs(fokus.sigma_to_t(es) - 651) < 1e-3)
  end)

  it('dpmpp_2m follows its equations (first order, second order, last step)', function()
    local x, d, old = fokus.randn({2, 3}, {seed = 1}), fokus.randn({2, 3}, {seed = 2}), fokus.randn({2, 3}, {seed = 3})
    local s, sn, sp = 0.6, 0.4, 0.8
    local h = math.log(s / sn)
    local w = 1 - math.exp(-h)
    close(fokus.dpmpp_2m(x, d, s, sn), map2(x, d, function(a, b) return sn / s * a + w * b end), 1e-6)
    local r = math.log(sp / s) / h
    local got = fokus.dpmpp_2m(x, d, s, sn, {old_denoised = old, sigma_prev = sp})
    local tx, td, to, ref = flat(x), flat(d), flat(old), {}
    for i = 1, #tx do
      ref[i] = sn / s * tx[i] + w * ((1 + 1 / (2 * r)) * td[i] - 1 / (2 * r) * to[i])
    end
    close(got, build(x:shape(), ref), 1e-6)
    assert.are.same(d:totable(), fokus.dpmpp_2m(x, d, s, 0, {old_denoised = old, sigma_prev = sp}):totable())
  end)

  it('reject bad input with clear messages', function()
    local x, v = fokus.zeros{2, 3}, fokus.zeros{2, 3}
    assert.error_matches(function() fokus.euler_flow(x, v, 1.5, 0.5) end, 'euler_flow: sigma must be in %[0, 1%], got 1.5')
    assert.error_matches(function() fokus.euler_flow(x, v, 0.5, -0.5) end, 'sigma_next must be in %[0, 1%]')
    assert.error_matches(function() fokus.euler_flow(x, v, 0 / 0, 0.5) end, 'sigma must be in %[0, 1%], got %-?nan')
    assert.error_matches(function() fokus.euler_flow(x, fokus.zeros{3, 2}, 0.5, 0.4) end, 'v has shape 3x2, x has 2x3')
    assert.error_matches(function() fokus.cfg(x, fokus.tensor{{1, 0 / 0, 1}, {1, 1, 1}}, 2) end,
                         'cfg: uncond has NaN at element 2 of 6')
    assert.error_matches(function() fokus.euler_flow(x, 'v', 0.5, 0.4) end, "bad argument #2 to 'euler_flow'")
    assert.error_matches(function() fokus.sigmas(4, {shfit = 3}) end, "unknown option 'shfit' %(did you mean 'shift'%?%)")
    assert.error_matches(function() fokus.sigmas(4, {schedule = 'karras'}) end, "'schedule' must be \"sd3\" or \"simple\"")
    assert.error_matches(function() fokus.sigmas(0) end, 'steps must be in 1..10000')
    assert.error_matches(function() fokus.sigmas(4, {betas = 'linear', shift = 3}) end, "'shift' is for flow models")
    assert.error_matches(function() fokus.ddim(x, v, 500, 450, {eta = 0.5}) end, 'ddim: eta 0.5 needs noise')
    assert.error_matches(function() fokus.ddim(x, v, 500, 450, {etaa = 0.5}) end, "unknown option 'etaa' %(did you mean 'eta'%?%)")
    assert.error_matches(function() fokus.dpmpp_2m(x, v, 0.5, 0.6) end, 'sigma_next must be < sigma')
    assert.error_matches(function() fokus.dpmpp_2m(x, v, 0.5, 0.4, {old_denoised = v}) end, "'old_denoised' needs 'sigma_prev'")
    assert.error_matches(function() fokus.dpmpp_2m(x, v, 0.5, 0.4, {sigma_prev = 0.6}) end, "'sigma_prev' needs 'old_denoised'")
  end)

  it('sigmas end with 0 and decrease, for flow and ε models', function()
    for _, o in ipairs({{}, {schedule = 'simple'}, {shift = 1}, {betas = 'linear'}, {betas = 'scaled_linear', schedule = 'simple'}}) do
      local s = fokus.sigmas(10, o):totable()
      assert.are.equal(11, #s)
      assert.are.equal(0, s[11])
      for i = 2, 11 do assert.is_true(s[i] < s[i - 1]) end
    end
    assert.are.equal(1, fokus.sigmas(5):get(1))
    assert.is_true(math.abs(fokus.sigmas(5, {betas = 'scaled_linear'}):get(1) - 14.6146) < 1e-3)
  end)

  it('cat joins tensors along a dimension', function()
    local a, b = fokus.tensor{{1, 2}}, fokus.tensor{{3, 4}, {5, 6}}
    assert.are.same({{1, 2}, {3, 4}, {5, 6}}, fokus.cat({a, b}):totable())
    assert.are.same({{1, 2, 1, 2}}, fokus.cat({a, a}, 2):totable())
    assert.error_matches(function() fokus.cat({a, b}, 2) end, 'cat: tensor 2 is f32 2x2, tensor 1 is f32 1x2')
    assert.error_matches(function() fokus.cat({a, 'b'}) end, 'entry 2 must be a fokus.Tensor')
  end)
end)

describe('dit_step', function()
  local ctx_c = fokus.tensor{{{1, 0, 0}, {0, 0, 0}}}            -- [1, 2, 3]
  local ctx_u = fokus.tensor{{{-2, 0, 0}, {0, 0, 0}}}
  local cond = {context = ctx_c, y = fokus.tensor{{1, 2}}}
  local uncond = {context = ctx_u, y = fokus.tensor{{0, 0}}}

  it('runs cond and uncond as one batch of 2N, then cfg and the flow Euler step', function()
    local m = fake_mmdit()
    local x = fokus.randn({2, 4, 2, 2}, {seed = 5})
    local s, sn, g = 0.8, 0.6, 4.5
    local nx, den = fokus.dit_step(m, x, s, sn, cond, {uncond = uncond, cfg = g})
    assert.are.equal(1, #m.calls)
    local call = m.calls[1]
    assert.are.same({4, 4, 2, 2}, call.x:shape())
    assert.are.same(x:totable(), call.x:narrow(1, 1, 2):totable())
    assert.are.same(x:totable(), call.x:narrow(1, 3, 2):totable())
    for i = 1, 4 do assert.is_true(math.abs(call.t[i] - 800) < 1e-3) end
    -- batch-1 conditioning is repeated for each latent: [c, c, u, u]
    assert.are.same({1, 1, -2, -2}, {call.context:get(1, 1, 1), call.context:get(2, 1, 1), call.context:get(3, 1, 1),
                                     call.context:get(4, 1, 1)})
    assert.are.same({{1, 2}, {1, 2}, {0, 0}, {0, 0}}, call.y:totable())
    -- v_c = x + 1 + 0.8, v_u = x − 2 + 0.8: guided v = x + 0.8 − 2 + g·3
    local v = fokus.axpby(1, x, 1, fokus.ones(x:shape()))
    v = fokus.axpby(1, v, 0.8 - 3 + g * 3, fokus.ones(x:shape()))
    close(nx, fokus.euler_flow(x, v, s, sn), 1e-6)
    close(den, fokus.denoised(x, v, s), 1e-6)
  end)

  it('skips the uncond half when cfg is 1 and steps with dpmpp_2m', function()
    local m = fake_mmdit()
    local x = fokus.randn({1, 4, 2, 2}, {seed = 6})
    local nx, d1 = fokus.dit_step(m, x, 1.0, 0.7, cond, {sampler = 'dpmpp_2m'})
    assert.are.equal(1, m.calls[1].x:size(1))
    -- the first dpmpp_2m step is the Euler step
    close(nx, fokus.dit_step(fake_mmdit(), x, 1.0, 0.7, cond), 1e-6)
    -- the second takes the history
    local x2, d2 = fokus.dit_step(m, nx, 0.7, 0.4, cond, {sampler = 'dpmpp_2m', old_denoised = d1, sigma_prev = 1.0})
    close(x2, fokus.dpmpp_2m(nx, d2, 0.7, 0.4, {old_denoised = d1, sigma_prev = 1.0}), 1e-6)
  end)

  it('drops DiT learned-sigma channels, scales the input and uses the null class', function()
    local m = fake_dit()
    local x = fokus.randn({2, 2, 2, 2}, {seed = 7})
    local s, sn, g = 5.0, 2.0, 3.0
    local nx = fokus.dit_step(m, x, s, sn, {3, 4}, {cfg = g})
    local call = m.calls[1]
    assert.are.same({3, 4, 10, 10}, call.y)
    assert.are.equal('i32', call.ydtype)
    local cin = 1 / math.sqrt(s * s + 1)
    close(call.x:narrow(1, 1, 2), fokus.axpby(cin, x), 1e-6)
    assert.is_true(math.abs(call.t[1] - fokus.sigma_to_t(s, {betas = 'linear'})) < 1e-3)
    -- ε_c = 0.5·cin·x + label/10, ε_u = 0.5·cin·x + 1: guided adds g·(label/10 − 1)
    local r, xs = {}, flat(x)
    for i = 1, #xs do
      local label = (i <= 8) and 3 or 4
      local eps = 0.5 * cin * xs[i] + 1 + g * (label / 10 - 1)
      r[i] = xs[i] + eps * (sn - s)
    end
    close(nx, build(x:shape(), r), 1e-5)
    -- ddim with η = 0 is the same step; with η it needs noise and uses it
    close(fokus.dit_step(fake_dit(), x, s, sn, {3, 4}, {cfg = g, sampler = 'ddim'}), nx, 1e-5)
    local a = fokus.dit_step(fake_dit(), x, s, sn, {3, 4}, {cfg = g, sampler = 'ddim', eta = 1, noise = fokus.zeros(x:shape())})
    local b = fokus.dit_step(fake_dit(), x, s, sn, {3, 4}, {cfg = g, sampler = 'ddim', eta = 1, noise = fokus.ones(x:shape())})
    assert.is_true(H.maxdiff(a, b) > 0.1)
  end)

  it('reports bad calls clearly', function()
    local x = fokus.zeros{1, 4, 2, 2}
    assert.error_matches(function() fokus.dit_step(fake_mmdit(), x, 1.5, 0.5, cond) end,
                         'dit_step: sigma and sigma_next must be in %[0, 1%] for a flow model, got 1.5')
    assert.error_matches(function() fokus.dit_step(fake_mmdit(), x, 0.5, 0.4, cond, {cfg = 3}) end,
                         'cfg 3 needs opts.uncond')
    assert.error_matches(function() fokus.dit_step(fake_mmdit(), x, 0.5, 0.4, cond, {cgf = 3}) end,
                         "unknown option 'cgf' %(did you mean 'cfg'%?%)")
    assert.error_matches(function() fokus.dit_step(fake_mmdit(), x, 0.5, 0.4, cond, {sampler = 'ddim'}) end,
                         "sampler 'ddim' is for ε%-prediction models")
    assert.error_matches(function() fokus.dit_step(fake_mmdit(), x, 0.5, 0.4, cond, {sampler = 'heun'}) end,
                         'sampler must be "euler", "dpmpp_2m" or "ddim"')
    assert.error_matches(function() fokus.dit_step(fake_mmdit(), fokus.zeros{3, 4, 2, 2}, 0.5, 0.4,
                                                   {context = fokus.zeros{2, 2, 3}, y = fokus.zeros{2, 2}}) end,
                         'cond.context has batch 2, x has 3')
    assert.error_matches(function() fokus.dit_step({}, x, 0.5, 0.4, cond) end, 'model must have forward and config')
    assert.error_matches(function() fokus.dit_step(fake_dit(), fokus.zeros{2, 2, 2, 2}, 5, 4, {1, 2, 3}) end,
                         'cond has 3 labels, x has batch 2')
  end)
end)

describe('dit_step on the tiny DiT', function()
  it('equals forward on the 2N batch, learned sigma dropped, cfg and the ε Euler step', function()
    local m = fokus.dit.tiny{seed = 1}
    local c = m:config()
    local x = fokus.randn({2, c.in_channels, 8, 8}, {seed = 4})
    local s, sn, g = 9.0, 4.0, 4.0
    local nx, den = fokus.dit_step(m, x, s, sn, {1, 2}, {cfg = g})
    local t = fokus.sigma_to_t(s, {betas = 'linear'})
    local xin = fokus.axpby(1 / math.sqrt(s * s + 1), x)
    local out = m:forward(fokus.cat({xin, xin}, 1), fokus.tensor{t, t, t, t},
                          fokus.tensor({1, 2, c.num_classes, c.num_classes}, 'i32'))
    local eps = out:narrow(2, 1, c.in_channels)
    local guided = fokus.cfg(eps:narrow(1, 1, 2), eps:narrow(1, 3, 2), g)
    close(nx, fokus.euler(x, guided, s, sn), 1e-6)
    close(den, fokus.denoised(x, guided, s), 1e-6)
    local n = 0
    local lat = fokus.sample(m, x, {1, 2}, {steps = 4, cfg = g, sampler = 'dpmpp_2m', progress = false,
                                            callback = function() n = n + 1 end})
    assert.are.equal(4, n)
    assert.are.same(x:shape(), lat:shape())
  end)
end)

describe('dit_step on the tiny MMDiT', function()
  it('equals forward on the 2N batch at t = 1000·sigma, cfg and the flow Euler step', function()
    local m = fokus.mmdit.tiny{seed = 1}
    local c = m:config()
    local x = fokus.randn({1, c.in_channels, 8, 8}, {seed = 4})
    local cond = {context = fokus.randn({1, 5, c.context_dim}, {seed = 5}), y = fokus.randn({1, c.pooled_dim}, {seed = 6})}
    local uncond = {context = fokus.zeros{1, 5, c.context_dim}, y = fokus.zeros{1, c.pooled_dim}}
    local s, sn, g = 0.75, 0.5, 4.5
    local nx, den = fokus.dit_step(m, x, s, sn, cond, {uncond = uncond, cfg = g})
    local v = m:forward(fokus.cat({x, x}, 1), fokus.tensor{1000 * s, 1000 * s}, fokus.cat({cond.context, uncond.context}, 1),
                        fokus.cat({cond.y, uncond.y}, 1))
    local guided = fokus.cfg(v:narrow(1, 1, 1), v:narrow(1, 2, 1), g)
    close(nx, fokus.euler_flow(x, guided, s, sn), 1e-6)
    close(den, fokus.denoised(x, guided, s), 1e-6)
    local lat = fokus.sample(m, x, cond, {steps = 3, cfg = g, uncond = uncond, sampler = 'dpmpp_2m', progress = false})
    assert.are.same(x:shape(), lat:shape())
    assert.are.same({8, 8, 3}, fokus.latent_preview(lat):shape())
  end)
end)

describe('sample', function()
  -- a flow model whose clean image is x0 whatever the input: v = (x − x0)/σ
  local function target_model(x0)
    local m = {n = 0}
    function m:config() return {family = 'mmdit', in_channels = 4} end
    function m:forward(x, t)
      self.n = self.n + 1
      local s = t:get(1) / 1000
      return fokus.axpby(1 / s, x, -1 / s, x0)
    end
    return m
  end
  local cond = {context = fokus.zeros{1, 2, 3}, y = fokus.zeros{1, 2}}

  it('runs the loop to the target with euler and dpmpp_2m', function()
    local x0 = fokus.randn({1, 4, 3, 3}, {seed = 11})
    local noise = fokus.randn({1, 4, 3, 3}, {seed = 12})
    for _, sampler in ipairs({'euler', 'dpmpp_2m'}) do
      local m = target_model(x0)
      local out = fokus.sample(m, noise, cond, {steps = 6, sampler = sampler, progress = false})
      assert.are.equal(6, m.n)
      close(out, x0, 1e-5)
    end
  end)

  it('calls back after every step and stops when the callback returns false', function()
    local x0 = fokus.randn({1, 4, 3, 3}, {seed = 11})
    local noise = fokus.randn({1, 4, 3, 3}, {seed = 12})
    local m, seen = target_model(x0), {}
    local sig = fokus.sigmas(8):totable()
    local out = fokus.sample(m, noise, cond, {steps = 8, progress = false, callback = function(i, x, den)
      seen[#seen + 1] = i
      close(den, x0, 1e-5)
      -- on the straight path: x = (1 − σ)·x0 + σ·noise
      close(x, fokus.axpby(1 - sig[i + 1], x0, sig[i + 1], noise), 1e-5)
      if i == 3 then return false end
    end})
    assert.are.same({1, 2, 3}, seen)
    assert.are.equal(3, m.n)
    close(out, fokus.axpby(1 - sig[4], x0, sig[4], noise), 1e-5)
  end)

  it('writes a progress line only when asked or on a terminal', function()
    local x0 = fokus.zeros{1, 4, 2, 2}
    local path = os.tmpname()
    local f = io.open(path, 'w')
    fokus.sample(target_model(x0), fokus.ones{1, 4, 2, 2}, cond, {steps = 3, progress = f})
    f:close()
    f = io.open(path, 'r')
    local text = f:read('*a')
    f:close()
    os.remove(path)
    assert.matches('\rsample 1/3  [%d.]+ it/s  ETA %d+:%d%d', text)
    assert.matches('\rsample 3/3  [%d.]+ it/s  %d+:%d%d *\n$', text)
    assert.is_boolean(fokus.isatty(io.stderr))
    assert.is_boolean(fokus.isatty(1))
    assert.error_matches(function() fokus.sample(target_model(x0), x0, cond, {progress = 'yes'}) end,
                         "option 'progress' must be a boolean or a file")
    assert.error_matches(function() fokus.sample(target_model(x0), x0, cond, {steps = 0}) end,
                         "option 'steps' must be a positive integer")
    assert.error_matches(function() fokus.sample(target_model(x0), x0, cond, {sigmas = {1, 0.5, 0.7}}) end,
                         'sigmas must decrease')
  end)

  it('samples a DiT with custom sigmas and ddim', function()
    local m = fake_dit()
    local out = fokus.sample(m, fokus.randn({1, 2, 2, 2}, {seed = 3}), 5, {sigmas = {10, 3, 1, 0}, sampler = 'ddim',
                                                                          progress = false})
    assert.are.equal(3, #m.calls)
    assert.are.same({1, 2, 2, 2}, out:shape())
    assert.error_matches(function() fokus.sample(fake_dit(), fokus.zeros{1, 2, 2, 2}, 5, {shift = 3}) end,
                         "option 'shift' is for flow models")
  end)
end)

describe('latent_preview', function()
  it('maps latents to RGB through the published factors', function()
    local img = fokus.latent_preview(fokus.zeros{1, 16, 4, 6})
    assert.are.same({4, 6, 3}, img:shape())
    assert.are.equal('u8', img:dtype())
    assert.are.same({158, 154, 152}, img:select(1, 2):select(1, 3):totable()) -- SD3 bias alone
    local z = fokus.zeros{4, 2, 2}
    z:set(1, 1, 2, 1.0)
    local p = fokus.latent_preview(z, {family = 'sd1', scale = 3})
    assert.are.same({6, 6, 3}, p:shape())
    assert.are.same({127, 127, 127}, p:select(1, 1):select(1, 1):totable())
    assert.are.same({172, 156, 168}, p:select(1, 1):select(1, 4):totable())
    assert.are.same({2, 4, 3}, fokus.latent_preview(fokus.zeros{2, 4, 2, 2}):shape()) -- a batch side by side
    assert.error_matches(function() fokus.latent_preview(z, {family = 'sd3'}) end, 'sd3 latents have 16 channels, got 4')
    assert.error_matches(function() fokus.latent_preview(z, {family = 'flux'}) end, "'family' must be")
    assert.error_matches(function() fokus.latent_preview(fokus.zeros{4, 4}) end, 'latent must be %[C, H, W%]')
    local path = os.tmpname()
    assert.is_true(fokus.save_png(path, p))
    os.remove(path)
  end)
end)
