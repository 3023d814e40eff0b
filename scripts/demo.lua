-- make demo: where the words of a prompt go, as a node graph.
--
--   build/fokus scripts/demo.lua ["prompt"]
--
-- The graph: tokenize -> encode -> weight -> sample a few MMDiT steps while capturing
-- the attention image patches pay to each text token -> pictures in out/ (FOKUS_OUT):
--   token_matrix.png   the text encoder's token x token attention, words on both axes
--   word_maps.png      one map per word over the picture (DAAM), on one contact sheet
--   word_NN.png        the same maps one by one
--   preview.png        the latent after sampling, through ComfyUI's latent->RGB factors
--   workflow.json      the graph (ComfyUI API format): build/fokus run out/workflow.json
-- Every PNG carries the workflow in its "prompt" text chunk, as ComfyUI's do.
--
-- Models: real weights when the environment points at them, seeded tiny ones otherwise.
--   FOKUS_MMDIT   an SD3 / SD3.5 MMDiT, or a full SD3 checkpoint with its text encoders
--                 (sd3_medium_incl_clips.safetensors: CLIP-L and CLIP-G are taken from it)
--   FOKUS_CLIP    a CLIP text encoder (FOKUS_CLIP_PREFIX picks it out of a checkpoint)
--   FOKUS_CLIP_VOCAB  bpe_simple_vocab_16e6.txt.gz (default: ../shared/clip beside the checkout;
--                 without one, a stand-in vocabulary of the prompt's words is written to out/)
--   FOKUS_STEPS, FOKUS_SIZE (latent cells a side), FOKUS_SEED
local fokus = require "fokus"

local t_start = fokus.clock()
local prompt = arg[1] or "a (red:1.3) cat chases a grey mouse"
local OUT = os.getenv("FOKUS_OUT") or "out"
local root = (arg[0] or ""):match("^(.*)/scripts/[^/]*$") or "."
local tty = fokus.isatty(io.stdout)

local function exists(path)
  local f = path and io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function env(name)
  local v = os.getenv(name)
  if v ~= nil and v ~= "" then return v end
end

local function say(fmt, ...) print(string.format(fmt, ...)) end

assert(os.execute("mkdir -p '" .. OUT:gsub("'", "'\\''") .. "'"), "cannot create " .. OUT)

-- ----------------------------------------------------------------- what we run on

local vocab = env("FOKUS_CLIP_VOCAB")
if not vocab then
  for _, dir in ipairs{env("FOKUS_SHARED"), root .. "/../shared", "../shared"} do
    local p = dir .. "/clip/bpe_simple_vocab_16e6.txt.gz"
    if exists(p) then vocab = p break end
  end
end
local stand_in = false
if not vocab then
  -- No CLIP vocabulary at hand: a stand-in in CLIP's own file format whose merges spell
  -- out the prompt's words, so tokens are whole words as with the real one (other ids).
  -- Each word is first split by the merges made so far (lowest rank first, as BPE
  -- does); new merges then join what is left, so earlier words keep their spelling.
  local merges, rank = {"#version: 0.2 (fokus demo stand-in)"}, {}
  for _, seg in ipairs(fokus.parse_weights(prompt)) do
    for w in seg[1]:lower():gmatch("%a+") do
      local s = {}
      for k = 1, #w do s[k] = w:sub(k, k) end
      s[#s] = s[#s] .. "</w>"
      while #s > 1 do
        local best
        for k = 1, #s - 1 do
          local r = rank[s[k] .. " " .. s[k + 1]]
          if r and (not best or r < rank[s[best] .. " " .. s[best + 1]]) then best = k end
        end
        if not best then
          best = 1
          merges[#merges + 1] = s[1] .. " " .. s[2]
          rank[merges[#merges]] = #merges
        end
        s[best] = s[best] .. table.remove(s, best + 1)
      end
    end
  end
  vocab = OUT .. "/stand_in_vocab.txt"
  local f = assert(io.open(vocab, "wb"))
  f:write(table.concat(merges, "\n"), "\n")
  f:close()
  stand_in = true
end

local mmdit_path, clip_path, clip_prefix = env("FOKUS_MMDIT"), env("FOKUS_CLIP"), env("FOKUS_CLIP_PREFIX")
local clip_g_path, clip_g_prefix
if mmdit_path and not clip_path then
  -- a full SD3 checkpoint holds CLIP-L and CLIP-G next to the MMDiT
  local tensors = fokus.load(mmdit_path)
  if tensors and tensors["text_encoders.clip_l.transformer.text_model.embeddings.token_embedding.weight"] then
    clip_path, clip_prefix = mmdit_path, "text_encoders.clip_l.transformer."
    if tensors["text_encoders.clip_g.transformer.text_model.embeddings.token_embedding.weight"] then
      clip_g_path, clip_g_prefix = mmdit_path, "text_encoders.clip_g.transformer."
    end
  end
  tensors = nil
  collectgarbage()
end
local real = mmdit_path ~= nil

local clip_width = 64
if clip_path then
  local c = assert(fokus.clip(clip_path, {prefix = clip_prefix}))
  clip_width = c:config().hidden_size
  c = nil
end
local steps = tonumber(env("FOKUS_STEPS") or (real and "12" or "8"))
local size = tonumber(env("FOKUS_SIZE") or (real and "64" or "32"))
local seed = tonumber(env("FOKUS_SEED") or "42")

say("fokus %s, %d threads", fokus.version, fokus.threads())
say("prompt: %q", prompt)
for _, seg in ipairs(fokus.parse_weights(prompt)) do
  if seg[2] ~= 1 then say("  emphasis: %q weighted %.2f (A1111 syntax)", seg[1], seg[2]) end
end
say("tokenizer: %s", vocab)
if stand_in then
  say("  no CLIP vocabulary found (FOKUS_CLIP_VOCAB, or ../shared/clip/bpe_simple_vocab_16e6.txt.gz): a stand-in")
  say("  made of the prompt's words; the tokens are the same words, their ids are not CLIP's")
end
say("text encoder: %s", clip_path and (clip_path .. (clip_prefix and (" [" .. clip_prefix .. "]") or ""))
  or "tiny CLIP, seeded random weights (width 64, 2 layers, 4 heads) -- set FOKUS_CLIP for a real one")
if clip_g_path then say("second text encoder: %s [%s]", clip_g_path, clip_g_prefix) end
say("diffusion model: %s", mmdit_path or string.format(
  "tiny MMDiT, seeded random weights (16 latent channels, 2 blocks, context width %d) -- set FOKUS_MMDIT for SD3",
  clip_width))
if real and not clip_path then
  say("  warning: %s holds no text encoder and FOKUS_CLIP is not set: the tiny CLIP's output, zero-padded,", mmdit_path)
  say("  conditions the MMDiT, so its maps mean little")
end
if not real then
  say("  The tiny MMDiT is built with context and pooled width %d, the text encoder's width, so the", clip_width)
  say("  encoder output feeds it directly (mmdit.tiny's own default is 32). With random weights the")
  say("  pictures show the machinery, not meaning: point FOKUS_MMDIT at sd3_medium_incl_clips.safetensors")
  say("  to see where 'red' lands.")
end
say("sampling: %d Euler steps on a %dx%d latent, seed %d", steps, size, size, seed)

-- ----------------------------------------------------------------- the graph

local g = fokus.graph()
local function add(ty, inputs, id) return g:add(ty, inputs, {id = id}) end

local tok = add("load_tokenizer", {path = vocab}, "tokenizer")
local tokens = add("tokenize", {tokenizer = tok.tokenizer, text = prompt}, "tokenize")
local clip
if clip_path then
  clip = add("load_clip", {path = clip_path, prefix = clip_prefix}, "clip")
else
  clip = add("tiny_clip", {seed = 1, width = 64, layers = 2, heads = 4}, "clip")
end
local skip = real and 2 or 1 -- SD3 reads CLIP's penultimate layer
local enc = add("encode", {clip = clip.clip, tokens = tokens.tokens, skip = skip}, "encode")
local weighted = add("weight", {hidden = enc.hidden, tokens = tokens.tokens, mode = "a1111"}, "weight")
local model
if mmdit_path then
  model = add("load_mmdit", {path = mmdit_path}, "mmdit")
else
  model = add("tiny_mmdit", {seed = 1, in_channels = 16, context_dim = clip_width, pooled_dim = clip_width}, "mmdit")
end
local cond_inputs = {model = model.model, hidden = weighted.hidden, pooled = enc.pooled}
local uncond, clip_g
if clip_g_path then
  clip_g = add("load_clip", {path = clip_g_path, prefix = clip_g_prefix}, "clip_g")
  local enc_g = add("encode", {clip = clip_g.clip, tokens = tokens.tokens, skip = 2}, "encode_g")
  local weighted_g = add("weight", {hidden = enc_g.hidden, tokens = tokens.tokens, mode = "a1111"}, "weight_g")
  cond_inputs.hidden_g, cond_inputs.pooled_g = weighted_g.hidden, enc_g.pooled
end
local cond = add("sd3_conditioning", cond_inputs, "conditioning")
if real then -- classifier-free guidance against the empty prompt, through the same encoders
  local empty = add("tokenize", {tokenizer = tok.tokenizer, text = ""}, "tokenize_empty")
  local enc_e = add("encode", {clip = clip.clip, tokens = empty.tokens, skip = skip}, "encode_empty")
  local u = {model = model.model, hidden = enc_e.hidden, pooled = enc_e.pooled}
  if clip_g then
    local enc_eg = add("encode", {clip = clip_g.clip, tokens = empty.tokens, skip = 2}, "encode_empty_g")
    u.hidden_g, u.pooled_g = enc_eg.hidden, enc_eg.pooled
  end
  uncond = add("sd3_conditioning", u, "unconditioning")
end
local latent = add("empty_latent", {model = model.model, width = size, height = size}, "latent")
local noise = add("noise", {latent = latent.latent, seed = seed}, "noise")
local sample = add("capture_attention", {model = model.model, noise = noise.noise, cond = cond.conditioning,
  uncond = uncond and uncond.conditioning or nil, cfg = real and 4.5 or 1.0, steps = steps, shift = 3.0}, "sample")
local preview = add("latent_preview", {latent = sample.latent, scale = real and 4 or 8}, "preview")
local labels = add("token_labels", {tokenizer = tok.tokenizer, tokens = tokens.tokens}, "labels")
local matrix = add("token_matrix", {clip = clip.clip, tokens = tokens.tokens, labels = labels.labels}, "token_matrix")
local maps = add("word_maps", {attention = sample.attention, image = preview.image, labels = labels.labels,
  alpha = 0.65, size = 256}, "word_maps")
local short = prompt
if #short > 60 then short = short:sub(1, 60):gsub("%s+%S*$", "") .. " ..." end
local sheet = add("contact_sheet", {images = maps.maps, colorbar = "attention to the word (0 = least, 1 = most)",
  title = string.format("Where each word of \"%s\" lands in the picture (DAAM)\n"
    .. "attention of the image patches to the word, mean over heads, blocks and %d steps, over the latent preview",
    short, steps)}, "sheet")
local titled_preview = add("caption", {image = preview.image, title = string.format(
  "The latent after %d steps\n(latent preview, no VAE)", steps)}, "preview_caption")
add("save_png", {image = matrix.image, path = OUT .. "/token_matrix.png"}, "save_token_matrix")
add("save_png", {image = sheet.image, path = OUT .. "/word_maps.png"}, "save_word_maps")
add("save_pngs", {images = maps.maps, prefix = OUT .. "/word_"}, "save_each_word")
add("save_png", {image = titled_preview.image, path = OUT .. "/preview.png"}, "save_preview")

-- ----------------------------------------------------------------- run it

-- word maps of an earlier, longer prompt would linger beside this run's
for k = 1, 99 do os.remove(string.format("%s/word_%02d.png", OUT, k)) end

local workflow = g:to_json()
local f = assert(io.open(OUT .. "/workflow.json.tmp", "wb"))
f:write(workflow, "\n")
f:close()
assert(os.rename(OUT .. "/workflow.json.tmp", OUT .. "/workflow.json"))

say("running the graph (%d nodes); each stage's time:", #g:list())
local progress_open = false
local results, report = g:run{events = function(ev)
  if ev.type == "progress" then
    if tty then -- a terminal: one line updated in place; CI logs get none of it
      io.stdout:write(string.format("\r  %-18s %d/%d", ev.node, ev.value, ev.max))
      io.stdout:flush()
      progress_open = true
    end
  elseif ev.type == "executed" then
    if progress_open then io.stdout:write("\r") progress_open = false end
    say("  %-18s %-18s %9.1f ms", ev.node, ev.node_type, ev.time * 1e3)
  end
end}
say("graph done in %.2f s", report.time)

-- ----------------------------------------------------------------- the story in numbers

local words = results[labels].labels
local function find(w)
  for i, l in ipairs(words) do if l == w or l:sub(1, #w + 1) == w .. " " then return i end end
end
local red, cat, mouse = find("red"), find("cat"), find("mouse")
if red and cat and mouse then
  local m = results[matrix].matrix
  say("text encoder: 'cat' attends to 'red' with %.3f, 'mouse' to 'red' with %.3f", m:get(cat, red), m:get(mouse, red))
  -- DAAM: how alike the maps of 'red' and of each noun are (cosine over the grid)
  local a = results[sample].attention:select(1, 1)
  local function vec(i) return a:select(1, i):reshape{-1}:totable() end
  local function cosine(x, y)
    local s, sx, sy = 0, 0, 0
    for k = 1, #x do s, sx, sy = s + x[k] * y[k], sx + x[k] * x[k], sy + y[k] * y[k] end
    return s / math.sqrt(sx * sy)
  end
  local r = vec(red)
  say("image: the map of 'red' matches the map of 'cat' with cosine %.3f, of 'mouse' with %.3f",
    cosine(r, vec(cat)), cosine(r, vec(mouse)))
  if not real then say("  (random tiny models: expect no preference; real SD3 weights bind 'red' to 'cat')") end
end

say("files:")
for _, name in ipairs{"token_matrix.png", "word_maps.png", "preview.png", "workflow.json"} do
  say("  %s/%s", OUT, name)
end
say("  %s/word_01.png .. word_%02d.png (one per word)", OUT, #results[maps].maps)
say("run the saved workflow again with: build/fokus run %s/workflow.json", OUT)
say("total %.2f s", fokus.clock() - t_start)
