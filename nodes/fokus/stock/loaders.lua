-- Loader nodes: a path (or a seed, for the tiny models) -> tokenizer or model.
return function(fokus)
  local define = fokus.define

  -- nil, "path: reason" from a loader becomes the node's error.
  local function must(v, err)
    if v == nil then error(err, 0) end
    return v
  end

  local function opt_prefix(p) if p ~= nil and p ~= "" then return {prefix = p} end end

  define{type = "load_tokenizer", category = "loaders",
         description = "CLIP BPE tokenizer from bpe_simple_vocab_16e6.txt(.gz), vocab.json + merges.txt or "
                       .. "tokenizer.json (default: $FOKUS_CLIP_VOCAB)",
         inputs = {{"path", "STRING", {optional = true}}},
         outputs = {{"tokenizer", "TOKENIZER"}},
         run = function(i) return must(fokus.tokenizer(i.path)) end}

  define{type = "load_clip", category = "loaders",
         description = "CLIP text encoder from a .safetensors file (prefix picks it out of a checkpoint)",
         inputs = {{"path", "STRING"}, {"prefix", "STRING", {optional = true}}},
         outputs = {{"clip", "CLIP"}},
         run = function(i) return must(fokus.clip(i.path, opt_prefix(i.prefix))) end}

  define{type = "load_dit", category = "loaders",
         description = "class-conditional DiT (facebookresearch names) from a .safetensors file",
         inputs = {{"path", "STRING"}, {"prefix", "STRING", {optional = true}}},
         outputs = {{"model", "MODEL"}},
         run = function(i) return must(fokus.dit(i.path, opt_prefix(i.prefix))) end}

  define{type = "load_mmdit", category = "loaders",
         description = "SD3 / SD3.5 MMDiT from a .safetensors file or a full SD3 checkpoint",
         inputs = {{"path", "STRING"}, {"prefix", "STRING", {optional = true}}},
         outputs = {{"model", "MODEL"}},
         run = function(i) return must(fokus.mmdit(i.path, opt_prefix(i.prefix))) end}

  define{type = "tiny_clip", category = "loaders",
         description = "a small CLIP-shaped text encoder with seeded random weights (real vocabulary size)",
         inputs = {{"seed", "INT", {default = 1, min = 0}}, {"width", "INT", {default = 64, min = 1, max = 4096}},
                   {"layers", "INT", {default = 2, min = 1, max = 64}}, {"heads", "INT", {optional = true, min = 1}}},
         outputs = {{"clip", "CLIP"}},
         run = function(i)
           return fokus.clip.tiny{seed = i.seed, width = i.width, layers = i.layers, heads = i.heads}
         end}

  define{type = "tiny_dit", category = "loaders",
         description = "a small DiT with seeded random weights (4 latent channels, 10 classes)",
         inputs = {{"seed", "INT", {default = 1, min = 0}}},
         outputs = {{"model", "MODEL"}},
         run = function(i) return fokus.dit.tiny{seed = i.seed} end}

  define{type = "tiny_mmdit", category = "loaders",
         description = "a small SD3-shaped MMDiT with seeded random weights; context_dim and pooled_dim default "
                       .. "to tiny_clip's width so the tiny pipeline fits together",
         inputs = {{"seed", "INT", {default = 1, min = 0}}, {"context_dim", "INT", {default = 64, min = 1}},
                   {"pooled_dim", "INT", {default = 64, min = 1}}, {"hidden_size", "INT", {default = 64, min = 1}},
                   {"depth", "INT", {default = 2, min = 1, max = 64}}, {"in_channels", "INT", {default = 4, min = 1}}},
         outputs = {{"model", "MODEL"}},
         run = function(i)
           return fokus.mmdit.tiny{seed = i.seed, context_dim = i.context_dim, pooled_dim = i.pooled_dim,
                                   hidden_size = i.hidden_size, depth = i.depth, in_channels = i.in_channels}
         end}
end
