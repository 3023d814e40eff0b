-- Diffusion nodes: latents, noise, schedules, the sampler step and loop, and the
-- attention an MMDiT pays to each prompt token (DAAM-style maps).
return function(fokus)
  local define = fokus.define
  local SAMPLERS = {"euler", "dpmpp_2m", "ddim"}

  define{type = "empty_latent", category = "diffusion",
         description = "a zero latent [batch, C, height, width] in latent cells (C from the model)",
         inputs = {{"model", "MODEL"}, {"width", "INT", {default = 16, min = 1, max = 1024}},
                   {"height", "INT", {default = 16, min = 1, max = 1024}},
                   {"batch", "INT", {default = 1, min = 1, max = 64}}},
         outputs = {{"latent", "LATENT"}},
         run = function(i)
           return fokus.zeros{i.batch, i.model:config().in_channels, i.height, i.width}
         end}

  define{type = "noise", category = "diffusion",
         description = "seeded Gaussian noise shaped like a latent (the same seed gives the same noise everywhere)",
         inputs = {{"latent", "LATENT"}, {"seed", "INT", {default = 0, min = 0}}},
         outputs = {{"noise", "LATENT"}},
         run = function(i) return fokus.randn(i.latent:shape(), {seed = i.seed}) end}

  define{type = "sigmas", category = "diffusion",
         description = "the noise schedule, steps + 1 values ending with 0 (flow models: shift, sd3 or simple)",
         inputs = {{"steps", "INT", {default = 20, min = 1, max = 10000}}, {"shift", "FLOAT", {default = 3.0, min = 0}},
                   {"schedule", "STRING", {default = "sd3", choices = {"sd3", "simple"}}}},
         outputs = {{"sigmas", "TENSOR"}},
         run = function(i) return fokus.sigmas(i.steps, {shift = i.shift, schedule = i.schedule}) end}

  define{type = "dit_step", category = "diffusion",
         description = "one guided sampler step from sigma to sigma_next (cond and uncond as one batch)",
         inputs = {{"model", "MODEL"}, {"x", "LATENT"}, {"sigma", "FLOAT", {min = 0}},
                   {"sigma_next", "FLOAT", {min = 0}},
                   {"cond", "CONDITIONING"}, {"uncond", "CONDITIONING", {optional = true}},
                   {"cfg", "FLOAT", {default = 1.0, min = 0, max = 100}},
                   {"sampler", "STRING", {default = "euler", choices = SAMPLERS}}},
         outputs = {{"x", "LATENT"}, {"denoised", "LATENT"}},
         run = function(i)
           return fokus.dit_step(i.model, i.x, i.sigma, i.sigma_next, i.cond,
                                 {uncond = i.uncond, cfg = i.cfg, sampler = i.sampler})
         end}

  local SAMPLE_INPUTS = {
    {"model", "MODEL"}, {"noise", "LATENT"}, {"cond", "CONDITIONING"}, {"uncond", "CONDITIONING", {optional = true}},
    {"steps", "INT", {default = 20, min = 1, max = 10000}}, {"cfg", "FLOAT", {default = 1.0, min = 0, max = 100}},
    {"shift", "FLOAT", {optional = true, min = 0}}, {"sampler", "STRING", {default = "euler", choices = SAMPLERS}},
  }

  local function sample_opts(i, ctx)
    return {steps = i.steps, cfg = i.cfg, shift = i.shift, uncond = i.uncond, sampler = i.sampler, progress = false,
            callback = function(step, x, denoised)
              return ctx.progress(step, i.steps, {x = x, denoised = denoised})
            end}
  end

  define{type = "sample", category = "diffusion",
         description = "the whole denoising loop from noise to a latent; progress per step",
         inputs = SAMPLE_INPUTS,
         outputs = {{"latent", "LATENT"}},
         run = function(i, ctx) return fokus.sample(i.model, i.noise, i.cond, sample_opts(i, ctx)) end}

  -- "all" -> true; "1,3" -> {1, 3}
  local function blocks_of(s)
    if s == nil or s == "all" then return true end
    local list = {}
    for n in s:gmatch("[^,%s]+") do
      local b = tonumber(n)
      if not b or b ~= math.floor(b) or b < 1 then
        error("blocks must be \"all\" or block numbers like \"1,3\", got '" .. s .. "'", 0)
      end
      list[#list + 1] = b
    end
    if #list == 0 then error("blocks must be \"all\" or block numbers like \"1,3\", got '" .. s .. "'", 0) end
    return list
  end

  local function check_mmdit(model)
    local family = model:config().family
    if family ~= "mmdit" then
      error("attention capture needs an MMDiT (text tokens attend to image patches), got a " .. tostring(family), 0)
    end
  end

  define{type = "capture_attention", category = "diffusion",
         description = "the sampling loop with the MMDiT's text-token -> image-patch attention averaged over heads, "
                       .. "the chosen blocks and every step: attention [N, T, H/p, W/p] (DAAM)",
         inputs = (function()
           local l = {}
           for k, v in ipairs(SAMPLE_INPUTS) do l[k] = v end
           l[#l + 1] = {"blocks", "STRING", {default = "all"}}
           return l
         end)(),
         outputs = {{"latent", "LATENT"}, {"attention", "ATTN_MAP"}},
         run = function(i, ctx)
           check_mmdit(i.model)
           local blocks = blocks_of(i.blocks)
           local n = i.noise:size(1)
           local sum, count = nil, 0
           -- the model as the loop sees it: every forward also returns the maps of the
           -- conditional half of the batch (cond first, then uncond), summed here
           local model = i.model
           local proxy = {
             config = function() return model:config() end,
             forward = function(_, x, t, c, y)
               local r = model:forward(x, t, c, y, {attention = blocks})
               local a = r.attention
               if a:size(1) ~= n then a = a:narrow(1, 1, n) end
               sum = sum and fokus.axpby(1.0, sum, 1.0, a) or a:clone()
               count = count + 1
               return r
             end,
           }
           local latent = fokus.sample(proxy, i.noise, i.cond, sample_opts(i, ctx))
           return latent, fokus.axpby(1.0 / count, sum)
         end}

  define{type = "attention_at", category = "diffusion",
         description = "one MMDiT forward of a latent at sigma with its text-token -> image-patch attention "
                       .. "[N, T, H/p, W/p] (averaged over heads and the chosen blocks)",
         inputs = {{"model", "MODEL"}, {"latent", "LATENT"}, {"cond", "CONDITIONING"},
                   {"sigma", "FLOAT", {default = 0.5, min = 0, max = 1}}, {"blocks", "STRING", {default = "all"}}},
         outputs = {{"attention", "ATTN_MAP"}, {"out", "LATENT"}},
         run = function(i)
           check_mmdit(i.model)
           local n = i.latent:size(1)
           local ts = {}
           for k = 1, n do ts[k] = 1000.0 * i.sigma end
           local r = i.model:forward(i.latent, fokus.tensor(ts), i.cond.context, i.cond.y,
                                     {attention = blocks_of(i.blocks)})
           return r.attention, r.out
         end}
end
