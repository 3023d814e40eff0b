-- fokus.dit_step and fokus.sample: one guided sampler step of a diffusion transformer
-- (DiT or SD3 MMDiT) and the whole denoising loop, written over the C steps of
-- fokus.core (euler_flow, euler, ddim_sigma, dpmpp_2m, cfg, denoised).
--
-- Conventions (models.md section 5):
--   flow models (family "mmdit"): x = (1 - sigma)·x0 + sigma·noise, sigma in [0, 1],
--     the model gets t = 1000·sigma and predicts v; denoised = x - sigma·v.
--   ε-prediction (family "dit"): k-diffusion's sigma space x = x0 + sigma·noise,
--     sigma = sqrt((1 - abar)/abar) over DiT's linear betas; the model gets
--     x/sqrt(sigma² + 1) at t = sigma_to_t(sigma) and predicts ε (its learned-sigma
--     channels are dropped); denoised = x - sigma·ε.
-- Everything lives in locals and arguments: two loops may run side by side.
local core = require "fokus.core"

local M = {}

-- ------------------------------------------------------------------ options

local check = require "fokus.check"
local checkopts = check.checkopts

local function checktype(fname, what, v, want, level)
  if type(v) ~= want then
    error(string.format("%s: %s must be a %s, got %s", fname, what, want, type(v)), level + 1)
  end
end

local function checknumber(fname, what, v, level)
  if type(v) ~= "number" or v ~= v then
    error(string.format("%s: %s must be a number, got %s", fname, what, tostring(v)), level + 1)
  end
end

-- ------------------------------------------------------------------ model

-- What the loop needs to know of a model, from model:config().
local function model_info(fname, model, level)
  if (type(model) ~= "table" and type(model) ~= "userdata") or model.forward == nil or model.config == nil then
    error(fname .. ": model must have forward and config methods (fokus.dit / fokus.mmdit), got " .. type(model),
          level + 1)
  end
  local cfg = model:config()
  local info = {family = cfg.family, in_channels = cfg.in_channels}
  if cfg.family == "mmdit" then
    info.flow = true
  elseif cfg.family == "dit" then
    info.flow = false
    info.betas = "linear" -- facebookresearch DiT: linspace(1e-4, 0.02, 1000)
    info.learn_sigma = cfg.learn_sigma and true or false
    info.num_classes = cfg.num_classes
  else
    error(fname .. ": model family must be 'dit' or 'mmdit', got " .. tostring(cfg.family), level + 1)
  end
  return info
end

local function is_tensor(v) return core.is_tensor(v) end

-- A batch of n along dim 1: t itself, or a batch-1 tensor repeated.
local function batch_of(fname, what, t, n, level)
  if not is_tensor(t) then
    error(string.format("%s: %s must be a fokus.Tensor, got %s", fname, what, type(t)), level + 1)
  end
  local b = t:size(1)
  if b == n then return t end
  if b == 1 then
    local list = {}
    for i = 1, n do list[i] = t end
    return core.cat(list, 1)
  end
  error(string.format("%s: %s has batch %d, x has %d", fname, what, b, n), level + 1)
end

