-- The picture node types in graphs, the workflow inside saved PNGs, and the demo scripts.
local fokus = require 'fokus'
local H = fokus_test

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute('mkdir -p ' .. d))
  return d
end

local function vocab()
  local dir = H.shared()
  local p = dir and dir .. '/clip/bpe_simple_vocab_16e6.txt.gz'
  local f = p and io.open(p, 'rb')
  if f then f:close() return p end
end

describe('picture nodes', function()
  it('are registered with their sockets', function()
    local names = {}
    for _, t in ipairs(fokus.node_types()) do names[type(t) == 'table' and t.type or t] = true end
    for _, t in ipairs{'token_labels', 'token_matrix', 'word_maps', 'contact_sheet', 'caption', 'save_png',
                       'save_pngs', 'sd3_conditioning'} do
      assert.is_true(names[t], t)
    end
  end)

  it('save PNGs with the workflow that made them, which reads back as a graph', function()
    local d = tmpdir()
    local g = fokus.graph()
    local model = g:add('tiny_mmdit', {seed = 1, in_channels = 16, context_dim = 8, pooled_dim = 8}, {id = 'model'})
    local latent = g:add('empty_latent', {model = model.model, width = 8, height = 8}, {id = 'latent'})
    local noise = g:add('noise', {latent = latent.latent, seed = 3}, {id = 'noise'})
    local preview = g:add('latent_preview', {latent = noise.noise, scale = 4}, {id = 'preview'})
    local titled = g:add('caption', {image = preview.image, title = 'noise\nas a picture'}, {id = 'caption'})
    g:add('save_png', {image = titled.image, path = d .. '/p.png'}, {id = 'save'})
    g:add('save_png', {image = preview.image, path = d .. '/bare.png', workflow = false}, {id = 'bare'})
    g:run{events = false}
    local img, text = fokus.load_png(d .. '/p.png')
    assert.are.equal(3, img:size(3))
    assert.is_true(img:size(1) > 32 and img:size(2) >= 32) -- the preview and its title
    assert.are.equal(g:to_json(), text.prompt)
    local back = assert(fokus.graph.from_json(text.prompt))
    assert.are.equal(g:to_json(), back:to_json())
    local _, bare = fokus.load_png(d .. '/bare.png')
    assert.is_nil(bare.prompt)
    os.execute('rm -rf ' .. d)
  end)

  it('pad encoder outputs to an MMDiT\'s widths (sd3_conditioning)', function()
    local g = fokus.graph()
    local model = g:add('tiny_mmdit', {seed = 1, context_dim = 12, pooled_dim = 6})
    local h, p = fokus.randn({1, 5, 4}, {seed = 1}), fokus.randn({1, 4}, {seed = 2})
    local hg, pg = fokus.randn({1, 5, 3}, {seed = 3}), fokus.randn({1, 3}, {seed = 4})
    local c = g:add('sd3_conditioning', {model = model.model, hidden = h, pooled = p, hidden_g = hg, pooled_g = pg})
    local r = g:run{events = false}
    local cond = r[c].conditioning
    assert.are.same({1, 5, 12}, cond.context:shape())
    assert.are.same({1, 6}, cond.y:shape())
    assert.are.equal(h:get(1, 2, 3), cond.context:get(1, 2, 3))
    assert.are.equal(hg:get(1, 2, 3), cond.context:get(1, 2, 7))
    assert.are.equal(0, cond.context:get(1, 2, 8))
    assert.are.equal(pg:get(1, 2), cond.y:get(1, 6)) -- pooled cut to 6 = 4 + 2 of 3
    local g2 = fokus.graph()
    local m2 = g2:add('tiny_mmdit', {seed = 1, context_dim = 3, pooled_dim = 6})
    g2:add('sd3_conditioning', {model = m2.model, hidden = h, pooled = p})
    assert.error_matches(function() g2:run{events = false} end, 'more than the model\'s context width 3')
  end)

  it('draw word maps and a contact sheet from captured attention', function()
    local g = fokus.graph()
    local att = fokus.randn({1, 4, 4, 4}, {seed = 5})
    local pic = fokus.zeros({32, 32, 3}, 'u8')
    local labels = {'<bos>', 'red', 'cat', '<eos>'}
    local maps = g:add('word_maps', {attention = att, image = pic, labels = labels, size = 64})
    local sheet = g:add('contact_sheet', {images = maps.maps, title = 'words', colorbar = 'relative'})
    local picked = g:add('word_maps', {attention = att, image = pic, labels = labels, tokens = '3', size = 32})
    local r = g:run{events = false}
    assert.are.equal(2, #r[maps].maps)                      -- <bos> and <eos> left out
    assert.are.same({'2: red', '3: cat'}, r[maps].words)
    assert.are.equal(64, r[maps].maps[1]:size(2))
    assert.is_true(r[sheet].image:size(2) > 2 * 64)
    assert.are.same({'3: cat'}, r[picked].words)
    local bad = fokus.graph()
    bad:add('word_maps', {attention = att, image = pic, labels = labels, tokens = '9'})
    assert.error_matches(function() bad:run{events = false} end, 'tokens must be positions in 1..4')
  end)

  it('label tokens and draw the encoder\'s token matrix', function()
    local v = vocab()
    if not v then pending('needs ../shared/clip/bpe_simple_vocab_16e6.txt.gz (FOKUS_SHARED)') return end
    local g = fokus.graph()
    local tok = g:add('load_tokenizer', {path = v})
    local tokens = g:add('tokenize', {tokenizer = tok.tokenizer, text = 'a (red:1.3) cat'})
    local labels = g:add('token_labels', {tokenizer = tok.tokenizer, tokens = tokens.tokens})
    local plain = g:add('token_labels', {tokenizer = tok.tokenizer, tokens = tokens.tokens, weights = false})
    local clip = g:add('tiny_clip', {seed = 1, width = 64, heads = 4})
    local m = g:add('token_matrix', {clip = clip.clip, tokens = tokens.tokens, labels = labels.labels})
    local r = g:run{events = false}
    assert.are.same({'<bos>', 'a', 'red \195\151' .. '1.3', 'cat', '<eos>'}, r[labels].labels)
    assert.are.same({'<bos>', 'a', 'red', 'cat', '<eos>'}, r[plain].labels)
    assert.are.equal(5, r[labels].count)
    local mat = r[m].matrix
    assert.are.same({5, 5}, mat:shape())
    -- causal self-attention averaged over heads: rows sum to 1 over the earlier tokens
    for i = 1, 5 do
      local s = 0
      for j = 1, 5 do
        s = s + mat:get(i, j)
        if j > i then assert.are.equal(0, mat:get(i, j)) end
      end
      assert.is_true(math.abs(s - 1) < 1e-5)
    end
    -- against the model itself: the mean over heads of layer 2's probabilities
    local att = r[clip].clip:forward({r[tokens].tokens[1].ids}, {attention = 2}).attention
    local want = 0
    for h = 1, 4 do want = want + att:get(1, h, 4, 3) / 4 end
    assert.is_true(math.abs(mat:get(4, 3) - want) < 1e-6)
    assert.is_true(r[m].image:size(1) > 5 * 40)
  end)

  it('make demo: the pictures, the workflow, and the workflow runs again', function()
    local v = vocab()
    if not v then pending('needs ../shared/clip/bpe_simple_vocab_16e6.txt.gz (FOKUS_SHARED)') return end
    local root = os.getenv('FOKUS_ROOT') or '.'
    local host = (os.getenv('FOKUS_BUILD') or (root .. '/build')) .. '/fokus'
    local d = tmpdir()
    local cmd = string.format('cd %s && FOKUS_OUT=%s FOKUS_CLIP_VOCAB=%s FOKUS_MMDIT= FOKUS_CLIP= %s scripts/demo.lua 2>&1',
      root, d, v, host)
    local p = io.popen(cmd)
    local log = p:read('*a')
    assert.is_true(p:close(), log)
    assert.matches('tiny MMDiT, seeded random weights', log)
    assert.matches('tokenize', log)
    for _, name in ipairs{'token_matrix.png', 'word_maps.png', 'preview.png', 'word_01.png', 'word_07.png'} do
      local img, text = fokus.load_png(d .. '/' .. name)
      assert.is_truthy(img, name)
      assert.is_string(text.prompt, name)
    end
    local f = assert(io.open(d .. '/workflow.json', 'rb'))
    local wf = f:read('*a')
    f:close()
    local g = assert(fokus.graph.from_json(wf))
    assert.is_truthy(g:node('sample'))
    p = io.popen(string.format('cd %s && %s run %s/workflow.json --quiet 2>&1', root, host, d))
    log = p:read('*a')
    assert.is_true(p:close(), log)
    os.execute('rm -rf ' .. d)
  end)
end)
