local fokus = require 'fokus'
local H = require 'tests.spec.helper'
local json = require 'dkjson' -- shipped with Debian's lua-busted

local function vocab()
  local shared = H.shared()
  return shared and (shared .. '/clip/bpe_simple_vocab_16e6.txt.gz')
end

local function rows(file)
  local out = {}
  for line in io.lines(file) do out[#out + 1] = json.decode(line) end
  return out
end

describe('tokenizer', function()
  local tok
  setup(function()
    if vocab() then tok = assert(fokus.tokenizer(vocab())) end
  end)

  it('is id for id OpenAI CLIP on every dev prompt (ids and ids77)', function()
    if not tok then return pending('../shared not found: tokenizer oracle skipped') end
    local n = 0
    for _, r in ipairs(rows(H.shared() .. '/oracles/clip_tokens_dev.jsonl')) do
      assert.are.same(r.ids, tok:encode(r.text), r.text)
      assert.are.same(r.ids77, tok:encode(r.text, {length = 77}), r.text)
      n = n + 1
    end
    assert.are.equal(159, n)
  end)

  it('frames, pads, decodes and gives byte spans of the original text', function()
    if not tok then return pending('../shared not found') end
    assert.are.same({49406, 320, 2368, 49407, 0, 0}, tok:encode('a cat', {length = 6, pad = 0}))
    assert.are.same({49406, 320, 49407}, tok:encode('a cat dog', {length = 3}))
    assert.are.equal('a photo of a cat ', tok:decode(tok:encode('A photo of a CAT')))
    local text = 'Hello,   w\xc3\xb6rld &amp; caf\xc3\xa9'
    local pieces = tok:pieces(text)
    local ids = {}
    for i, p in ipairs(pieces) do
      ids[i] = p.id
      assert.is_true(p.first >= 1 and p.last <= #text and p.first <= p.last)
    end
    assert.are.same(tok:encode(text), ids)
    assert.are.equal('Hello', text:sub(pieces[1].first, pieces[1].last))
    assert.are.equal('&amp;', text:sub(pieces[#pieces - 1].first, pieces[#pieces - 1].last))
    assert.are.same({49406, 49407}, tok:encode('<|startoftext|><|ENDOFTEXT|>'))
    assert.error_matches(function() tok:decode({1, 99999}) end, '99999')
    assert.error_matches(function() tok:encode('x', {length = 1}) end, "'length' must be")
    assert.error_matches(function() tok:encode('x', {lenght = 5}) end, "did you mean 'length'")
  end)

  it('reports missing and corrupt vocabularies as nil, "path: reason"', function()
    local t, err = fokus.tokenizer('/nonexistent/vocab.json')
    assert.is_nil(t)
    assert.matches('^/nonexistent/vocab.json', err)
    local path = os.tmpname()
    local f = io.open(path, 'w')
    f:write('{"a": 0, "b": ')
    f:close()
    t, err = fokus.tokenizer(path)
    assert.is_nil(t)
    assert.are.equal(path, err:sub(1, #path))
    os.remove(path)
  end)
end)

-- Weights from the oracle: 6-decimal rounding, non-finite numbers as strings.
local function num(x)
  if x == 'inf' then return math.huge elseif x == '-inf' then return -math.huge elseif x == 'nan' then return 0 / 0 end
  return x
end

local function same_weight(got, want)
  want = num(want)
  if want ~= want then return got ~= got end
  if want == math.huge or want == -math.huge then return got == want end
  return math.abs(got - want) <= 5e-7 + 1e-9 * math.abs(want)
end

describe('prompt weights', function()
  local data
  setup(function()
    local shared = H.shared()
    if shared then data = rows(shared .. '/oracles/prompt_weights_dev.jsonl') end
  end)

  it('parse_weights equals A1111 and ComfyUI on every dev row', function()
    if not data then return pending('../shared not found: prompt oracle skipped') end
    for _, r in ipairs(data) do
      for _, syntax in ipairs({'a1111', 'comfy'}) do
        local want = r[syntax]
        if want == json.null or want == nil then
          assert.has_error(function() fokus.parse_weights(r.text, {syntax = syntax}) end)
        else
          local got = fokus.parse_weights(r.text, {syntax = syntax})
          assert.are.equal(#want, #got, syntax .. ': ' .. r.text)
          for i = 1, #want do
            assert.are.equal(want[i][1], got[i][1], syntax .. ': ' .. r.text)
            assert.is_true(same_weight(got[i][2], want[i][2]), syntax .. ': ' .. r.text)
          end
        end
      end
    end
  end)

  it('tokenize builds the same 77-token chunks and weights as both front ends', function()
    if not data then return pending('../shared not found') end
    local tok = assert(fokus.tokenizer(vocab()))
    for _, r in ipairs(data) do
      for _, syntax in ipairs({'a1111', 'comfy'}) do
        local want = r[syntax .. '_chunks']
        if want ~= json.null and want ~= nil then
          local got = fokus.tokenize(tok, r.text, {syntax = syntax})
          assert.are.equal(#want, #got, syntax .. ': ' .. r.text)
          for c = 1, #want do
            assert.are.same(want[c].ids, got[c].ids, syntax .. ': ' .. r.text)
            for i = 1, 77 do assert.is_true(same_weight(got[c].weights[i], want[c].w[i]), r.text) end
          end
        end
      end
    end
  end)

  it('raises where A1111 raises', function()
    assert.error_matches(function() fokus.parse_weights('(x:1.2.3)') end, "could not convert string to float: '1.2.3'")
    assert.are.same({{'x', 1.2}}, fokus.parse_weights('(x:1.2)'))
    assert.error_matches(function() fokus.parse_weights('x', {syntax = 'invoke'}) end, "'a1111' or 'comfy'")
  end)

  it('resolves prompt editing and alternation per step', function()
    local s = fokus.prompt_schedule('a [cat:dog:0.5] [x|y]', 4)
    assert.are.same({{steps = 1, prompt = 'a cat x'}, {steps = 2, prompt = 'a cat y'},
                     {steps = 3, prompt = 'a dog x'}, {steps = 4, prompt = 'a dog y'}}, s)
    assert.are.same({{steps = 10, prompt = 'a fantasy landscape with a lake'}},
      fokus.prompt_schedule('a fantasy landscape with a lake', 10))
    s = fokus.prompt_schedule('[mountain:lake:0.25] ', 20)
    assert.are.same({{steps = 5, prompt = 'mountain '}, {steps = 20, prompt = 'lake '}}, s)
    s = fokus.prompt_schedule('[a::3]b', 10)
    assert.are.same({{steps = 3, prompt = 'ab'}, {steps = 10, prompt = 'b'}}, s)
    assert.are.same({{prompt = 'a', weight = 1}, {prompt = ' b', weight = 1.2}}, fokus.prompt_and('a AND b :1.2'))
    assert.error_matches(function() fokus.prompt_schedule('x', 0) end, 'steps')
  end)
end)

describe('fokus.weight', function()
  local function hidden()
    local h = fokus.randn({1, 154, 8}, {seed = 11})
    local w = {}
    for i = 1, 154 do w[i] = 1 + (i % 5) * 0.1 end
    return h, w
  end

  it('a1111: multiplies, then restores each chunk mean', function()
    local h, w = hidden()
    local got = fokus.weight(h, w, {mode = 'a1111'}):totable()[1]
    local ht = h:totable()[1]
    for c = 0, 1 do
      local before, after = 0, 0
      for t = c * 77 + 1, c * 77 + 77 do for j = 1, 8 do
        before = before + ht[t][j]
        after = after + ht[t][j] * w[t]
      end end
      local ratio = before / after
      for t = c * 77 + 1, c * 77 + 77 do for j = 1, 8 do
        assert.is_true(math.abs(got[t][j] - ht[t][j] * w[t] * ratio) < 1e-4 * math.max(1, math.abs(got[t][j])))
      end end
    end
    local nonorm = fokus.weight(h, w, {mode = 'a1111_nonorm'}):totable()[1]
    assert.is_true(math.abs(nonorm[3][2] - ht[3][2] * w[3]) < 1e-6)
  end)

  it('comfy: interpolates from the empty prompt where the weight is not 1', function()
    local h, w = hidden()
    local empty = fokus.randn({1, 77, 8}, {seed = 12})
    local got = fokus.weight(h, w, {mode = 'comfy', empty = empty}):totable()[1]
    local ht, et = h:totable()[1], empty:totable()[1]
    for t = 1, 154 do for j = 1, 8 do
      local e = et[(t - 1) % 77 + 1][j]
      local want = w[t] == 1 and ht[t][j] or (ht[t][j] - e) * w[t] + e
      assert.is_true(math.abs(got[t][j] - want) < 1e-5)
    end end
    assert.error_matches(function() fokus.weight(h, w, {mode = 'comfy'}) end, "needs the empty prompt")
  end)

  it('accepts the chunks of fokus.tokenize and checks sizes', function()
    local h = fokus.randn{1, 77, 4}
    local chunks = {{ids = {}, weights = {}}}
    for i = 1, 77 do chunks[1].weights[i] = 1 end
    assert.are.same(h:totable(), fokus.weight(h, chunks, {mode = 'none'}):totable())
    assert.error_matches(function() fokus.weight(h, {1, 2}) end, '2 weights for 77 tokens')
    assert.error_matches(function() fokus.weight(h, chunks, {mode = 'average'}) end, "option 'mode'")
  end)
end)
