-- Differential test of fokus.prompt_and + fokus.prompt_schedule against A1111: the rows of
-- tests/data/schedule_diff.jsonl were produced once by tools/gen_schedule_diff.py with
-- A1111's own lark grammar (see its docstring); no Python runs here.
local fokus = require 'fokus'
local json = require 'dkjson' -- shipped with Debian's lua-busted

local root = os.getenv('FOKUS_ROOT') or '.'
local FIXTURE = root .. '/tests/data/schedule_diff.jsonl'

local function show(s)
  return (string.format('%q', s):gsub('\n', 'n'))
end

-- fokus's result for one prompt, in the fixture's shape.
local function ours(prompt, steps)
  local parts = {}
  for _, p in ipairs(fokus.prompt_and(prompt)) do
    local part = {prompt = p.prompt, weight = p.weight}
    local ok, s = pcall(fokus.prompt_schedule, p.prompt, steps)
    if ok then
      part.schedule = {}
      for i, e in ipairs(s) do part.schedule[i] = {e.steps, e.prompt} end
    else
      part.error = tostring(s)
    end
    parts[#parts + 1] = part
  end
  return parts
end

-- nil when equal, else a description of the first difference
local function diff(want, got)
  if #want ~= #got then return 'AND parts: ' .. #want .. ' vs ' .. #got end
  for i, w in ipairs(want) do
    local g = got[i]
    if w.prompt ~= g.prompt then return 'part ' .. i .. ' text ' .. show(w.prompt) .. ' vs ' .. show(g.prompt) end
    if w.weight ~= g.weight then return 'part ' .. i .. ' weight ' .. w.weight .. ' vs ' .. g.weight end
    if w.error or g.error then
      -- A1111 raises OverflowError (int() of an infinite float): fokus raises too
      if not (w.error and g.error and g.error:find(w.error, 1, true)) then
        return 'part ' .. i .. ' error ' .. tostring(w.error) .. ' vs ' .. tostring(g.error)
      end
    else
      if #w.schedule ~= #g.schedule then
        return 'part ' .. i .. ' entries ' .. #w.schedule .. ' vs ' .. #g.schedule
      end
      for k, e in ipairs(w.schedule) do
        local h = g.schedule[k]
        if e[1] ~= h[1] or e[2] ~= h[2] then
          return string.format('part %d entry %d: [%d, %s] vs [%d, %s]', i, k, e[1], show(e[2]), h[1], show(h[2]))
        end
      end
    end
  end
  return nil
end

describe('prompt_schedule against A1111 (tests/data/schedule_diff.jsonl)', function()
  it('agrees on every generated prompt (any of the results A1111 gives when it depends on the hash seed)', function()
    local n, nvar, bad = 0, 0, {}
    for line in io.lines(FIXTURE) do
      local r = assert(json.decode(line))
      if not r.meta then
        n = n + 1
        local got = ours(r.prompt, r.steps)
        local why
        if r.variants then
          nvar = nvar + 1
          for _, v in ipairs(r.variants) do
            why = diff(v, got)
            if not why then break end
          end
        else
          why = diff(r.parts, got)
        end
        if why then bad[#bad + 1] = show(r.prompt) .. ' steps ' .. r.steps .. ': ' .. why end
      end
    end
    assert.is_true(n >= 1000, 'fixture has only ' .. n .. ' rows')
    assert.is_true(nvar < n / 5, nvar .. ' of ' .. n .. ' rows depend on the hash seed')
    local first = {}
    for i = 1, math.min(#bad, 15) do first[i] = bad[i] end
    assert.are.same({}, first, #bad .. ' of ' .. n .. ' rows differ')
  end)
end)
