-- Tensor nodes: attention itself, guidance arithmetic and the small reshaping a
-- workflow needs between a model and a picture.
return function(fokus)
  local define = fokus.define

  define{type = "attend", category = "tensor",
         description = "flash attention softmax(q·kᵀ·scale)·v over [B, H, N, d] or [H, N, d]; also the "
                       .. "probabilities (for maps)",
         inputs = {{"q", "TENSOR"}, {"k", "TENSOR"}, {"v", "TENSOR"}, {"causal", "BOOLEAN", {default = false}},
                   {"scale", "FLOAT", {optional = true, min = 0}}},
         outputs = {{"out", "TENSOR"}, {"probs", "ATTN_MAP"}},
         run = function(i)
           local out, probs = fokus.attend(i.q, i.k, i.v, {causal = i.causal, scale = i.scale, probs = true})
           return out, probs
         end}

  define{type = "cfg", category = "tensor",
         description = "classifier-free guidance uncond + scale·(cond − uncond)",
         inputs = {{"cond", "TENSOR"}, {"uncond", "TENSOR"}, {"scale", "FLOAT", {default = 1.0}}},
         outputs = {{"out", "TENSOR"}},
         run = function(i) return fokus.cfg(i.cond, i.uncond, i.scale) end}

  define{type = "select", category = "tensor",
         description = "the slice at index of dimension dim (1-based; the dimension goes away)",
         inputs = {{"tensor", "TENSOR"}, {"dim", "INT", {default = 1, min = 1, max = 8}},
                   {"index", "INT", {default = 1, min = 1}}},
         outputs = {{"tensor", "TENSOR"}},
         run = function(i)
           local t = i.tensor
           if i.dim > t:dim() then
             error(string.format("dim %d is out of range for %s", i.dim, tostring(t)), 0)
           end
           if i.index > t:size(i.dim) then
             error(string.format("index %d is out of range for dim %d of %s", i.index, i.dim, tostring(t)), 0)
           end
           return t:select(i.dim, i.index):contiguous()
         end}

  define{type = "average", category = "tensor",
         description = "the mean over dimension dim (the dimension goes away)",
         inputs = {{"tensor", "TENSOR"}, {"dim", "INT", {default = 1, min = 1, max = 8}}},
         outputs = {{"tensor", "TENSOR"}},
         run = function(i)
           local t = i.tensor
           if i.dim > t:dim() then
             error(string.format("dim %d is out of range for %s", i.dim, tostring(t)), 0)
           end
           local n = t:size(i.dim)
           local sum = t:select(i.dim, 1):contiguous()
           for k = 2, n do sum = fokus.axpby(1.0, sum, 1.0, t:select(i.dim, k):contiguous()) end
           return fokus.axpby(1.0 / n, sum)
         end}

  define{type = "randn", category = "tensor",
         description = "seeded standard normal values of a shape (a table of sizes)",
         inputs = {{"shape", "SHAPE"}, {"seed", "INT", {default = 0, min = 0}}},
         outputs = {{"tensor", "TENSOR"}},
         run = function(i) return fokus.randn(i.shape, {seed = i.seed}) end}

  define{type = "save_tensors", category = "tensor", output_node = true,
         description = "writes a tensor to a .safetensors file under name (atomically)",
         inputs = {{"tensor", "TENSOR"}, {"path", "STRING"}, {"name", "STRING", {default = "tensor"}}},
         outputs = {{"path", "STRING"}},
         run = function(i)
           local ok, err = fokus.save(i.path, {[i.name] = i.tensor})
           if not ok then error(err, 0) end
           return i.path
         end}
end
