-- Layout operations: cat (with out), stack, and the views expand / squeeze /
-- unsqueeze / slice (sharing storage with their base), and index_select.
local fokus = require 'fokus'

local function seq(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local t = fokus.zeros{n}
  for i = 1, n do t:set(i, i) end
  return t:reshape(shape)
end

describe('cat and stack', function()
  local a, b = seq{2, 3}, seq{2, 3}:narrow(1, 2, 1)

  it('cat joins along a dim, negative dims count from the end, out is written', function()
    assert.are.same({{1, 2, 3}, {4, 5, 6}, {4, 5, 6}}, fokus.cat({a, b}, 1):totable())
    assert.are.same({{1, 2, 3, 1, 2, 3}, {4, 5, 6, 4, 5, 6}}, fokus.cat({a, a}, -1):totable())
    local buf = fokus.zeros{6, 2}
    local o = buf:transpose(1, 2)                      -- a strided destination
    assert.are.equal(o, fokus.cat({a, a}, 2, {out = o}))
    assert.are.same({{1, 4}, {2, 5}, {3, 6}, {1, 4}, {2, 5}, {3, 6}}, buf:totable())
    local o2 = fokus.zeros{4, 3}
    assert.are.equal(o2, fokus.cat({a, a}, {out = o2}))
    assert.are.same({{1, 2, 3}, {4, 5, 6}, {1, 2, 3}, {4, 5, 6}}, o2:totable())
    assert.has_error(function() fokus.cat({a, a}, 1, {out = fokus.zeros{3, 3}}) end, 'cat: out must be f32 4x3, got f32 3x3')
    local c = fokus.zeros{4, 3}
    assert.error_matches(function() fokus.cat({c:narrow(1, 1, 2), a}, 1, {out = c}) end, 'overlaps input')
  end)

  it('stack adds a dim at any position', function()
    local s = fokus.stack({a, a}, 1)
    assert.are.same({2, 2, 3}, s:shape())
    assert.are.same({{{1, 2, 3}, {1, 2, 3}}, {{4, 5, 6}, {4, 5, 6}}}, fokus.stack({a, a}, 2):totable())
    assert.are.same({2, 3, 2}, fokus.stack({a, a}, -1):shape())
    assert.are.same({{1, 1}, {2, 2}, {3, 3}}, fokus.stack({a:select(1, 1), a:select(1, 1)}, 2):totable())
    local out = fokus.zeros{2, 2, 3}
    assert.are.equal(out, fokus.stack({a, a}, {out = out}))
    assert.are.same(a:totable(), out:select(1, 2):totable())
    assert.has_error(function() fokus.stack({a, b}) end, 'stack: tensor 2 is 1x3, tensor 1 is 2x3 (shapes must match)')
    assert.has_error(function() fokus.stack({a, a}, 4) end, 'stack: dim 4 out of range for a 2-d tensor')
    assert.error_matches(function() fokus.stack({a, 3}) end, 'stack: tensors: entry 2 must be a fokus.Tensor')
  end)
end)

describe('views', function()
  it('expand stretches size-1 dims with stride 0 and shares storage', function()
    local col = seq{3, 1}
    local e = col:expand{3, 4}
    assert.are.same({{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}}, e:totable())
    assert.are.same({2, 3, 4}, col:expand(2, -1, 4):shape())
    col:set(2, 1, 20)
    assert.are.same({20, 20, 20, 20}, e:select(1, 2):totable())
    assert.error_matches(function() col:expand{3, 4}:sum(1, {out = fokus.zeros{1}:expand{4}}) end,
                         'sum: out must have distinct elements')
    assert.error_matches(function() col:expand{2, 4} end, 'expand:.*dimension 1: 3 vs 2')
    assert.has_error(function() col:expand{-1, 3, 4} end, 'expand: size 1 is -1 but the tensor has no dim there')
  end)

  it('squeeze and unsqueeze add and drop size-1 dims as views', function()
    local t = seq{2, 1, 3, 1}
    assert.are.same({2, 3}, t:squeeze():shape())
    assert.are.same({2, 3, 1}, t:squeeze(2):shape())
    assert.are.same({2, 1, 3}, t:squeeze(-1):shape())
    assert.are.same({2, 1, 3, 1}, t:squeeze(1):shape())   -- size 2: unchanged, as torch
    assert.are.same({1, 2, 1, 3, 1}, t:unsqueeze(1):shape())
    assert.are.same({2, 1, 3, 1, 1}, t:unsqueeze(-1):shape())
    assert.are.same({2, 1, 3, 1, 1}, t:unsqueeze(5):shape())
    local s = t:squeeze()
    s:set(2, 3, -1)
    assert.are.equal(-1, t:get(2, 1, 3, 1))
    assert.is_true(t:unsqueeze(2):is_contiguous())
    assert.has_error(function() t:unsqueeze(6) end, 'unsqueeze: dim 6 out of range for a 4-d tensor')
    assert.has_error(function() t:squeeze(5) end, 'squeeze: dim 5 out of range for a 4-d tensor')
  end)

  it('slice is 1-based inclusive like string.sub, counts negatives from the end, steps, and is a view', function()
    local t = seq{2, 10}
    assert.are.same({{3, 4, 5}, {13, 14, 15}}, t:slice(2, 3, 5):totable())
    assert.are.same({{8, 9, 10}, {18, 19, 20}}, t:slice(2, -3, -1):totable())
    assert.are.same({{8, 9, 10}, {18, 19, 20}}, t:slice(-1, -3):totable())
    assert.are.same({{1, 4, 7, 10}}, t:slice(1, 1, 1):slice(2, 1, 10, 3):totable())
    assert.are.same({{9, 10}, {19, 20}}, t:slice(2, 9, 99):totable())   -- clamped, as string.sub
    assert.are.same({2, 0}, t:slice(2, 6, 5):shape())
    assert.are.same({2, 0}, t:slice(2, 20, 30):shape())
    local v = t:slice(2, 2, 10, 2)
    v:set(1, 1, 100)
    assert.are.equal(100, t:get(1, 2))
  end)

  it('slice rejects bad steps and dims', function()
    local t = seq{2, 10}
    assert.error_matches(function() t:slice(2, 1, 5, 0) end, 'slice: step must be >= 1, got 0')
    assert.has_error(function() t:slice(3, 1, 2) end, 'slice: dim 3 out of range for a 2-d tensor')
  end)
end)

describe('index_select', function()
  local t = seq{3, 4}

  it('picks entries along a dim from a Lua list or an integer tensor, repeats allowed', function()
    assert.are.same({{9, 10, 11, 12}, {1, 2, 3, 4}, {9, 10, 11, 12}}, t:index_select(1, {3, 1, 3}):totable())
    assert.are.same({{4, 1}, {8, 5}, {12, 9}}, t:index_select(-1, fokus.tensor({4, 1}, 'i64')):totable())
    assert.are.same({{2}, {6}, {10}}, t:index_select(2, fokus.tensor({2}, 'i32')):totable())
    assert.are.same({3, 0}, t:index_select(2, {}):shape())
    local h = t:to('f16'):transpose(1, 2)
    local s = h:index_select(2, {2})
    assert.are.equal('f16', s:dtype())
    assert.are.same({{5}, {6}, {7}, {8}}, s:totable())
    local out = fokus.zeros{2, 4}
    assert.are.equal(out, t:index_select(1, {2, 2}, {out = out}))
    assert.are.same({{5, 6, 7, 8}, {5, 6, 7, 8}}, out:totable())
  end)

  it('checks bounds and index types with clear errors', function()
    assert.has_error(function() t:index_select(1, {1, 4}) end,
                     'index_select: index 4 (entry 2) out of range 1..3 for dim 1')
    assert.has_error(function() t:index_select(2, {0}) end,
                     'index_select: index 0 (entry 1) out of range 1..4 for dim 2')
    assert.error_matches(function() t:index_select(1, {1.5}) end, 'index_select: idx: entry 1 must be an integer, got 1.5')
    assert.error_matches(function() t:index_select(1, fokus.tensor{1, 2}) end,
                         'index_select: idx: expected a 1%-d integer tensor or a list of integers, got f32 2')
    assert.has_error(function() t:index_select(3, {1}) end, 'index_select: dim 3 out of range for a 2-d tensor')
  end)
end)
