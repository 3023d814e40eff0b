-- What the application-host tests run inside each host (tests/hosts/nvim.lua) and again in
-- the test's own interpreter, so the two pictures can be compared byte for byte:
-- tokenize a prompt, embed each token with seeded random numbers, self-attend over the
-- tokens and colour the probabilities as a labelled heat map.
-- Plain Lua in the subset LuaJIT, 5.3 and 5.4 share.
local M = {}

M.prompt = 'a photo of a cat sitting on a red mat next to a cat'

-- A small OpenAI-format vocabulary (bpe_simple_vocab_16e6.txt layout: a header line, then
-- one merge per line) that spells every word of `text` as one token: used when the real
-- CLIP vocabulary (../shared/clip) is not there. Returns the path written.
function M.write_small_vocab(path, text)
  local lines, seen = { '#version: 0.2 (fokus host test)' }, {}
  for word in text:lower():gmatch('%a+') do
    local sym = word:sub(1, 1)
    for i = 2, #word do
      local nxt = word:sub(i, i) .. (i == #word and '</w>' or '')
      local merge = sym .. ' ' .. nxt
      if not seen[merge] then
        seen[merge] = true
        lines[#lines + 1] = merge
      end
      sym = sym .. nxt
    end
  end
  local f = assert(io.open(path, 'w'))
  f:write(table.concat(lines, '\n'), '\n')
  f:close()
  return path
end

-- The vocabulary to use: FOKUS_HOST_VOCAB, else OpenAI's from the shared folder, else
-- nil (the caller writes a small one).
function M.find_vocab(root)
  local v = os.getenv('FOKUS_HOST_VOCAB')
  if v and v ~= '' then return v end
  local shared = os.getenv('FOKUS_SHARED') or (root .. '/../shared')
  local path = shared .. '/clip/bpe_simple_vocab_16e6.txt.gz'
  local f = io.open(path, 'rb')
  if f then
    f:close()
    return path
  end
  return nil
end

-- Tokens of the prompt -> attention probabilities -> heat map (u8 [H, W, 3]).
-- Returns the image, the token labels and the probability matrix (a tensor [N, N]).
function M.attention_map(fokus, tok, text)
  local pieces = tok:pieces(text)
  assert(#pieces > 1, 'the prompt gave fewer than two tokens')
  local d = 32
  local rows, labels = {}, {}
  for i, p in ipairs(pieces) do
    rows[i] = fokus.randn({1, d}, { seed = p.id }) -- the same token, the same vector
    labels[i] = text:sub(p.first, p.last)
  end
  local x = fokus.cat(rows, 1):reshape({ 1, #pieces, d })
  local _, probs = fokus.attend(x, x, x, { probs = true, scale = 0.5 })
  local map = probs:select(1, 1)
  local img = fokus.heatmap(map, { cell = 12, rows = labels, cols = labels })
  return img, labels, map
end

return M
