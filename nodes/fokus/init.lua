-- fokus: the Lua facade over the C module `fokus.core`.
--
-- `require "fokus"` returns this table: every function of the C module (tensors,
-- files, attention, models, ...) plus the Lua-side pieces (node definitions and the
-- graph runtime, as they land). Method forms live on the userdata metatables in C.
local core = require "fokus.core"

local fokus = {}
for k, v in pairs(core) do fokus[k] = v end
fokus.core = core

-- fokus.clip(weights [, opts]) loads a CLIP text encoder; fokus.clip.tiny{seed =}
-- builds a small seeded one for demos and tests.
fokus.clip = setmetatable({
  tiny = core.clip_tiny,
}, {
  __call = function(_, weights, opts) return core.clip(weights, opts) end,
})
fokus.clip_tiny = nil

-- fokus.dit(weights [, opts]) loads a class-conditional DiT; fokus.dit.tiny{seed =}
-- builds a small seeded one.
fokus.dit = setmetatable({
  tiny = core.dit_tiny,
}, {
  __call = function(_, weights, opts) return core.dit(weights, opts) end,
})
fokus.dit_tiny = nil

-- fokus.mmdit(weights [, opts]) loads an SD3 / SD3.5 MMDiT; fokus.mmdit.tiny{seed =}
-- builds a small seeded one.
fokus.mmdit = setmetatable({
  tiny = core.mmdit_tiny,
}, {
  __call = function(_, weights, opts) return core.mmdit(weights, opts) end,
})
fokus.mmdit_tiny = nil

-- fokus.dit_step and fokus.sample: the guided sampler step and the denoising loop.
local sample = require "fokus.sample"
fokus.dit_step = sample.dit_step
fokus.sample = sample.sample

-- fokus.score_mod / mask_mod / block_mask, fokus.mods and the symbolic-aware
-- fokus.where / abs / min / max / exp / log / tanh / sqrt (nodes/fokus/mods.lua).
require("fokus.mods").install(fokus)
-- Pictures: fokus.word_maps (DAAM maps over an image) and fokus.token_labels.
local pictures = require "fokus.pictures"
fokus.word_maps = pictures.word_maps
fokus.token_labels = pictures.token_labels

-- The node layer: fokus.define, fokus.node_types, fokus.graph, fokus.nodes and the
-- stock node types (nodes/fokus/nodegraph.lua).
require("fokus.nodegraph").install(fokus)

-- Picture node types (token_matrix, word_maps, contact_sheet, save_png with the
-- workflow inside, ...): nodes/fokus/picture_nodes.lua.
require("fokus.picture_nodes")(fokus)
-- sd3_conditioning: CLIP outputs padded to an MMDiT's widths (nodes/fokus/sd3_nodes.lua).
require("fokus.sd3_nodes")(fokus)

return fokus
