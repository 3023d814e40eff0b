local fokus = require 'fokus'
local H = require 'tests.spec.helper'

local function relerr(got, ref)
  return H.maxdiff(got, ref) / math.max(H.maxabs(ref), 1e-6)
end

local function close(got, ref, tol, what)
  local e = relerr(got, ref)
  assert(e <= tol, string.format('%s: relative error %.3g > %.3g', what, e, tol))
end

local function oracle(name)
  local shared = H.shared()
  if not shared then return nil end
  return shared .. '/oracles/models/' .. name .. '.safetensors'
end

local function stages(m, t, tag)
  local r = m:forward(t['inputs.x'], t['inputs.t'], t['inputs.context'], t['inputs.y'], {trace = true})
  local n = 0
  for _, k in ipairs({'x_tokens', 't_freq', 't_emb', 'y_emb', 'c', 'context_tokens', 'final_tokens', 'out'}) do
    close(r[k], t['outputs.' .. k], 1e-4, tag .. ' ' .. k)
    n = n + 1
  end
  close(r.pos_embed, t['outputs.pos_embed_cropped'], 1e-4, tag .. ' pos_embed_cropped')
  n = n + 1
  assert.are.equal(2, #r.blocks)
  for i = 1, 2 do
    close(r.blocks[i].x, t['outputs.block.' .. (i - 1) .. '.x'], 1e-4, tag .. ' block x')
    n = n + 1
    local ref = t['outputs.block.' .. (i - 1) .. '.context']
    if ref then
      close(r.blocks[i].context, ref, 1e-4, tag .. ' block context')
      n = n + 1
    else
      assert.is_nil(r.blocks[i].context) -- the pre_only last block drops the context stream
    end
  end
  return r, n
end

-- The [N, T, gh, gw] map as nested tables, and the sum over the tokens of one patch.
local function token_sum(map, b, r, c)
  local s = 0
  for j = 1, map:size(2) do s = s + map:get(b, j, r, c) end
  return s
end

describe('fokus.mmdit', function()
  it('matches the mmdit oracles at every stored stage', function()
    if not oracle('mmdit_tiny') then return pending('../shared not found: MMDiT oracles skipped') end
    -- by path with an explicit prefix and the oracle's own config keys
    local path = oracle('mmdit_tiny')
    local t = assert(fokus.load(path))
    local m = assert(fokus.mmdit(path, {prefix = 'weights.', config = {
      model_type = 'mmdit', num_heads = 4, hidden_size = 64, depth = 2, mlp_ratio = 4.0, context_dim = 32,
      adm_in_channels = 48, pos_embed_max_size = 8, x_block_self_attn_layers = {}, qkv_bias = true,
      frequency_embedding_size = 256, max_period = 10000, norm_eps = 1e-6, qk_norm_eps = 1e-6}}))
    local c = m:config()
    assert.are.equal('mmdit', c.family)
    assert.are.equal('weights.', c.prefix)
    assert.are.same({4, 4, 2, 64, 2, 4, 32, 48, 8, 'none'}, {c.in_channels, c.out_channels, c.patch_size,
      c.hidden_size, c.depth, c.num_heads, c.context_dim, c.pooled_dim, c.pos_embed_max_size, c.qk_norm})
    assert.are.same({}, c.x_block_self_attn_layers)
    local _, n = stages(m, t, 'tiny')
    assert.are.equal(12, n)
    -- the RMS case with its non-square latent, from the loaded table (prefix found)
    t = assert(fokus.load(oracle('mmdit_tiny_rms')))
    m = fokus.mmdit(t)
    c = m:config()
    assert.are.equal('rms', c.qk_norm)
    assert.are.equal(4, c.num_heads) -- from ln_q's width
    stages(m, t, 'rms')
    local wide = m:forward(t['inputs.x_wide'], t['inputs.t_wide']:totable(), t['inputs.context_wide'], t['inputs.y_wide'],
      {trace = true})
    close(wide.out, t['outputs.out_wide'], 1e-4, 'out_wide')
    close(wide.pos_embed, t['outputs.pos_embed_cropped_wide'], 1e-4, 'pos_embed_cropped_wide')
    -- MMDiT-X in bf16
    t = assert(fokus.load(oracle('mmditx_tiny_bf16')))
    m = fokus.mmdit(t, {config = {qk_norm = 'rms', x_block_self_attn_layers = {0}}})
    assert.are.same({0}, m:config().x_block_self_attn_layers)
    local r = stages(m, t, 'mmdit-x')
    -- plain forward: the same output as the traced one
    assert.are.same(r.out:totable(), m:forward(t['inputs.x'], t['inputs.t'], t['inputs.context'], t['inputs.y']):totable())
  end)

  it('captures where each text token lands', function()
    local m = fokus.mmdit.tiny{seed = 3, depth = 3}
    local x = fokus.randn({2, 4, 8, 12}, {seed = 1})
    local ctx, y = fokus.randn({2, 5, 32}, {seed = 2}), fokus.randn({2, 48}, {seed = 3})
    local plain = m:forward(x, {100, 900}, ctx, y)
    local r = m:forward(x, {100, 900}, ctx, y, {attention = true})
    assert.are.same(plain:totable(), r.out:totable())    -- capturing changes nothing
    assert.are.same({2, 5, 4, 6}, r.attention:shape())   -- [N, T, H/p, W/p]
    -- probabilities of image queries over text keys: per patch the text share is in (0, 1]
    for b = 1, 2 do
      for row = 1, 4 do
        for col = 1, 6 do
          local s = token_sum(r.attention, b, row, col)
          assert(s > 0 and s <= 1 + 1e-6, 'text share ' .. s)
        end
      end
    end
    -- the mean over blocks: all three = the mean of the single-block maps
    local maps = {}
    for i = 1, 3 do maps[i] = m:forward(x, {100, 900}, ctx, y, {attention = {i}}).attention end
    local worst = 0
    for b = 1, 2 do
      for j = 1, 5 do
        local want = (maps[1]:get(b, j, 2, 3) + maps[2]:get(b, j, 2, 3) + maps[3]:get(b, j, 2, 3)) / 3
        worst = math.max(worst, math.abs(want - r.attention:get(b, j, 2, 3)))
      end
    end
    assert(worst < 1e-6, 'mean over blocks ' .. worst)
    assert.is_true(H.maxdiff(maps[1], maps[2]) > 1e-4)
    local two = m:forward(x, {100, 900}, ctx, y, {attention = {1, 3}}).attention
    assert(math.abs(two:get(1, 1, 1, 1) - (maps[1]:get(1, 1, 1, 1) + maps[3]:get(1, 1, 1, 1)) / 2) < 1e-6)
    assert.error_matches(function() m:forward(x, 1, ctx, y, {attention = {4}}) end,
      'attention%[1%] must be a block index in 1..3')
    assert.error_matches(function() m:forward(x, 1, ctx, y, {attention = {}}) end, 'lists no blocks')
    assert.error_matches(function() m:forward(x, 1, ctx, y, {attention = 'all'}) end,
      "option 'attention' must be true or a list of block indices")
    -- attention = false: a plain tensor back
    assert.is_true(fokus.is_tensor(m:forward(x, 1, ctx, y, {attention = false})))
  end)

  it('builds a deterministic tiny model with options', function()
    local m = fokus.mmdit.tiny{seed = 7}
    assert.matches('fokus.MMDiT%(width 64, 2 blocks, 4 heads, patch 2, 4 %-> 4 channels, context 32, pooled 48, ' ..
      'qk%-norm none, attn2 in 0 blocks%)', tostring(m))
    local c = m:config()
    assert.are.same({'mmdit', 4, 32, 48, 32}, {c.family, c.in_channels, c.context_dim, c.pooled_dim,
      c.pos_embed_max_size})
    local x, ctx, y = fokus.randn({2, 4, 16, 16}, {seed = 1}), fokus.randn({2, 7, 32}, {seed = 2}),
      fokus.randn({2, 48}, {seed = 3})
    local a = m:forward(x, {20, 999.5}, ctx, y)
    assert.are.same({2, 4, 16, 16}, a:shape())
    assert.are.same(a:totable(), fokus.mmdit.tiny{seed = 7}:forward(x, {20, 999.5}, ctx, y):totable())
    assert.is_true(H.maxdiff(a, fokus.mmdit.tiny{seed = 8}:forward(x, {20, 999.5}, ctx, y)) > 1e-3)
    -- a number t applies to every entry; an f16 latent is widened exactly
    local b = m:forward(x, 20, ctx, y)
    assert.are.same(a:narrow(1, 1, 1):totable(), b:narrow(1, 1, 1):totable())
    local xh = x:to('f16')
    assert.are.same(m:forward(xh:to('f32'), 20, ctx, y):totable(), m:forward(xh, 20, ctx, y):totable())
    local s = fokus.mmdit.tiny{seed = 1, hidden_size = 32, heads = 2, depth = 3, in_channels = 16, patch_size = 1,
      context_dim = 8, pooled_dim = 4, pos_embed_max_size = 6, qk_norm = 'ln', x_block_self_attn_layers = {0, 2}}
    c = s:config()
    assert.are.same({16, 16, 1, 32, 3, 2, 8, 4, 6, 'ln'}, {c.in_channels, c.out_channels, c.patch_size, c.hidden_size,
      c.depth, c.num_heads, c.context_dim, c.pooled_dim, c.pos_embed_max_size, c.qk_norm})
    assert.are.same({0, 2}, c.x_block_self_attn_layers)
    assert.are.same({1, 16, 5, 6}, s:forward(fokus.randn({1, 16, 5, 6}), 3, fokus.randn({1, 2, 8}),
      fokus.randn({1, 4})):shape())
    -- f16 weights: the f32 model's weights rounded, used in place
    local h = fokus.mmdit.tiny{seed = 7, dtype = 'f16'}
    local e = relerr(h:forward(x, {20, 999.5}, ctx, y), a)
    assert(e > 1e-6 and e < 2e-2, 'f16 tiny vs f32 tiny ' .. e)
    assert.error_matches(function() fokus.mmdit.tiny{dtype = 'i32'} end, "dtype must be 'f32', 'f16' or 'bf16'")
    m:close()
    assert.error_matches(function() m:forward(x, 1, ctx, y) end, 'model is closed')
    assert.are.equal('fokus.MMDiT(closed)', tostring(m))
  end)

  it('rejects bad inputs with what was expected and what came', function()
    local m = fokus.mmdit.tiny{seed = 1}
    local x, ctx, y = fokus.randn({2, 4, 8, 8}, {seed = 2}), fokus.randn({2, 3, 32}), fokus.randn({2, 48})
    assert.error_matches(function() m:forward(fokus.randn({2, 3, 8, 8}), 1, ctx, y) end,
      'x has 3 channels, the model takes 4')
    assert.error_matches(function() m:forward(fokus.randn({2, 4, 8, 7}), 1, ctx, y) end,
      'multiples of the patch size 2')
    assert.error_matches(function() m:forward(fokus.randn({2, 4, 8, 66}), 1, ctx, y) end,
      'a 4x33 patch grid; the position table covers 32x32 patches %(latents up to 64x64%)')
    assert.error_matches(function() m:forward(x, 1, fokus.randn({2, 3, 30}), y) end,
      'context must be a float tensor %[2, T, 32%] with T >= 1, got f32 2x3x30')
    assert.error_matches(function() m:forward(x, {1, 2, 3}, ctx, y) end,
      't must be a numeric tensor %[2%] %(one timestep per batch entry%), got f32 3')
    assert.error_matches(function() m:forward(x, 1, ctx, fokus.randn({1, 48})) end,
      'y must be a float tensor %[2, 48%] %(the pooled text vector%), got f32 1x48')
    assert.error_matches(function() m:forward(x, 1, fokus.randn({1, 3, 32}), y) end, 'got f32 1x3x32')
    assert.error_matches(function() m:forward(x, 1, ctx) end, 'y')
    assert.error_matches(function() m:forward(x, {1, 0 / 0}, ctx, y) end, 't%[2%] is %-?nan')
    local bad = x:clone()
    bad:set(2, 3, 4, 5, 0 / 0)
    assert.error_matches(function() m:forward(bad, 1, ctx, y) end, 'x has NaN at %[2, 3, 4, 5%]')
    bad = ctx:clone()
    bad:set(1, 2, 3, 1 / 0)
    assert.error_matches(function() m:forward(x, 1, bad, y) end, 'context has inf at %[1, 2, 3%]')
    assert.error_matches(function() m:forward(x, 1, ctx, y, {atention = true}) end, "did you mean 'attention'")
    assert.error_matches(function() fokus.mmdit(42) end, 'expected a path or a table of tensors')
    assert.error_matches(function() fokus.mmdit({}, {prefx = ''}) end, "did you mean 'prefix'")
    assert.error_matches(function() fokus.mmdit({}) end, 'no SD3 MMDiT in these weights')
    assert.error_matches(function() fokus.mmdit.tiny{seed = 1, heads = 3} end, 'heads must divide hidden_size 64')
    assert.error_matches(function() fokus.mmdit.tiny{seed = 1, qk_norm = 'l2'} end, "qk_norm must be 'none', 'rms' or 'ln'")
    assert.error_matches(function() fokus.mmdit.tiny{seed = 1, x_block_self_attn_layers = {2}} end,
      'must be a block number in 0..1')
    local ok, err = fokus.mmdit('/nonexistent.safetensors')
    assert.is_nil(ok)
    assert.matches('^/nonexistent.safetensors: ', err)
  end)

  it('says which family another checkpoint looks like, and checks the config', function()
    local shared = H.shared()
    if not shared then return pending('../shared not found: checkpoint families skipped') end
    local dir = shared .. '/oracles/models/'
    local ok, err = fokus.mmdit(dir .. 'dit_tiny.safetensors')
    assert.is_nil(ok)
    assert.matches('no SD3 MMDiT in these weights .*; they look like a DiT %(blocks%.%*, y_embedder%.embedding_table%), not an MMDiT', err)
    ok, err = fokus.mmdit(dir .. 'clip_text_tiny.safetensors')
    assert.is_nil(ok)
    assert.matches('they look like a CLIP text encoder', err)
    assert.error_matches(function() fokus.mmdit((assert(fokus.load(dir .. 'dit_tiny.safetensors')))) end, 'a DiT')
    local p = dir .. 'mmdit_tiny_rms.safetensors'
    assert.error_matches(function() fokus.mmdit(p, {config = {hidden_size = 32}}) end,
      'config hidden_size = 32, but the weights have 64')
    assert.error_matches(function() fokus.mmdit(p, {config = {qk_norm = 'ln'}}) end,
      "config qk_norm = 'ln', but the weights have RMS norms %(rms%)")
    assert.error_matches(function() fokus.mmdit(p, {config = {x_block_self_attn_layers = {0}}}) end,
      'block 0 has no x_block.attn2')
    assert.error_matches(function() fokus.mmdit(dir .. 'mmditx_tiny_bf16.safetensors', {config = {x_block_self_attn_layers = {}}}) end,
      'lists 0 blocks, the weights have attn2 in 1')
    assert.error_matches(function() fokus.mmdit(p, {config = {mlp_ratio = 2}}) end, 'config mlp_ratio')
    assert.error_matches(function() fokus.mmdit(p, {config = {num_heads = 'four'}}) end,
      "config: option 'num_heads' must be an integer")
    -- without qk-norm the heads are not in the shapes: D / 64 unless given
    assert.are.equal(1, fokus.mmdit(dir .. 'mmdit_tiny.safetensors'):config().num_heads)
  end)
end)
