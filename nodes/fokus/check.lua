-- Names a user typed against the names that exist: "did you mean" suggestions and
-- option tables that reject unknown keys, shared by the Lua side (sample.lua, the
-- node graph, workflows).
local M = {}

-- Levenshtein distance between two strings (bytes).
function M.distance(a, b)
  local la, lb = #a, #b
  local row = {}
  for j = 0, lb do row[j] = j end
  for i = 1, la do
    local diag = row[0]
    row[0] = i
    for j = 1, lb do
      local up = row[j]
      local best = diag + ((a:sub(i, i) == b:sub(j, j)) and 0 or 1)
      if up + 1 < best then best = up + 1 end
      if row[j - 1] + 1 < best then best = row[j - 1] + 1 end
      row[j] = best
      diag = up
    end
  end
  return row[lb]
end

-- Raises "fname: unknown option 'x' (did you mean 'y'?)" for keys outside `known`.
function M.checkopts(fname, opts, known, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(fname .. ": options must be a table, got " .. type(opts), level + 1)
  end
  for k in pairs(opts) do
    if type(k) ~= "string" then
      error(fname .. ": option keys must be strings, got " .. type(k), level + 1)
    end
    local ok, best, bestd = false, nil, 99
    for _, name in ipairs(known) do
      if name == k then ok = true end
      local d = M.distance(name, k)
      if d < bestd then best, bestd = name, d end
    end
    if not ok then
      if bestd <= 2 then
        error(string.format("%s: unknown option '%s' (did you mean '%s'?)", fname, k, best), level + 1)
      end
      error(string.format("%s: unknown option '%s' (known: %s)", fname, k, table.concat(known, ", ")), level + 1)
    end
  end
  return opts
end

-- " (did you mean 'x'?)" when `name` is close to one of `names`, else " (what: a, b, c)"
-- for short lists, else "".
function M.suggest(name, names, what)
  local best, bestd = nil, 99
  for _, n in ipairs(names) do
    local d = M.distance(n, name)
    if d < bestd then best, bestd = n, d end
  end
  if best and bestd < #name and bestd <= math.max(2, math.floor(#name / 3)) then
    return string.format(" (did you mean '%s'?)", best)
  end
  if #names == 0 or #names > 12 then return "" end
  return string.format(" (%s: %s)", what, table.concat(names, ", "))
end

return M
