-- Attention variants in a few lines: ALiBi, a causal sliding window and a regional
-- prompt (one word confined to the left half of the latent grid), each timed against
-- plain attention; their probability maps go to out/*.png.   build/fokus scripts/attention_variants.lua
local fokus = require "fokus"
os.execute("mkdir -p out")
local H, N, D = 8, 1024, 64
local function timed(q, k, v, opts)
  fokus.attend(q, k, v, opts) -- warm-up (and, with a mask_mod, its cached block mask)
  local t0 = fokus.clock()
  for _ = 1, 5 do fokus.attend(q, k, v, opts) end
  return (fokus.clock() - t0) / 5 * 1e3
end
local function show(name, q, k, v, opts, map_of)
  local base, ms = timed(q, k, v, {}), timed(q, k, v, opts)
  opts.probs = true
  local _, probs = fokus.attend(q, k, v, opts)
  fokus.save_png("out/" .. name .. ".png", fokus.heatmap(map_of(probs)))
  print(string.format("%-14s %7.2f ms   plain %7.2f ms   -> out/%s.png", name, ms, base, name))
end
local q, k, v = fokus.randn({H, N, D}, {seed = 1}), fokus.randn({H, N, D}, {seed = 4}), fokus.randn({H, N, D}, {seed = 5})
local corner = function(p) return p:select(1, 3):narrow(1, 1, 96):narrow(2, 1, 96) end -- head 3, 96 x 96
show("alibi", q, k, v, {score_mod = fokus.mods.alibi(fokus.mods.alibi_slopes(H)), causal = true}, corner)
show("sliding_window", q, k, v, {mask_mod = fokus.mods.sliding_window(32)}, corner)
-- regional prompt: 32 x 32 image patches (queries) attend to 77 text tokens (keys);
-- the word at token 5 may only be seen from the left half of the grid
local G, WORD = 32, 5
local img, txt = fokus.randn({H, G * G, D}, {seed = 2}), fokus.randn({H, 77, D}, {seed = 3})
local region = fokus.mask_mod(function(b, h, q, k) return k:ne(WORD):logical_or(((q - 1) % G):lt(G / 2)) end)
show("regional", img, txt, txt, {mask_mod = region},
     function(p) return p:select(1, 1):select(2, WORD):contiguous():reshape{G, G} end)
