-- make demo: attention maps as pictures.
--
--   build/fokus scripts/demo.lua ["prompt"] [checkpoint.safetensors [prefix]]
--
-- 1. Self-attention over a short sentence's random word embeddings (one head, the
--    embeddings as queries and keys): repeated words find each other. -> out/attention.png
-- 2. When a CLIP vocabulary is at hand (FOKUS_CLIP_VOCAB, or ../shared/clip beside the
--    checkout): the prompt goes through the real pipeline -- parse_weights, tokenize,
--    a CLIP text encoder (the seeded tiny one, or the checkpoint given), weight -- and
--    the last layer's attention, averaged over heads, is drawn over the prompt's
--    tokens. -> out/clip_attention.png
local fokus = require "fokus"

local prompt = arg[1] or "a (red:1.3) cat sits on a blue mat next to a red ball"
local checkpoint, prefix = arg[2], arg[3]
os.execute("mkdir -p out")

local function save(img, path)
  local ok, err = fokus.save_png(path, img)
  if not ok then error(err) end
  print("  wrote " .. path)
end

-- 1. ---------------------------------------------------------------------------------
local words = {}
for w in prompt:gsub("[%(%)%[%]]", " "):gsub(":[%d.]+", " "):gmatch("%S+") do words[#words + 1] = w end

local function seed_of(word)
  local h = 2166136261
  -- FNV-1a in arithmetic only (LuaJIT has no bit operators): the xor touches the low
  -- byte; h * 16777619 mod 2^32 is split so every product stays exact in a double
  for i = 1, #word do
    local lo, c, x, bit = h % 256, word:byte(i), 0, 1
    for _ = 1, 8 do
      if (lo % 2) ~= (c % 2) then x = x + bit end
      lo, c, bit = math.floor(lo / 2), math.floor(c / 2), bit * 2
    end
    h = h - h % 256 + x
    h = ((h % 256) * 16777216 + h * 403) % 4294967296
  end
  return h
end

local d = 64
local x = fokus.zeros{1, #words, d}
for i, w in ipairs(words) do
  local e = fokus.randn({d}, {seed = seed_of(w)}):totable()
  for j = 1, d do x:set(1, i, j, e[j]) end
end
local t0 = fokus.clock()
local _, lse, probs = fokus.attend(x, x, x, {lse = true, probs = true, scale = 0.25})
print(string.format("fokus %s, %d threads", fokus.version, fokus.threads()))
print(string.format("1. self-attention over %d words (d = %d): %.3f ms; lse %s", #words, d,
  (fokus.clock() - t0) * 1e3, tostring(lse)))
local p = probs:select(1, 1):totable()
for i, w in ipairs(words) do
  for j = i + 1, #words do
    if words[j] == w and p[i][j] > 0.2 then
      print(string.format("   '%s' (word %d) attends to its twin (word %d) with p = %.2f", w, i, j, p[i][j]))
    end
  end
end
save(fokus.heatmap(probs:select(1, 1), {rows = words, cols = words, cell = 36}), "out/attention.png")

-- 2. ---------------------------------------------------------------------------------
local vocab = os.getenv("FOKUS_CLIP_VOCAB")
if not vocab then
  local f = io.open("../shared/clip/bpe_simple_vocab_16e6.txt.gz", "rb")
  if f then f:close(); vocab = "../shared/clip/bpe_simple_vocab_16e6.txt.gz" end
end
if not vocab then
  print("2. skipped: no CLIP vocabulary (set FOKUS_CLIP_VOCAB to bpe_simple_vocab_16e6.txt.gz)")
  return
end

local tok = assert(fokus.tokenizer(vocab))
print(string.format("2. prompt: %q", prompt))
for _, seg in ipairs(fokus.parse_weights(prompt)) do
  if seg[2] ~= 1 then print(string.format("   weight %.2f on %q", seg[2], seg[1])) end
end
local chunks = fokus.tokenize(tok, prompt)

local model
if checkpoint then
  model = assert(fokus.clip(checkpoint, {prefix = prefix}))
else
  model = fokus.clip.tiny{seed = 1, width = 256, layers = 4, heads = 4}
end
print("   encoder: " .. tostring(model))

t0 = fokus.clock()
local cond, pooled = model:encode(chunks)
local weighted = fokus.weight(cond, chunks, {mode = "a1111"})
print(string.format("   encode + weight: %.1f ms -> conditioning %s, pooled %s", (fokus.clock() - t0) * 1e3,
  tostring(weighted), tostring(pooled)))

-- attention of the last layer over BOS, the prompt's tokens and EOS
local ids = chunks[1].ids
local n = 1
while ids[n] ~= 49407 do n = n + 1 end
local out = model:forward({ids}, {attention = true})
local att = out.attention:select(1, 1) -- [H, 77, 77]
local heads = att:size(1)
local map = fokus.zeros{n, n}
local at = att:totable()
for i = 1, n do
  for j = 1, n do
    local s = 0
    for h = 1, heads do s = s + at[h][i][j] end
    map:set(i, j, s / heads)
  end
end
local labels = {}
for i = 1, n do
  local info = tok:info()
  labels[i] = ids[i] == info.bos and "<bos>" or ids[i] == info.eos and "<eos>" or (tok:token(ids[i]):gsub("</w>", ""))
end
save(fokus.heatmap(map, {rows = labels, cols = labels, cell = 32}), "out/clip_attention.png")
if not checkpoint then
  print("   (random tiny encoder: pass an SD 1.5 checkpoint as the 2nd argument for real attention)")
end
