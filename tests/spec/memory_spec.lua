local fokus = require 'fokus'
local H = require 'tests.spec.helper'

local MiB = 1024 * 1024

-- Resident set size of this process in MiB (Linux), or nil elsewhere.
local function rss()
  local f = io.open('/proc/self/status', 'r')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  local kb = s:match('VmRSS:%s*(%d+)')
  return kb and tonumber(kb) / 1024
end

-- Runs body(i) n times and returns the largest RSS growth seen (MiB) over the RSS
-- before the loop, sampled after every iteration.
local function rss_growth(n, body)
  collectgarbage()
  collectgarbage()
  fokus.memory{release = true}
  local base, top = rss(), 0
  for i = 1, n do
    body(i)
    local r = rss() - base
    if r > top then top = r end
  end
  return top
end

describe('memory', function()
  it('reports live, cached, peak, limit, allocs and reuses', function()
    -- no garbage of earlier specs left for a collection to return in the middle
    collectgarbage()
    collectgarbage()
    local m = fokus.memory{release = true}
    for _, k in ipairs{'live', 'cached', 'peak', 'limit', 'allocs', 'reuses'} do
      assert.is_true(H.is_integer(m[k]), k)
    end
    local t = fokus.zeros{1024, 1024}
    local m1 = fokus.memory()
    assert.is_true(m1.live >= m.live + 4 * MiB - m.cached)
    assert.are.equal(m.allocs + 1, m1.allocs)
    -- close gives the block back to the cache at once; the next tensor of that size reuses it
    t:close()
    local m2 = fokus.memory()
    assert.are.equal(m1.live - 4 * MiB, m2.live)
    assert.is_true(m2.cached >= 4 * MiB)
    local u = fokus.randn({1024, 1024}, {seed = 1})
    local m3 = fokus.memory()
    assert.are.equal(m2.reuses + 1, m3.reuses)
    assert.are.equal(m2.cached - 4 * MiB, m3.cached)
    u:close()
  end)

  it('bounds the cache and releases it on demand', function()
    local old = fokus.memory().limit
    local ts = {}
    for i = 1, 4 do ts[i] = fokus.zeros{256, 1024} end -- 1 MiB each
    for i = 1, 4 do ts[i]:close() end
    assert.is_true(fokus.memory().cached >= 4 * MiB)
    local m = fokus.memory{limit = 2 * MiB}
    assert.are.equal(2 * MiB, m.limit)
    assert.is_true(m.cached <= 2 * MiB)
    m = fokus.memory{release = true}
    assert.are.equal(0, m.cached)
    m = fokus.memory{limit = old, reset_peak = true}
    assert.are.equal(old, m.limit)
    assert.are.equal(m.live, m.peak)
  end)

  it('rejects unknown and bad options', function()
    assert.error_matches(function() fokus.memory{limt = 1} end, "memory: unknown option 'limt' %(did you mean 'limit'%?%)")
    assert.error_matches(function() fokus.memory{limit = -1} end, "memory: option 'limit' must be >= 0")
    assert.error_matches(function() fokus.memory{limit = 'big'} end, "memory: option 'limit' must be an integer")
    assert.error_matches(function() fokus.memory{release = 1} end, "memory: option 'release' must be a boolean")
    assert.error_matches(function() fokus.memory(5) end, 'options: expected a table')
  end)

  it('keeps a loop of 200 matmuls of 2048x2048 that drops its results near its live set', function()
    if not rss() then return pending('no /proc/self/status: RSS cannot be read here') end
    -- K = 64 keeps the arithmetic small; each result is 16 MiB, 3.2 GB over the loop
    local a = fokus.randn({2048, 64}, {seed = 2})
    local b = fokus.randn({64, 2048}, {seed = 3})
    local reuses = fokus.memory().reuses
    local growth = rss_growth(200, function()
      local c = fokus.matmul(a, b)
      assert(c:numel() == 2048 * 2048)
    end)
    print(string.format('\n  200 x matmul 2048x2048: RSS growth %.0f MiB', growth))
    assert.is_true(growth <= 112, string.format('RSS grew by %.0f MiB', growth))
    -- the blocks of dead results were reused, not faulted in afresh
    assert.is_true(fokus.memory().reuses - reuses >= 150)
  end)

  it('keeps a DiT-like loop of mixed sizes near its live set', function()
    if not rss() then return pending('no /proc/self/status: RSS cannot be read here') end
    local D, heads = 256, 4
    local wqkv = fokus.randn({3 * D, D}, {seed = 4, dtype = 'f16'})
    local wo = fokus.randn({D, D}, {seed = 5})
    local w1 = fokus.randn({4 * D, D}, {seed = 6, dtype = 'bf16'})
    local w2 = fokus.randn({D, 4 * D}, {seed = 7})
    local sizes = {1024, 256, 576, 1024, 64}
    local growth = rss_growth(30, function(step)
      local N = sizes[step % #sizes + 1]
      local x = fokus.randn({1, N, D}, {seed = step})
      for _ = 1, 3 do
        local qkv = fokus.linear(x, wqkv):reshape{1, N, 3, heads, D / heads}:permute{3, 1, 4, 2, 5}
        local q, k, v = qkv:select(1, 1), qkv:select(1, 2), qkv:select(1, 3)
        local o = fokus.attend(q, k, v)
        o = o:permute{1, 3, 2, 4}:contiguous():reshape{1, N, D}
        local h = fokus.linear(o, wo)
        local f = fokus.linear(h:to('f16'), w1)
        x = fokus.linear(f, w2):clone()
      end
    end)
    print(string.format('\n  30 DiT-like steps: RSS growth %.0f MiB', growth))
    assert.is_true(growth <= 128, string.format('RSS grew by %.0f MiB', growth))
  end)
end)
