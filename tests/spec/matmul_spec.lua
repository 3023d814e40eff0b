local fokus = require 'fokus'
local H = require 'tests.spec.helper'

local function naive(a, b) -- a [M,K], b [K,N] as tables
  local c = {}
  for i = 1, #a do
    c[i] = {}
    for j = 1, #b[1] do
      local s = 0
      for k = 1, #b do s = s + a[i][k] * b[k][j] end
      c[i][j] = s
    end
  end
  return c
end

describe('matmul and linear', function()
  it('matmul matches a naive product, batched with broadcasting', function()
    local a = fokus.randn({2, 7, 5}, {seed = 1})
    local b = fokus.randn({5, 3}, {seed = 2})
    local c = fokus.matmul(a, b)
    assert.are.same({2, 7, 3}, c:shape())
    local at, bt, ct = a:totable(), b:totable(), c:totable()
    for n = 1, 2 do
      local ref = naive(at[n], bt)
      for i = 1, 7 do for j = 1, 3 do assert.is_true(math.abs(ct[n][i][j] - ref[i][j]) < 1e-5) end end
    end
    assert.error_matches(function() fokus.matmul(a, fokus.randn{4, 3}) end, '5.*4')
  end)

  it('linear is x·wᵀ + b with f16 weights used as they are', function()
    local x = fokus.randn({3, 16}, {seed = 3})
    local w = fokus.randn({8, 16}, {seed = 4})
    local b = fokus.randn({8}, {seed = 5})
    local y = fokus.linear(x, w, b)
    local ref = fokus.matmul(x, w:transpose(1, 2))
    local bt, rt, yt = b:totable(), ref:totable(), y:totable()
    for i = 1, 3 do for j = 1, 8 do assert.is_true(math.abs(yt[i][j] - rt[i][j] - bt[j]) < 1e-5) end end
    local w16 = w:to('f16')
    local y16 = fokus.linear(x, w16)
    local ref16 = fokus.matmul(x, w16:to('f32'):transpose(1, 2))
    assert.is_true(H.maxdiff(y16, ref16) < 1e-5)
    assert.error_matches(function() fokus.linear(x, fokus.randn{8, 15}) end, '16.*15')
    assert.error_matches(function() fokus.linear(x, 'w') end, "bad argument #2 to 'linear'")
  end)
  it('matmul takes b as [K,N], as a transposed [N,K] view or with no unit stride: one result', function()
    local M, K, N = 77, 40, 70
    local a = fokus.randn({M, K}, {seed = 7})
    local w = fokus.randn({N, K}, {seed = 8}) -- the Linear layout
    local bkn = w:transpose(1, 2):contiguous() -- the same matrix as [K,N]
    local rows, wt = {}, bkn:totable()
    for k = 1, K do
      rows[k] = {}
      for n = 1, N do rows[k][n] = {0, wt[k][n]} end
    end
    local strided = fokus.tensor(rows):select(3, 2) -- [K,N], strides (2N, 2)
    assert.is_false(strided:is_contiguous())
    local c1 = fokus.matmul(a, bkn)
    -- every layout is packed into the same panels for the same kernel: equal bits
    assert.are.equal(0, H.maxdiff(c1, fokus.matmul(a, w:transpose(1, 2))))
    assert.are.equal(0, H.maxdiff(c1, fokus.matmul(a, strided)))
    assert.are.equal(0, H.maxdiff(c1, fokus.linear(a, w)))
    assert.are.equal(0, H.maxdiff(c1, fokus.linear(a, strided:transpose(1, 2))))
    local ref, ct = naive(a:totable(), wt), c1:totable()
    for i = 1, M do for j = 1, N do assert.is_true(math.abs(ct[i][j] - ref[i][j]) < 1e-4) end end
  end)
end)
