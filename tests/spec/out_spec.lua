local fokus = require 'fokus'
local H = require 'tests.spec.helper'

describe('opts.out', function()
  local a = fokus.randn({5, 7}, {seed = 1})
  local b = fokus.randn({7, 3}, {seed = 2})

  it('matmul writes into out and returns that same object', function()
    local ref = fokus.matmul(a, b)
    local o = fokus.zeros{5, 3}
    local r = fokus.matmul(a, b, {out = o})
    assert.are.equal(o, r)
    assert.are.equal(0, H.maxdiff(ref, o))
    -- a transposed view: the values land through its strides
    local t = fokus.zeros{3, 5}
    local tv = t:transpose(1, 2)
    assert.are.equal(tv, fokus.matmul(a, b, {out = tv}))
    assert.are.equal(0, H.maxdiff(ref:transpose(1, 2):contiguous(), t))
    -- a narrowed view (row stride 9): the columns around it stay as they were
    local wide = fokus.ones{5, 9}
    local nv = wide:narrow(2, 4, 3)
    fokus.matmul(a, b, {out = nv})
    assert.are.equal(0, H.maxdiff(ref, nv))
    assert.are.equal(1, wide:get(1, 3))
    assert.are.equal(1, wide:get(5, 7))
  end)

  it('linear takes out with or without a bias', function()
    local w = fokus.randn({3, 7}, {seed = 3})
    local bias = fokus.randn({3}, {seed = 4})
    local o = fokus.zeros{5, 3}
    assert.are.equal(o, fokus.linear(a, w, bias, {out = o}))
    assert.are.equal(0, H.maxdiff(fokus.linear(a, w, bias), o))
    local o2 = fokus.zeros{3, 5}:transpose(1, 2)
    assert.are.equal(o2, fokus.linear(a, w, {out = o2}))
    assert.are.equal(0, H.maxdiff(fokus.linear(a, w), o2))
  end)

  it('attend writes heads merged into a [B, N, H*dv] buffer as a [B, H, N, dv] view', function()
    local q = fokus.randn({1, 2, 6, 4}, {seed = 5})
    local k = fokus.randn({1, 2, 9, 4}, {seed = 6})
    local v = fokus.randn({1, 2, 9, 4}, {seed = 7})
    local ref, lse = fokus.attend(q, k, v, {lse = true})
    local buf = fokus.zeros{1, 6, 8}
    local view = buf:reshape{1, 6, 2, 4}:permute{1, 3, 2, 4}
    local o, l2 = fokus.attend(q, k, v, {out = view, lse = true})
    assert.are.equal(view, o)
    assert.are.equal(0, H.maxdiff(ref, view))
    assert.are.equal(0, H.maxdiff(lse, l2))
    assert.are.equal(0, H.maxdiff(ref:permute{1, 3, 2, 4}:contiguous():reshape{1, 6, 8}, buf))
  end)

  it('creation and copies take out', function()
    local o = fokus.randn{2, 3}
    assert.are.equal(o, fokus.zeros({2, 3}, {out = o}))
    assert.are.same({{0, 0, 0}, {0, 0, 0}}, o:totable())
    assert.are.equal(o, fokus.ones({2, 3}, 'f32', {out = o}))
    assert.are.same({{1, 1, 1}, {1, 1, 1}}, o:totable())
    local i = fokus.zeros({3, 2}, 'i32'):transpose(1, 2)
    fokus.ones({2, 3}, 'i32', {out = i})
    assert.are.same({{1, 1, 1}, {1, 1, 1}}, i:totable())
    assert.are.equal(o, fokus.randn({2, 3}, {seed = 9, out = o}))
    assert.are.equal(0, H.maxdiff(fokus.randn({2, 3}, {seed = 9}), o))
    local src = fokus.randn({2, 3}, {seed = 10})
    local c = fokus.zeros{3, 2}:transpose(1, 2)
    assert.are.equal(c, src:clone{out = c})
    assert.are.equal(0, H.maxdiff(src, c))
    local h = fokus.zeros({2, 3}, 'f16')
    assert.are.equal(h, src:to('f16', {out = h}))
    assert.are.equal(0, H.maxdiff(src:to('f16'), h))
    local d = fokus.zeros{2, 3}
    assert.are.equal(d, src:transpose(1, 2):transpose(1, 2):contiguous{out = d})
    assert.are.equal(0, H.maxdiff(src, d))
  end)

  it('weight takes out', function()
    local hidden = fokus.randn({1, 77, 8}, {seed = 11})
    local w = {}
    for i = 1, 77 do w[i] = 1 + (i % 3) * 0.1 end
    local o = fokus.zeros{1, 77, 8}
    assert.are.equal(o, fokus.weight(hidden, w, {out = o}))
    assert.are.equal(0, H.maxdiff(fokus.weight(hidden, w), o))
  end)

  it('rejects a wrong shape, dtype, non-tensor, closed tensor or overlap', function()
    assert.error_matches(function() fokus.matmul(a, b, {out = fokus.zeros{3, 5}}) end,
      'matmul: out must be f32 5x3, got f32 3x5')
    assert.error_matches(function() fokus.matmul(a, b, {out = fokus.zeros({5, 3}, 'f16')}) end,
      'matmul: out must be f32 5x3, got f16 5x3')
    assert.error_matches(function() fokus.matmul(a, b, {out = 5}) end,
      "matmul: option 'out' must be a fokus.Tensor, got number")
    local closed = fokus.zeros{5, 3}
    closed:close()
    assert.error_matches(function() fokus.matmul(a, b, {out = closed}) end, "matmul: option 'out' is a closed tensor")
    assert.error_matches(function() fokus.matmul(a, b, {otu = closed}) end, "did you mean 'out'")
    local q = fokus.randn{2, 6, 4}
    assert.error_matches(function() fokus.attend(q, q, q, {out = fokus.zeros{2, 6, 5}}) end,
      'attend: out must be f32 2x6x4, got f32 2x6x5')
    assert.error_matches(function() fokus.attend(q, q, q, {out = q}) end, 'attend: out overlaps input 1')
    local sq = fokus.randn{7, 7}
    assert.error_matches(function() fokus.matmul(sq, sq, {out = sq}) end, 'matmul: out overlaps input 1')
    assert.error_matches(function() fokus.linear(a, fokus.randn{3, 7}, {out = fokus.zeros{5, 4}}) end,
      'linear: out must be f32 5x3, got f32 5x4')
    assert.error_matches(function() fokus.zeros({2, 3}, {out = fokus.zeros{3, 2}}) end,
      'zeros: out must be f32 2x3, got f32 3x2')
    assert.error_matches(function() fokus.ones({2, 3}, 'i32', {out = fokus.zeros{2, 3}}) end,
      'ones: out must be i32 2x3, got f32 2x3')
    local src = fokus.randn{2, 3}
    assert.error_matches(function() src:clone{out = src} end, 'clone: out overlaps input 1')
    assert.error_matches(function() src:to('f16', {out = fokus.zeros{2, 3}}) end, 'to: out must be f16 2x3, got f32 2x3')
    assert.error_matches(function() fokus.weight(fokus.randn{1, 77, 8}, {}, {out = fokus.zeros{1, 77, 4}}) end,
      'weight: out must be f32 1x77x8, got f32 1x77x4')
  end)
end)
