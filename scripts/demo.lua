-- make demo: self-attention over a short sentence, written as a labelled heat map.
--
-- Each word gets an embedding drawn from a generator seeded by the word itself, so a
-- repeated word has the same vector and visibly attends to its twin. Queries and keys
-- are the embeddings themselves (one head, d = 64); the probabilities come straight
-- from fokus.attend's `probs` output.
local fokus = require "fokus"

local sentence = arg[1] or "a red cat sits on a blue mat next to a red ball"
local out = arg[2] or "out/attention.png"

local words = {}
for w in sentence:gmatch("%S+") do words[#words + 1] = w end
assert(#words > 0, "demo: the sentence has no words")

local d = 64
local function seed_of(word)
  local h = 2166136261
  for i = 1, #word do h = ((h ~ word:byte(i)) * 16777619) & 0xffffffff end
  return h
end

-- [1 head, N tokens, d]
local x = fokus.zeros{1, #words, d}
for i, w in ipairs(words) do
  local e = fokus.randn({d}, {seed = seed_of(w)}):totable()
  for j = 1, d do x:set(1, i, j, e[j]) end
end

local t0 = fokus.clock()
local o, lse, probs = fokus.attend(x, x, x, {lse = true, probs = true, scale = 0.25})
local ms = (fokus.clock() - t0) * 1000

local img = fokus.heatmap(probs:select(1, 1), {rows = words, cols = words, cell = 40})
local ok, err = fokus.save_png(out, img)
if not ok then error(err) end

print(string.format("fokus %s: attention over %d words (d = %d) in %.3f ms", fokus.version, #words, d, ms))
print(string.format("output %s, lse %s, probs %s", tostring(o), tostring(lse), tostring(probs)))
local p = probs:select(1, 1):totable()
for i, w in ipairs(words) do
  local best, bj = -1, 0
  for j = 1, #words do
    if j ~= i and p[i][j] > best then best, bj = p[i][j], j end
  end
  print(string.format("  %-6s attends most (besides itself) to %-6s (%.2f)", w, words[bj], best))
end
print("heat map written to " .. out)
