-- The stock node types: every capability of fokus as a node, defined with
-- fokus.define like any plugin. One file per family:
--   loaders.lua    load_tokenizer, load_clip, load_dit, load_mmdit, tiny_clip, tiny_dit, tiny_mmdit
--   text.lua       parse_weights, tokenize, encode, weight, conditioning, class_label
--   diffusion.lua  empty_latent, noise, sigmas, dit_step, sample, capture_attention
--   tensor.lua     attend, cfg, select, average, randn, save_tensors
--   image.lua      heatmap, latent_preview, save_png
-- Socket types: TOKENIZER, CLIP, MODEL (a DiT or an MMDiT), TOKENS (fokus.tokenize's
-- chunks), SEGMENTS (parse_weights'), CONDITIONING ({context =, y =} for an MMDiT, a
-- class label for a DiT), LATENT, ATTN_MAP, IMAGE (u8 [H, W, 3]), TENSOR (accepts the
-- tensor types), SHAPE (a table of sizes), INT, FLOAT, STRING, BOOLEAN.
local M = {}

local FAMILIES = {"loaders", "text", "diffusion", "tensor", "image"}

function M.install(fokus)
  for _, name in ipairs(FAMILIES) do
    require("fokus.stock." .. name)(fokus)
  end
end

return M
