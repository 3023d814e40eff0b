-- Picture node types (fokus.define, like any plugin): the pictures of attention a
-- workflow ends with. Socket types beyond the stock ones: LABELS (an array of strings,
-- one per token) and IMAGES (an array of IMAGE).
--   token_labels   tokenizer + tokens -> a readable label per token, <bos> .. <eos>
--   token_matrix   the text encoder's token x token attention as a labelled heat map
--   word_maps      one DAAM map per word over a picture (e.g. the latent preview)
--   contact_sheet  several pictures on one page, with a title and a colour bar
--   caption        a picture with a title
--   save_png       an IMAGE as PNG with the workflow inside (replaces the stock one)
--   save_pngs      IMAGES as numbered PNG files
return function(fokus)
  local define = fokus.define

  -- "2,3,5" -> {2, 3, 5}; "" -> nil (every word)
  local function positions(s, n)
    if s == nil or s == "" then return nil end
    local list = {}
    for w in s:gmatch("[^,%s]+") do
      local v = tonumber(w)
      if not v or v ~= math.floor(v) or v < 1 or v > n then
        error(string.format("tokens must be positions in 1..%d like \"2,3,5\", got '%s'", n, s), 0)
      end
      list[#list + 1] = v
    end
    return list
  end

  define{type = "token_labels", category = "image",
         description = "a label per token of the first chunk, from <bos> to the first <eos> (BPE end-of-word "
                       .. "marks removed, emphasis shown as 'red x1.3' unless weights = false); count is their number",
         inputs = {{"tokenizer", "TOKENIZER"}, {"tokens", "TOKENS"}, {"weights", "BOOLEAN", {default = true}}},
         outputs = {{"labels", "LABELS"}, {"count", "INT"}},
         run = function(i)
           local c = i.tokens[1]
           local labels, n = fokus.token_labels(i.tokenizer, c.ids, i.weights and c.weights or nil)
           return labels, n
         end}

  define{type = "token_matrix", category = "image",
         description = "the text encoder's self-attention in one layer (0 = the last), averaged over heads, over "
                       .. "the prompt's tokens: a heat map with the words on both axes, title and colour bar",
         inputs = {{"clip", "CLIP"}, {"tokens", "TOKENS"}, {"labels", "LABELS"},
                   {"layer", "INT", {default = 0, min = 0, max = 64}},
                   {"colormap", "STRING", {default = "viridis", choices = {"viridis", "magma", "gray"}}},
                   {"cell", "INT", {default = 40, min = 8, max = 64}}}, -- px per token, at most (long prompts: less)
         outputs = {{"image", "IMAGE"}, {"matrix", "ATTN_MAP"}},
         run = function(i)
           local layers = i.clip:config().num_hidden_layers
           if i.layer > layers then error(string.format("layer %d: the encoder has %d layers", i.layer, layers), 0) end
           local layer = i.layer == 0 and layers or i.layer
           local att = i.clip:forward({i.tokens[1].ids}, {attention = layer}).attention -- [1, H, 77, 77]
           local heads, n = att:size(2), #i.labels
           local sum = att:select(1, 1):select(1, 1):narrow(1, 1, n):narrow(2, 1, n):contiguous()
           for h = 2, heads do
             sum = fokus.axpby(1.0, sum, 1.0, att:select(1, 1):select(1, h):narrow(1, 1, n):narrow(2, 1, n):contiguous())
           end
           local matrix = fokus.axpby(1.0 / heads, sum)
           local title = string.format("Text encoder self-attention, layer %d of %d (mean of %d head%s)\n"
             .. "row = the token that looks, column = the token it looks at (causal: only earlier tokens)",
             layer, layers, heads, heads == 1 and "" or "s")
           -- long prompts get smaller cells, so the picture stays under about 1000 px
           local cell = math.min(i.cell, math.max(12, math.floor(960 / n)))
           local img = fokus.heatmap(matrix, {rows = i.labels, cols = i.labels, cell = cell, colormap = i.colormap,
                                             title = title, colorbar = "attention weight", min = 0})
           return img, matrix
         end}

  define{type = "word_maps", category = "image",
         description = "DAAM: for each word, where in the picture the image patches attend to it (averaged over "
                       .. "heads, blocks and steps), upsampled, normalized per word and laid over the picture",
         inputs = {{"attention", "ATTN_MAP"}, {"image", "IMAGE"}, {"labels", "LABELS"},
                   {"tokens", "STRING", {default = ""}}, -- "" = every word (not <bos>, <eos>, punctuation)
                   {"colormap", "STRING", {default = "viridis", choices = {"viridis", "magma", "gray"}}},
                   {"alpha", "FLOAT", {default = 0.6, min = 0, max = 1}},
                   {"size", "INT", {default = 256, min = 16, max = 4096}}},
         outputs = {{"maps", "IMAGES"}, {"words", "LABELS"}},
         run = function(i)
           local a = i.attention
           if a:dim() == 4 and a:size(1) ~= 1 then a = a:narrow(1, 1, 1) end -- the first image of a batch
           local T = a:size(a:dim() - 2)
           local n = math.min(#i.labels, T)
           local tokens = positions(i.tokens, n)
           if not tokens then
             tokens = {}
             for k = 1, n do
               local l = i.labels[k]
               -- words only: not <bos>, <eos> or punctuation
               if l ~= "<bos>" and l ~= "<eos>" and l:find("[%w\128-\255]") then tokens[#tokens + 1] = k end
             end
           end
           local words = {}
           for k, t in ipairs(tokens) do words[k] = string.format("%d: %s", t, i.labels[t] or "?") end
           local maps = fokus.word_maps(a, i.image, {tokens = tokens, labels = words, colormap = i.colormap,
                                                     alpha = i.alpha, size = i.size})
           return maps, words
         end}

  define{type = "contact_sheet", category = "image",
         description = "several pictures on one page in a grid, under a title (lines split at \\n), with an "
                       .. "optional shared 0..1 colour bar",
         inputs = {{"images", "IMAGES"}, {"title", "STRING", {default = ""}}, {"cols", "INT", {default = 0, min = 0}},
                   {"colorbar", "STRING", {default = ""}}, -- its caption; "" = no colour bar
                   {"colormap", "STRING", {default = "viridis", choices = {"viridis", "magma", "gray"}}}},
         outputs = {{"image", "IMAGE"}},
         run = function(i)
           return fokus.contact_sheet(i.images, {title = i.title ~= "" and i.title or nil,
             cols = i.cols > 0 and i.cols or nil, colormap = i.colormap,
             colorbar = i.colorbar ~= "" and i.colorbar or nil})
         end}

  define{type = "caption", category = "image",
         description = "a picture with a title above it (lines split at \\n)",
         inputs = {{"image", "IMAGE"}, {"title", "STRING"}},
         outputs = {{"image", "IMAGE"}},
         run = function(i) return fokus.contact_sheet({i.image}, {title = i.title}) end}

  -- The workflow goes in as ComfyUI stores its API form: the "prompt" text chunk. A graph
  -- holding constants JSON cannot express (a tensor given directly) is saved without it.
  local function workflow_text(i, ctx)
    if not (i.workflow and ctx and ctx.workflow) then return nil end
    local ok, json = pcall(ctx.workflow)
    if ok and type(json) == "string" then return {prompt = json} end
  end

  define{type = "save_png", category = "image", output_node = true, replace = true,
         description = "writes an image u8 [H, W, 3] as a PNG file (atomically) with the workflow that made it "
                       .. "in its \"prompt\" text chunk, as ComfyUI does",
         inputs = {{"image", "IMAGE"}, {"path", "STRING"}, {"workflow", "BOOLEAN", {default = true}}},
         outputs = {{"path", "STRING"}},
         run = function(i, ctx)
           local ok, err = fokus.save_png(i.path, i.image, {text = workflow_text(i, ctx)})
           if not ok then error(err, 0) end
           return i.path
         end}

  define{type = "save_pngs", category = "image", output_node = true,
         description = "writes pictures as <prefix>01.png, <prefix>02.png, ... with the workflow inside",
         inputs = {{"images", "IMAGES"}, {"prefix", "STRING"}, {"workflow", "BOOLEAN", {default = true}}},
         outputs = {{"paths", "STRING"}},
         run = function(i, ctx)
           local text = workflow_text(i, ctx)
           local paths = {}
           for k, img in ipairs(i.images) do
             local p = string.format("%s%02d.png", i.prefix, k)
             local ok, err = fokus.save_png(p, img, {text = text})
             if not ok then error(err, 0) end
             paths[k] = p
           end
           return table.concat(paths, " ")
         end}
end
