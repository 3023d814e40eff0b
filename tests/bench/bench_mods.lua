-- Custom attention variants from Lua (issue 9): traced mods against the plain kernel
-- at (8, 4096, 4096, 64), 2 threads. Each figure is the median over ROUNDS rounds; a
-- round times every variant once, interleaved, so a busy moment hits them alike. The
-- block masks are built once before timing (as a script reuses them; the build time
-- is printed on its own).
--   build/fokus tests/bench/bench_mods.lua [rounds] [N]
local fokus = require "fokus"

local ROUNDS = tonumber(arg and arg[1]) or 5
local N = tonumber(arg and arg[2]) or 4096
local H, D = 8, 64
fokus.threads(2)

local function median(t)
  local s = {}
  for i = 1, #t do s[i] = t[i] end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return 0.5 * (s[n / 2] + s[n / 2 + 1])
end

local q = fokus.randn({H, N, D}, {seed = 1})
local k = fokus.randn({H, N, D}, {seed = 2})
local v = fokus.randn({H, N, D}, {seed = 3})

local softcap = fokus.score_mod(function(s) return 30 * fokus.tanh(s / 30) end)
local window = fokus.mask_mod(function(b, h, qi, ki) return ki:le(qi):logical_and((qi - ki):lt(256)) end)
local alibi = fokus.mods.alibi(fokus.mods.alibi_slopes(H))

local t0 = fokus.clock()
local window_bm = fokus.block_mask(window, 1, H, N, N)
local t_bm = fokus.clock() - t0

local cases = {
  {name = "plain", opts = {}},
  {name = "softcap", opts = {score_mod = softcap}},
  {name = "causal", opts = {causal = true}},
  {name = "window", opts = {mask_mod = window, block_mask = window_bm}},
  {name = "alibi+causal", opts = {score_mod = alibi, causal = true}},
}
local times = {}
for _, c in ipairs(cases) do
  times[c.name] = {}
  fokus.attend(q, k, v, c.opts) -- warm-up
end
for _ = 1, ROUNDS do
  for _, c in ipairs(cases) do
    local s = fokus.clock()
    local o = fokus.attend(q, k, v, c.opts)
    times[c.name][#times[c.name] + 1] = fokus.clock() - s
    o:close()
  end
end
local m = {}
for _, c in ipairs(cases) do m[c.name] = median(times[c.name]) end

print(string.format("attend (1, %d, %d, %d, %d), 2 threads, medians of %d interleaved rounds", H, N, N, D, ROUNDS))
for _, c in ipairs(cases) do print(string.format("  %-14s %8.1f ms", c.name, m[c.name] * 1e3)) end
print(string.format("  block_mask(window 256 + causal) built once in %.1f ms", t_bm * 1e3))
local function verdict(ok) return ok and "met" or "NOT MET" end
local r1 = m.softcap / m.plain
local r2 = m.plain / m.window
local r3 = m["alibi+causal"] / m.causal
print(string.format("  softcap 30*tanh(s/30) / plain      = %.2fx (target <= 1.30x)  %s", r1, verdict(r1 <= 1.3)))
print(string.format("  full / (window 256 + causal)       = %.1fx (target >= 6x)    %s", r2, verdict(r2 >= 6)))
print(string.format("  (alibi + causal) / plain causal    = %.2fx (target <= 1.15x)  %s", r3, verdict(r3 <= 1.15)))
