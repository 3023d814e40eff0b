-- A regional prompt as a custom node: one word may only be attended from the left half
-- of the image grid. The node builds an attention bias (-inf where a patch on the right
-- meets the word) for fokus.attend between image-patch queries and the encoded prompt.
--   build/fokus scripts/regional_prompt.lua ["prompt" [word]]   -> out/regional_prompt.png
local fokus = require "fokus"
local prompt, word = arg[1] or "a red cat chases a grey mouse", arg[2] or "red"
local vocab = os.getenv("FOKUS_CLIP_VOCAB") or (os.getenv("FOKUS_SHARED") or "../shared") .. "/clip/bpe_simple_vocab_16e6.txt.gz"

fokus.define{type = "regional_attention", inputs = {{"context", "TENSOR"}, {"labels", "LABELS"}, {"word", "STRING"},
  {"grid", "INT", {default = 16, min = 2, max = 64}}}, outputs = {{"attention", "ATTN_MAP"}},
  run = function(i)
    local T, D, n, k = i.context:size(2), i.context:size(3), i.grid, nil
    for t, l in ipairs(i.labels) do if l == i.word then k = t end end
    if not k then error("'" .. i.word .. "' is not a token of the prompt", 0) end
    local q = fokus.randn({1, n * n, D}, {seed = 7})  -- stand-ins for the image patches' queries
    local bias = fokus.zeros{n * n, T}                -- [patch, token], row-major patches
    for y = 1, n do for x = math.floor(n / 2) + 1, n do bias:set((y - 1) * n + x, k, -math.huge) end end
    local _, probs = fokus.attend(q, i.context, i.context, {bias = bias, probs = true})  -- [1, n*n, T]
    return probs:select(1, 1):transpose(1, 2):contiguous():reshape{1, T, n, n}
  end}

local g = fokus.graph()
local tok = g:add("load_tokenizer", {path = vocab})
local tokens = g:add("tokenize", {tokenizer = tok.tokenizer, text = prompt})
local enc = g:add("encode", {clip = g:add("tiny_clip", {seed = 1}).clip, tokens = tokens.tokens})
local labels = g:add("token_labels", {tokenizer = tok.tokenizer, tokens = tokens.tokens})
local att = g:add("regional_attention", {context = enc.hidden, labels = labels.labels, word = word})
local maps = g:add("word_maps", {attention = att.attention, image = fokus.zeros({256, 256, 3}, "u8"),
  labels = labels.labels, alpha = 1.0})
local sheet = g:add("contact_sheet", {images = maps.maps, cols = 4, colorbar = "attention (per word: 0 = least, 1 = most)",
  title = string.format("Regional prompt: '%s' may only be attended from the LEFT half\n"
    .. "each word's attention from a %dx%d grid of image patches (bias -inf on the right for '%s')", word, 16, 16, word)})
g:add("save_png", {image = sheet.image, path = "out/regional_prompt.png"})
os.execute("mkdir -p out")
local results = g:run{events = false}
print("wrote out/regional_prompt.png: '" .. word .. "' lights only the left half; the other words fill both")
