-- Element-wise tensor ops from Lua against the machine's memory bandwidth, both
-- measured in this process, in this run.
--
--   build/fokus tests/bench/bench_ops.lua BENCHDIR [quick|full] [FILTER]
--   FILTER (a plain substring of the row names, e.g. "gelu"): only those rows, for
--   short A/B runs while tuning one kernel.
--   BENCHDIR holds blasbase.so (tests/bench/lblasbase.c: blasbase.stream, a STREAM-like
--   copy and triad in C on 2 threads with plain stores).
--
-- Each op is called as a script calls it: a new result tensor per call (from the
-- caching allocator), dead results left to the collector. Bytes moved per call are the
-- inputs read plus the result written (f32: 4 bytes, bool: 1), as STREAM counts them.
-- Robustness on a shared machine: every round times a short STREAM triad and copy and
-- then a block of calls back to back, and the figure is the median over rounds of the
-- op's rate divided by the best bandwidth of its own round, so a busy moment hits both.
-- Target (issue 9): element-wise ops and reductions at >= 70% of that bandwidth.

local fokus = require "fokus"
local dir = arg[1] or "build/bench"
package.cpath = dir .. "/?.so;" .. package.cpath
local bb = require "blasbase"
local quick = arg[2] == "quick"
local filter = arg[3]

local THREADS = 2
local ROUNDS = quick and 3 or 5
local TARGET = 0.70
local STREAM_BYTES = 128 * 2 ^ 20 -- per array: well past the last-level cache
fokus.threads(THREADS)

local function median(t)
  local s = {}
  for i = 1, #t do s[i] = t[i] end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return 0.5 * (s[n / 2] + s[n / 2 + 1])
end

local function bandwidth()
  local copy, triad = bb.stream(STREAM_BYTES, THREADS, 2)
  return math.max(copy, triad), copy, triad
end

local bw0, copy0, triad0 = bandwidth()
print(string.format("memory bandwidth (STREAM-like, %d threads, %d MiB arrays): copy %.1f GB/s, triad %.1f GB/s",
  THREADS, STREAM_BYTES / 2 ^ 20, copy0, triad0))
print(string.format("\n%-26s %10s %9s %9s %8s %8s", "op (from Lua, new result)", "elements", "ms", "GB/s", "bw GB/s",
  "% of bw"))

local results = {}

-- fn() makes one call; bytes per call
local function row(name, n, bytes, fn)
  if filter and not string.find(name, filter, 1, true) then return end
  fn(); fn() -- warm-up: the allocator's cache holds the result's block from here on
  local rates, ratios, times, bws = {}, {}, {}, {}
  for r = 1, ROUNDS do
    local bw = bandwidth()
    local calls = 3
    local t0 = fokus.clock()
    for _ = 1, calls do fn() end
    local t = (fokus.clock() - t0) / calls
    times[r], rates[r], bws[r] = t, bytes / t / 1e9, bw
    ratios[r] = rates[r] / bw
  end
  local ratio = median(ratios)
  results[#results + 1] = {name = name, ratio = ratio}
  print(string.format("%-26s %10d %9.2f %9.1f %8.1f %7.0f%%  %s", name, n, median(times) * 1e3, median(rates),
    median(bws), ratio * 100, ratio >= TARGET and "met" or "NOT MET"))
  io.stdout:flush()
  collectgarbage()
end

local sizes = quick and {16 * 2 ^ 20} or {16 * 2 ^ 20, 64 * 2 ^ 20}
for _, n in ipairs(sizes) do
  local a = fokus.randn({n}, {seed = 1})
  local b = fokus.randn({n}, {seed = 2})
  local mask = a:gt(0)
  local label = string.format("%dM", n / 2 ^ 20)
  row("a + b  " .. label, n, 12 * n, function() return a + b end)
  row("a * 2  " .. label, n, 8 * n, function() return a * 2 end)
  row("a:exp()  " .. label, n, 8 * n, function() return a:exp() end)
  row("a:gelu()  " .. label, n, 8 * n, function() return a:gelu() end)
  row("where(m, a, b)  " .. label, n, 13 * n, function() return fokus.where(mask, a, b) end)
  -- reductions and softmax come with the other half of issue 9's ops
  if a.sum then
    row("a:sum()  " .. label, n, 4 * n, function() return a:sum() end)
    if a.mean then row("a:mean()  " .. label, n, 4 * n, function() return a:mean() end) end
    if a.max then row("a:max()  " .. label, n, 4 * n, function() return a:max() end) end
    if a.softmax then
      local m = a:reshape{n / 4096, 4096}
      row("softmax(2) [n/4096,4096]", n, 8 * n, function() return m:softmax(2) end)
    end
  end
  a, b, mask = nil, nil, nil
  collectgarbage()
  fokus.memory{release = true}
end

print(string.format("\ntargets (from Lua, this run; bandwidth = best of STREAM copy and triad in the same round)"))
local met = 0
for _, r in ipairs(results) do
  if r.ratio >= TARGET then met = met + 1 end
end
print(string.format("  %d of %d ops at >= %.0f%% of the memory bandwidth", met, #results, TARGET * 100))
