-- sd3_conditioning: an MMDiT's conditioning from one or two CLIP encoders, as SD3 builds
-- it: the encoders' hidden states side by side along the features (CLIP-L 768 + CLIP-G
-- 1280), zero-padded to the model's context width (4096, T5's width), and their pooled
-- vectors side by side, zero-padded (or cut) to the model's pooled width (2048). Parts
-- that are absent (CLIP-G, the T5 tokens) are zeros, which SD3 tolerates (as when it
-- runs without T5). With a tiny model whose widths equal the encoder's, it passes the
-- encoder output through unchanged.
return function(fokus)
  local function pad_last(t, width, what)
    local shape = t:shape()
    local d = shape[#shape]
    if d == width then return t end
    if d > width then
      if what == "context" then
        error(string.format("the text encoders give %d features, more than the model's context width %d", d, width), 0)
      end
      return t:narrow(#shape, 1, width):contiguous()
    end
    shape[#shape] = width - d
    return fokus.cat({t, fokus.zeros(shape)}, #shape)
  end

  fokus.define{type = "sd3_conditioning", category = "text",
    description = "an MMDiT's conditioning {context =, y =} from CLIP-L (and optionally CLIP-G) outputs, "
                  .. "features side by side and zero-padded to the model's widths, as SD3 does",
    inputs = {{"model", "MODEL"}, {"hidden", "TENSOR"}, {"pooled", "TENSOR"},
              {"hidden_g", "TENSOR", {optional = true}}, {"pooled_g", "TENSOR", {optional = true}}},
    outputs = {{"conditioning", "CONDITIONING"}},
    run = function(i)
      local c = i.model:config()
      if c.family ~= "mmdit" then error("sd3_conditioning needs an MMDiT, got a " .. tostring(c.family), 0) end
      local hidden, pooled = i.hidden, i.pooled
      if i.hidden_g then hidden = fokus.cat({hidden, i.hidden_g}, 3) end
      if i.pooled_g then pooled = fokus.cat({pooled, i.pooled_g}, 2) end
      return {context = pad_last(hidden, c.context_dim, "context"), y = pad_last(pooled, c.pooled_dim, "pooled")}
    end}
end
