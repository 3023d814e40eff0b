-- Pictures on the Lua side: word maps (one DAAM map per word over a picture) and the
-- labels of a prompt's tokens, written over the C pictures of fokus.core (overlay,
-- contact_sheet, heatmap).
local core = require "fokus.core"

local M = {}

local check = require "fokus.check"

local WORD_MAP_OPTS = {"tokens", "labels", "titles", "colormap", "alpha", "size", "font", "min", "max"}

-- fokus.word_maps(attention, image [, {tokens =, labels =, titles =, colormap =, alpha =,
--   size =, font =, min =, max =}]) -> {img, ...}: for each chosen token, its map over the
-- image grid averaged over the leading dimension (sampler steps, or a batch of one),
-- upsampled bilinearly, normalized and laid over `image`, titled with the token's label
-- (titles = false: no title strip, e.g. when a contact sheet captions them).
-- attention: float [T, h, w] or [S, T, h, w] (as model:forward's `attention`, [1, T, h, w]);
-- tokens: 1-based token positions (default all T); labels: one per position in `tokens`.
function M.word_maps(attention, image, opts)
  opts = check.checkopts("word_maps", opts, WORD_MAP_OPTS, 2)
  if not core.is_tensor(attention) then error("word_maps: attention must be a fokus.Tensor, got " .. type(attention), 2) end
  local nd = attention:dim()
  if nd ~= 3 and nd ~= 4 then
    error(string.format("word_maps: attention: expected [T, h, w] or [S, T, h, w], got %s", tostring(attention)), 2)
  end
  local tdim = nd - 2
  local T = attention:size(tdim)
  local tokens = opts.tokens
  if tokens == nil then
    tokens = {}
    for i = 1, T do tokens[i] = i end
  elseif type(tokens) ~= "table" then
    error("word_maps: option 'tokens' must be a table of token positions, got " .. type(tokens), 2)
  end
  local labels = opts.labels
  if labels ~= nil and (type(labels) ~= "table" or #labels ~= #tokens) then
    error(string.format("word_maps: option 'labels' must hold one label per token (%d), got %s", #tokens,
      type(labels) == "table" and tostring(#labels) or type(labels)), 2)
  end
  local out = {}
  for n, i in ipairs(tokens) do
    if type(i) ~= "number" or i ~= math.floor(i) or i < 1 or i > T then
      error(string.format("word_maps: tokens[%d] must be a position in 1..%d, got %s", n, T, tostring(i)), 2)
    end
    local map = attention:select(tdim, i)
    local title = nil
    if opts.titles ~= false then title = labels and labels[n] or ("token " .. i) end
    out[n] = core.overlay(image, map, {colormap = opts.colormap, alpha = opts.alpha, size = opts.size,
      font = opts.font, min = opts.min, max = opts.max, title = title})
  end
  return out
end

-- fokus.token_labels(tok, ids [, weights]) -> labels, n: a readable label per id up to
-- and including the first end-of-text token (n of them): "<bos>", words without the BPE
-- end-of-word mark, "<eos>"; padding after EOS is left out. With `weights` (one per id,
-- as fokus.tokenize gives them), a weight other than 1 is shown: "red ×1.3".
function M.token_labels(tok, ids, weights)
  local info = tok:info()
  local labels = {}
  for i = 1, #ids do
    local id = ids[i]
    if id == info.bos then labels[i] = "<bos>"
    elseif id == info.eos then labels[i] = "<eos>"; break
    else
      labels[i] = (tok:token(id):gsub("</w>$", ""))
      local w = weights and weights[i]
      -- "\195\151" is U+00D7 MULTIPLICATION SIGN in UTF-8
      if w and math.abs(w - 1) > 1e-6 then labels[i] = string.format("%s \195\151%.3g", labels[i], w) end
    end
  end
  return labels, #labels
end

return M
