local fokus = require 'fokus'
local H = require 'tests.spec.helper'

local function tmpname()
  return os.tmpname()
end

describe('safetensors files', function()
  it('round-trips tensors of every dtype and metadata', function()
    local path = tmpname()
    local src = {
      a = fokus.randn({3, 4}, {seed = 1}),
      b = fokus.tensor({1, 2, 3}, 'i64'),
      c = fokus.tensor({{1, 0}, {0, 1}}, 'bool'),
      d = fokus.randn({5}, {seed = 2}):to('bf16'),
      e = fokus.zeros({0, 3}, 'f16'),
      s = fokus.tensor(3.5),
      t = fokus.randn({3, 4}, {seed = 3}):permute{2, 1},
    }
    assert.is_true(fokus.save(path, src, {format = 'pt', note = 'x'}))
    local got, meta = fokus.load(path)
    assert.are.same({format = 'pt', note = 'x'}, meta)
    for k, v in pairs(src) do
      assert.are.same(v:shape(), got[k]:shape())
      assert.are.equal(v:dtype(), got[k]:dtype())
      assert.are.same(v:totable(), got[k]:totable())
    end
    os.remove(path)
  end)

  it('returns nil and "path: reason" for missing and malformed files', function()
    local t, err = fokus.load('/nonexistent/x.safetensors')
    assert.is_nil(t)
    assert.are.equal('/nonexistent/x.safetensors: No such file or directory', err)
    local path = tmpname()
    local f = io.open(path, 'wb')
    f:write(H.u64le(1000) .. '{}')
    f:close()
    t, err = fokus.load(path)
    assert.is_nil(t)
    assert.matches('past the end of the file', err, 1, true)
    assert.are.equal(path, err:sub(1, #path))
    f = io.open(path, 'wb')
    local hdr = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}'
    f:write(H.u64le(#hdr) .. hdr .. string.rep('\0', 12))
    f:close()
    t, err = fokus.load(path)
    assert.is_nil(t)
    assert.matches('need 8', err)
    os.remove(path)
    local ok
    ok, err = fokus.save('/nonexistent/dir/x.safetensors', {a = fokus.zeros{1}})
    assert.is_nil(ok)
    assert.matches('^/nonexistent/dir/x.safetensors: ', err)
  end)

  it('rejects bad arguments to save', function()
    assert.error_matches(function() fokus.save('x', {a = 1}) end, "'a' is number, expected a fokus.Tensor")
    assert.error_matches(function() fokus.save('x', {fokus.zeros{1}}) end, 'names must be strings')
  end)

  it('loads the dtype oracle exactly', function()
    local shared = H.shared()
    if not shared then
      pending('../shared not found: dtype oracle skipped')
      return
    end
    local t = assert(fokus.load(shared .. '/oracles/models/safetensors_dtypes.safetensors'))
    assert.are.same(t['outputs.f16_as_f32']:totable(), t['inputs.f16']:to('f32'):totable())
    assert.are.same(t['outputs.bf16_special_as_f32']:totable(), t['inputs.bf16_special']:totable())
    assert.are.same(t['inputs.f16']:totable(), t['inputs.f32']:to('f16'):totable())
    assert.are.same({}, t['inputs.scalar']:shape())
    assert.are.same({0, 4}, t['inputs.empty']:shape())
  end)
end)
