local fokus = require 'fokus'
local H = require 'tests.spec.helper'

local function close(got, ref, tol, what)
  local m = math.max(H.maxabs(ref), 1e-6)
  local d = H.maxdiff(got, ref)
  assert(d <= tol * m, string.format('%s: relative error %.3g > %.3g', what, d / m, tol))
end

describe('fokus.clip', function()
  for _, case in ipairs({
    {'clip_text_tiny', {num_attention_heads = 4, eos_token_id = 999, bos_token_id = 998, hidden_act = 'quick_gelu'}},
    {'clip_text_tiny_gelu_f16', {num_attention_heads = 4, eos_token_id = 999, hidden_act = 'gelu', architectures = {'x'}}},
  }) do
    it('matches the oracle ' .. case[1] .. ' (every output)', function()
      local shared = H.shared()
      if not shared then return pending('../shared not found: CLIP oracle skipped') end
      local path = shared .. '/oracles/models/' .. case[1] .. '.safetensors'
      local t = assert(fokus.load(path))
      -- by path with an explicit prefix, and from the loaded table with detection
      local m = assert(fokus.clip(path, {prefix = 'weights.', config = case[2]}))
      local m2 = fokus.clip(t, {config = case[2]})
      assert.are.equal('weights.', m2:config().prefix)
      assert.are.equal(3, m:config().num_hidden_layers)
      local out = m:forward(t['inputs.input_ids'])
      close(out.last_hidden_state, t['outputs.last_hidden_state'], 1e-4, 'last_hidden_state')
      close(out.pooler_output, t['outputs.pooler_output'], 1e-4, 'pooler_output')
      close(out.text_embeds, t['outputs.text_embeds'], 1e-4, 'text_embeds')
      assert.are.equal(4, #out.hidden_states)
      for i = 1, 4 do close(out.hidden_states[i], t['outputs.hidden_states.' .. (i - 1)], 1e-4, 'hidden_states') end
      -- encode: clip skip 2 with and without the final LayerNorm, pooled of chunk 1
      local ids = t['inputs.input_ids']:narrow(1, 1, 1)
      local cond, pooled = m2:encode(ids, {skip = 2})
      close(cond, t['outputs.penultimate_final_ln']:narrow(1, 1, 1), 1e-4, 'penultimate_final_ln')
      cond = m2:encode(ids, {skip = 2, final_norm = false})
      close(cond, t['outputs.penultimate_hidden_state']:narrow(1, 1, 1), 1e-4, 'penultimate_hidden_state')
      close(pooled, t['outputs.pooler_output']:narrow(1, 1, 1), 1e-4, 'pooled')
      -- two chunks give [1, 154, D]
      local c2 = m2:encode(t['inputs.input_ids']:narrow(1, 1, 2))
      assert.are.same({1, 154, 64}, c2:shape())
      close(c2:narrow(2, 78, 77), t['outputs.last_hidden_state']:narrow(1, 2, 1), 1e-4, 'chunk 2')
    end)
  end

  it('runs the embedded tiny model on tokenize output', function()
    local m = fokus.clip.tiny{seed = 3}
    assert.matches('fokus.CLIP%(hf, width 64, 2 layers', tostring(m))
    local ids = {49406, 320, 2368, 49407}
    for i = 5, 77 do ids[i] = 49407 end
    local cond, pooled, proj = m:encode({{ids = ids, weights = {}}})
    assert.are.same({1, 77, 64}, cond:shape())
    assert.are.same({1, 64}, pooled:shape())
    assert.are.same({1, 64}, proj:shape())
    -- same seed, same model; causal: positions before EOS ignore the padding
    local a = fokus.clip.tiny{seed = 3}:forward({ids}).last_hidden_state
    assert.are.same(cond:totable(), a:totable())
    local ids0 = {H.unpack(ids)}
    for i = 5, 77 do ids0[i] = 0 end
    local b = m:forward({ids0}).last_hidden_state
    assert.is_true(H.maxdiff(a:narrow(2, 1, 4), b:narrow(2, 1, 4)) < 1e-5)
    assert.is_true(H.maxdiff(a:narrow(2, 5, 73), b:narrow(2, 5, 73)) > 1e-3)
  end)

  it('rejects bad ids, options and checkpoints', function()
    local m = fokus.clip.tiny{seed = 1, layers = 1}
    assert.error_matches(function() m:forward({{49406, 49408}}) end, 'token id 49408 at %[1, 2%] is outside the vocabulary')
    assert.error_matches(function() m:forward({{1.5}}) end, 'not an integer')
    assert.error_matches(function() m:encode({{ids = {1}}}, {skip = 3}) end, "'skip' must be in 1..1")
    assert.error_matches(function() m:encode({{ids = {1}}}, {skipp = 1}) end, "did you mean 'skip'")
    assert.error_matches(function() fokus.clip({}) end, 'no CLIP text encoder')
    local ok, err = fokus.clip('/nonexistent.safetensors')
    assert.is_nil(ok)
    assert.matches('^/nonexistent.safetensors: ', err)
    local shared = H.shared()
    if shared then
      ok, err = fokus.clip(shared .. '/oracles/models/dit_tiny.safetensors')
      assert.is_nil(ok)
      assert.matches('no CLIP text encoder', err)
      assert.error_matches(function()
        fokus.clip(shared .. '/oracles/models/clip_text_tiny.safetensors', {config = {hidden_size = 32}})
      end, 'hidden_size = 32, but the weights have 64')
    end
  end)
end)