-- DiT labels as a Lua array of n integers: a number, an array or an integer tensor.
local function labels_of(fname, what, v, n, level)
  local list = {}
  if type(v) == "number" then
    for i = 1, n do list[i] = v end
  elseif is_tensor(v) then
    list = v:reshape({-1}):totable()
  elseif type(v) == "table" then
    for i = 1, #v do list[i] = v[i] end
  else
    error(string.format("%s: %s must be a class label, a list of labels or a tensor, got %s", fname, what, type(v)),
          level + 1)
  end
  if #list == 1 and n > 1 then
    for i = 2, n do list[i] = list[1] end
  end
  if #list ~= n then
    error(string.format("%s: %s has %d labels, x has batch %d", fname, what, #list, n), level + 1)
  end
  for i = 1, n do
    local l = list[i]
    if type(l) ~= "number" or l ~= math.floor(l) then
      error(string.format("%s: %s label %d must be an integer, got %s", fname, what, i, tostring(l)), level + 1)
    end
  end
  return list
end

-- The guided model prediction (v or ε, [N, C, H, W]) at sigma.
local function predict(fname, info, model, x, sigma, cond, o, level)
  local n = x:size(1)
  local g = o.cfg or 1.0
  local guided = g ~= 1.0
  local xin, t
  if info.flow then
    xin, t = x, 1000.0 * sigma
  else
    xin = core.axpby(1.0 / math.sqrt(sigma * sigma + 1.0), x)
    t = core.sigma_to_t(sigma, {betas = info.betas})
  end
  local rows = guided and 2 * n or n
  local ts = {}
  for i = 1, rows do ts[i] = t end
  local tt = core.tensor(ts)
  if guided then xin = core.cat({xin, xin}, 1) end

  local out
  if info.flow then
    if type(cond) ~= "table" or is_tensor(cond) then
      error(fname .. ": cond must be {context =, y =} for an MMDiT, got " .. type(cond), level + 1)
    end
    local ctx = batch_of(fname, "cond.context", cond.context, n, level + 1)
    local y = batch_of(fname, "cond.y", cond.y, n, level + 1)
    if guided then
      local u = o.uncond
      if type(u) ~= "table" or is_tensor(u) then
        error(string.format("%s: cfg %g needs opts.uncond = {context =, y =} (the empty prompt's encoding)", fname, g),
              level + 1)
      end
      local uctx = batch_of(fname, "uncond.context", u.context, n, level + 1)
      local uy = batch_of(fname, "uncond.y", u.y, n, level + 1)
      if uctx:size(2) ~= ctx:size(2) then
        error(string.format("%s: cond.context has %d tokens, uncond.context %d (they run as one batch)", fname,
                            ctx:size(2), uctx:size(2)), level + 1)
      end
      ctx = core.cat({ctx, uctx}, 1)
      y = core.cat({y, uy}, 1)
    end
    out = model:forward(xin, tt, ctx, y)
  else
    local labels = labels_of(fname, "cond", cond, n, level + 1)
    if guided then
      local u = o.uncond
      if u == nil then u = info.num_classes end -- DiT's null class
      local ul = labels_of(fname, "uncond", u, n, level + 1)
      for i = 1, n do labels[n + i] = ul[i] end
    end
    out = model:forward(xin, tt, core.tensor(labels, "i32"))
  end
  if type(out) == "table" and not is_tensor(out) then out = out.out end
  if not is_tensor(out) then
    error(fname .. ": model:forward returned " .. type(out) .. ", expected a fokus.Tensor", level + 1)
  end
  local c = x:size(2)
  if out:dim() ~= x:dim() or out:size(1) ~= rows then
    error(string.format("%s: model output %s does not match the batch of %d", fname, tostring(out), rows), level + 1)
  end
  if out:size(2) ~= c then
    if not info.flow and info.learn_sigma and out:size(2) == 2 * c then
      out = out:narrow(2, 1, c) -- ε; the other half is the learned variance
    else
      error(string.format("%s: model output has %d channels, x has %d", fname, out:size(2), c), level + 1)
    end
  end
  if not guided then return out end
  return core.cfg(out:narrow(1, 1, n), out:narrow(1, n + 1, n), g)
end

local STEP_OPTS = {"uncond", "cfg", "sampler", "old_denoised", "sigma_prev", "eta", "noise"}

local function step(fname, info, model, x, sigma, sigma_next, cond, o, level)
  local sampler = o.sampler or "euler"
  if sampler ~= "euler" and sampler ~= "dpmpp_2m" and sampler ~= "ddim" then
    error(string.format("%s: sampler must be \"euler\", \"dpmpp_2m\" or \"ddim\", got '%s'", fname,
                        tostring(sampler)), level + 1)
  end
  if info.flow and sampler == "ddim" then
    error(fname .. ": sampler 'ddim' is for ε-prediction models (DiT); flow models use euler or dpmpp_2m", level + 1)
  end
  if info.flow and not (sigma >= 0 and sigma <= 1 and sigma_next >= 0 and sigma_next <= 1) then
    error(string.format("%s: sigma and sigma_next must be in [0, 1] for a flow model, got %g and %g", fname, sigma,
                        sigma_next), level + 1)
  end
  if o.cfg ~= nil then checknumber(fname, "option 'cfg'", o.cfg, level + 1) end
  local pred = predict(fname, info, model, x, sigma, cond, o, level + 1)
  local denoised = core.denoised(x, pred, sigma)
  local nx
  if sampler == "dpmpp_2m" then
    local extra
    if o.old_denoised ~= nil then extra = {old_denoised = o.old_denoised, sigma_prev = o.sigma_prev} end
    nx = core.dpmpp_2m(x, denoised, sigma, sigma_next, extra)
  elseif sampler == "ddim" then
    nx = core.ddim_sigma(x, pred, sigma, sigma_next, {eta = o.eta, noise = o.noise})
  elseif info.flow then
    nx = core.euler_flow(x, pred, sigma, sigma_next)
  else
    nx = core.euler(x, pred, sigma, sigma_next)
  end
  return nx, denoised
end

-- fokus.dit_step(model, x, sigma, sigma_next, cond [, {uncond =, cfg =, sampler =,
--   old_denoised =, sigma_prev =, eta =, noise =}]) -> x_next, denoised
function M.dit_step(model, x, sigma, sigma_next, cond, opts)
  local fname = "dit_step"
  local o = checkopts(fname, opts, STEP_OPTS, 2)
  local info = model_info(fname, model, 2)
  if not is_tensor(x) then error(fname .. ": x must be a fokus.Tensor, got " .. type(x), 2) end
  checknumber(fname, "sigma", sigma, 2)
  checknumber(fname, "sigma_next", sigma_next, 2)
  return step(fname, info, model, x, sigma, sigma_next, cond, o, 2)
end

-- ------------------------------------------------------------------ the loop

local function clock_str(s)
  s = math.floor(s + 0.5)
  local h, m = math.floor(s / 3600), math.floor(s / 60) % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, s % 60) end
  return string.format("%d:%02d", m, s % 60)
end

-- A progress reporter writing to `out` ("\r"-updated), or nil.
local function progress_line(out, total)
  local t0 = core.clock()
  local width = 0
  return function(i, done)
    local el = core.clock() - t0
    local rate = el > 0 and i / el or 0
    local eta = rate > 0 and (total - i) / rate or 0
    local s = string.format("sample %d/%d  %.2f it/s  ETA %s", i, total, rate, clock_str(eta))
    if done then s = string.format("sample %d/%d  %.2f it/s  %s", i, total, rate, clock_str(el)) end
    local pad = width > #s and string.rep(" ", width - #s) or ""
    width = #s
    out:write("\r", s, pad, done and "\n" or "")
    out:flush()
  end
end

local SAMPLE_OPTS = {"steps", "shift", "schedule", "sigmas", "cfg", "uncond", "sampler", "callback", "progress",
                     "eta", "seed"}

-- fokus.sample(model, noise, cond, {steps =, shift =, schedule =, sigmas =, cfg =, uncond =,
--   sampler =, eta =, seed =, callback =, progress =}) -> latent
function M.sample(model, noise, cond, opts)
  local fname = "sample"
  local o = checkopts(fname, opts, SAMPLE_OPTS, 2)
  local info = model_info(fname, model, 2)
  if not is_tensor(noise) then error(fname .. ": noise must be a fokus.Tensor, got " .. type(noise), 2) end
  if o.callback ~= nil then checktype(fname, "option 'callback'", o.callback, "function", 2) end
  local sampler = o.sampler or "euler"

  -- the schedule
  local sig
  if o.sigmas ~= nil then
    if o.steps ~= nil or o.shift ~= nil or o.schedule ~= nil then
      error(fname .. ": option 'sigmas' replaces 'steps', 'shift' and 'schedule'", 2)
    end
    sig = is_tensor(o.sigmas) and o.sigmas:reshape({-1}):totable() or o.sigmas
    checktype(fname, "option 'sigmas'", sig, "table", 2)
    if #sig < 2 then error(fname .. ": option 'sigmas' needs at least 2 values", 2) end
    for i = 1, #sig do
      checknumber(fname, "sigmas[" .. i .. "]", sig[i], 2)
      if i > 1 and not (sig[i] < sig[i - 1]) then
        error(string.format("%s: sigmas must decrease, got %g after %g", fname, sig[i], sig[i - 1]), 2)
      end
    end
  else
    local steps = o.steps or (info.flow and 28 or 50)
    if type(steps) ~= "number" or steps ~= math.floor(steps) or steps < 1 then
      error(fname .. ": option 'steps' must be a positive integer, got " .. tostring(steps), 2)
    end
    local so = {schedule = o.schedule}
    if info.flow then
      so.shift = o.shift or 3.0
    else
      if o.shift ~= nil then error(fname .. ": option 'shift' is for flow models (MMDiT)", 2) end
      so.betas = info.betas
    end
    sig = core.sigmas(steps, so):totable()
  end
  local total = #sig - 1

  -- the start: pure noise at sigmas[1]
  local s0 = sig[1]
  local x
  if info.flow then
    x = core.axpby(s0, noise)
  else
    -- a unit-variance VP start seen in sigma space (ComfyUI's max-denoise scaling)
    x = core.axpby(math.sqrt(1.0 + s0 * s0), noise)
  end

  local out = o.progress
  if out == nil then
    out = core.isatty(io.stderr) and io.stderr or nil
  elseif out == true then
    out = io.stderr
  elseif out == false then
    out = nil
  elseif io.type(out) ~= "file" then
    error(fname .. ": option 'progress' must be a boolean or a file, got " .. type(out), 2)
  end
  local report = out and progress_line(out, total) or nil

  local so = {uncond = o.uncond, cfg = o.cfg, sampler = sampler, eta = o.eta}
  local old, sprev
  for i = 1, total do
    local s, sn = sig[i], sig[i + 1]
    so.old_denoised, so.sigma_prev = old, sprev
    if sampler == "ddim" and (o.eta or 0) > 0 and sn > 0 then
      so.noise = core.randn(x:shape(), o.seed and {seed = o.seed + i} or nil)
    else
      so.noise = nil
    end
    local nx, denoised = step(fname, info, model, x, s, sn, cond, so, 2)
    x = nx
    old, sprev = denoised, s
    if report then report(i, i == total) end
    if o.callback and o.callback(i, x, denoised) == false then
      if report and i < total then out:write("\n") end
      break
    end
  end
  return x
end

return M
