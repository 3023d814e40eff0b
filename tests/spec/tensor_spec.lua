local fokus = require 'fokus'
local H = require 'tests.spec.helper'

describe('tensors', function()
  it('build from nested tables and read back', function()
    local t = fokus.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.are.same({2, 3}, t:shape())
    assert.are.equal('f32', t:dtype())
    assert.are.equal(6, t:numel())
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, t:totable())
    assert.are.equal(6, t:get(2, 3))
    assert.are.equal('fokus.Tensor(f32, 2x3)', tostring(t))
  end)

  it('keeps integers exact and returns them as Lua integers', function()
    -- exact beyond 2^53 where Lua has integers (5.3+); LuaJIT numbers are doubles
    local big = H.integers and 9007199254740993 or 9007199254740991
    local t = fokus.tensor({big, -5}, 'i64')
    local v = t:totable()
    assert.are.equal(big, v[1])
    assert.is_true(H.is_integer(v[2]))
    assert.are.equal(-5, v[2])
    if H.integers then
      assert.are.equal('integer', math.type(v[1]))
      assert.are.equal('integer', math.type(fokus.tensor({7}, 'u8'):item()))
      assert.are.equal('float', math.type(fokus.tensor({7}):item()))
    end
    assert.are.same({1, 0, 1}, fokus.tensor({true, false, 2}, 'bool'):totable())
  end)

  it('rejects ragged tables, bad elements and bad dtypes with clear errors', function()
    assert.has_error(function() fokus.tensor{{1, 2}, {3}} end,
      'tensor: ragged nested table at [2] (expected 2 elements, got 1)')
    assert.error_matches(function() fokus.tensor{1, 'x'} end, 'element %[2%] is string')
    assert.error_matches(function() fokus.tensor({1.5}, 'i32') end, 'not an integer')
    assert.error_matches(function() fokus.tensor({300}, 'u8') end, 'does not fit u8')
    assert.error_matches(function() fokus.zeros({2}, 'f64') end, "unknown dtype 'f64'")
    assert.error_matches(function() fokus.zeros{2, -1} end, 'non%-negative')
    assert.error_matches(function() fokus.zeros(3) end, 'shape must be a table')
  end)

  it('randn is reproducible by seed and has unit variance', function()
    local a = fokus.randn({1000}, {seed = 7}):totable()
    local b = fokus.randn({1000}, {seed = 7}):totable()
    local c = fokus.randn({1000}, {seed = 8}):totable()
    assert.are.same(a, b)
    assert.are_not.same(a, c)
    local m, s = 0, 0
    for _, v in ipairs(a) do m = m + v end
    m = m / #a
    for _, v in ipairs(a) do s = s + (v - m) ^ 2 end
    assert.is_true(math.abs(m) < 0.1 and math.abs(s / #a - 1) < 0.15)
    -- the fixed stream: these numbers are the same on every machine and build
    local r = fokus.randn({3}, {seed = 42}):totable()
    assert.are.equal(-0.97018981, tonumber(string.format('%.8f', r[1])))
    assert.error_matches(function() fokus.randn({2}, {sed = 1}) end, "did you mean 'seed'")
    assert.error_matches(function() fokus.randn({2}, {seed = 1.5}) end, 'must be an integer')
  end)

  it('views share storage and keep the parent alive', function()
    local t = fokus.tensor{{1, 2, 3}, {4, 5, 6}}
    local p = t:permute{2, 1}
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, p:totable())
    assert.is_false(p:is_contiguous())
    local n = t:narrow(2, 2, 2)
    assert.are.same({{2, 3}, {5, 6}}, n:totable())
    t:set(1, 2, 20)
    assert.are.equal(20, n:get(1, 1)) -- a view, not a copy
    t = nil
    collectgarbage()
    collectgarbage()
    assert.are.same({{20, 3}, {5, 6}}, n:totable())
    assert.are.same({3, 6}, p:select(1, 3):totable())
    assert.are.same({{1, 4}, {20, 5}, {3, 6}}, p:transpose(1, 2):transpose(2, 1):totable())
  end)

  it('reshape, contiguous, clone and to', function()
    local t = fokus.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.are.same({{1, 2}, {3, 4}, {5, 6}}, t:reshape{3, -1}:totable())
    assert.are.same({1, 4, 2, 5, 3, 6}, t:permute{2, 1}:reshape{6}:totable())
    assert.error_matches(function() t:reshape{4, -1} end, 'cannot infer')
    assert.error_matches(function() t:reshape{7} end, 'shape has 7 elements')
    local c = t:clone()
    c:set(1, 1, 100)
    assert.are.equal(1, t:get(1, 1))
    local h = fokus.tensor{1.0009765625, 65504, 1e6}:to('f16')
    assert.are.equal('f16', h:dtype())
    assert.are.same({1.0009765625, 65504, math.huge}, h:totable())
    assert.are.same({1, 2}, fokus.tensor{1.7, 2.2}:to('i32'):totable())
    assert.error_matches(function() fokus.tensor{0/0}:to('i32') end, 'does not fit i32')
    assert.error_matches(function() t:permute{1, 1} end, 'permutation')
    assert.error_matches(function() t:narrow(3, 1, 1) end, 'dim must be in 1..2')
    assert.error_matches(function() t:narrow(1, 2, 5) end, 'outside dimension 1')
  end)

  it('close releases early and is idempotent (also through <close>)', function()
    local t = fokus.zeros{4}
    t:close()
    t:close()
    assert.are.equal('fokus.Tensor(closed)', tostring(t))
    assert.error_matches(function() t:numel() end, 'closed')
    -- `<close>` is Lua 5.4 syntax: compiled from a string there only
    if _VERSION == 'Lua 5.4' then
      local chunk = assert(load('local fokus = ...; local u <close> = fokus.ones{2}; return u, u:totable()'))
      local u, values = chunk(fokus)
      assert.are.same({1, 1}, values)
      assert.are.equal('fokus.Tensor(closed)', tostring(u))
    end
    -- the metamethod is there for every host (harmless before 5.4)
    local u = fokus.ones{2}
    getmetatable(u).__close(u)
    assert.are.equal('fokus.Tensor(closed)', tostring(u))
  end)

  it('threads and clock', function()
    local n = fokus.threads()
    assert.is_true(n >= 1)
    assert.are.equal(1, fokus.threads(1))
    assert.are.equal(2, fokus.threads(2))
    fokus.threads(n)
    assert.error_matches(function() fokus.threads(-1) end, 'threads')
    local t0 = fokus.clock()
    assert.is_true(fokus.clock() >= t0)
    assert.is_string(fokus.version)
  end)
end)
