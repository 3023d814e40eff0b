local fokus = require 'fokus'
require 'tests.spec.helper'

local nan = 0 / 0
local function isnan(x) return x ~= x end

-- every element of a nested table NaN (want true) or finite (want false)
local function all(t, want)
  if type(t) == 'table' then
    for i = 1, #t do
      if not all(t[i], want) then return false end
    end
    return true
  end
  if want then return isnan(t) end
  return t == t and t ~= math.huge and t ~= -math.huge
end

describe('fokus.attend with NaN inputs', function()
  local k = fokus.randn({1, 2, 4}, {seed = 2})
  local v = fokus.randn({1, 2, 4}, {seed = 3})

  it('a NaN query gives a NaN row (out, lse, probs), the other rows stay finite', function()
    local q = fokus.tensor({{{nan, 1, 1, 1}, {1, 1, 1, 1}}})
    local o, l, p = fokus.attend(q, k, v, {lse = true, probs = true})
    o, l, p = o:totable(), l:totable(), p:totable()
    assert.is_true(all(o[1][1], true) and isnan(l[1][1]) and all(p[1][1], true))
    assert.is_true(all(o[1][2], false) and all(l[1][2], false) and all(p[1][2], false))
    -- through a softcap score_mod too
    o = fokus.attend(q, k, v, {score_mod = fokus.mods.softcap(5)}):totable()
    assert.is_true(all(o[1][1], true) and all(o[1][2], false))
  end)

  it('a NaN key poisons the rows that see it, not the rows where it is masked', function()
    local q = fokus.randn({1, 2, 4}, {seed = 4})
    local kn = fokus.tensor({{{1, 0, 0, 1}, {0, nan, 1, 1}}})
    -- causal: query 1 sees only key 1
    local o = fokus.attend(q, kn, v, {causal = true}):totable()
    assert.is_true(all(o[1][1], false) and all(o[1][2], true))
    -- a boolean mask hiding key 2 from query 2
    local mask = fokus.tensor({{true, true}, {true, false}}, 'bool')
    o = fokus.attend(q, kn, v, {mask = mask}):totable()
    assert.is_true(all(o[1][1], true) and all(o[1][2], false))
  end)

  -- (rows that do not see that key may get NaN too: 0 * NaN, as in PyTorch's matmul)
  it('NaN in v reaches the rows that see that key', function()
    local q = fokus.randn({1, 2, 4}, {seed = 4})
    local vn = fokus.tensor({{{1, 2, 3, 4}, {nan, 0, 0, 0}}})
    local o, l = fokus.attend(q, k, vn, {causal = true, lse = true})
    o, l = o:totable(), l:totable()
    assert.is_true(isnan(o[1][2][1]) and all(l, false))
  end)

  it('softmax, log_softmax and tanh keep NaN', function()
    local x = fokus.tensor({nan, 1, 2})
    assert.is_true(all(x:softmax(1):totable(), true))
    assert.is_true(all(x:log_softmax(1):totable(), true))
    assert.is_true(isnan(x:tanh():totable()[1]))
  end)
end)
