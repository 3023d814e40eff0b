-- Picture nodes: heat maps of attention, the latent preview, PNG files.
return function(fokus)
  local define = fokus.define

  define{type = "heatmap", category = "image",
         description = "a 2-D map as a colour image u8 [H, W, 3] (cell pixels per value)",
         inputs = {{"map", "TENSOR"}, {"colormap", "STRING", {default = "magma"}},
                   {"cell", "INT", {default = 16, min = 1, max = 64}},
                   {"min", "FLOAT", {optional = true}}, {"max", "FLOAT", {optional = true}}},
         outputs = {{"image", "IMAGE"}},
         run = function(i)
           return fokus.heatmap(i.map, {colormap = i.colormap, cell = i.cell, min = i.min, max = i.max})
         end}

  define{type = "latent_preview", category = "image",
         description = "a latent's approximate RGB through ComfyUI's latent->RGB factors, u8 [H, W, 3]",
         inputs = {{"latent", "LATENT"}, {"scale", "INT", {default = 8, min = 1, max = 64}},
                   {"family", "STRING", {optional = true, choices = {"sd3", "sd1", "sdxl"}}}},
         outputs = {{"image", "IMAGE"}},
         run = function(i) return fokus.latent_preview(i.latent, {scale = i.scale, family = i.family}) end}

  define{type = "save_png", category = "image", output_node = true,
         description = "writes an image u8 [H, W, 3] as a PNG file",
         inputs = {{"image", "IMAGE"}, {"path", "STRING"}},
         outputs = {{"path", "STRING"}},
         run = function(i)
           local ok, err = fokus.save_png(i.path, i.image)
           if not ok then error(err, 0) end
           return i.path
         end}
end
