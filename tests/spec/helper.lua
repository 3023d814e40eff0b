-- Loaded by busted before the specs: makes `require "fokus"` resolve to this checkout
-- (the freshly built C module and the Lua facade), and offers small shared helpers.
local root = os.getenv('FOKUS_ROOT') or '.'
local build = os.getenv('FOKUS_BUILD') or (root .. '/build')
package.path = root .. '/nodes/?.lua;' .. root .. '/nodes/?/init.lua;' .. package.path
package.cpath = build .. '/lua/?.so;' .. package.cpath

local H = {}

-- The oracle directory, or nil: specs that need it call H.shared() and skip with a
-- clear message when it is absent.
function H.shared()
  local dir = os.getenv('FOKUS_SHARED') or (root .. '/../shared')
  local f = io.open(dir .. '/oracles/README.md', 'r')
  if not f then return nil end
  f:close()
  return dir
end

-- max |a - b| over all elements of two tensors of the same shape.
function H.maxdiff(a, b)
  local ta, tb = a:reshape{-1}:totable(), b:reshape{-1}:totable()
  assert(#ta == #tb, 'sizes differ: ' .. #ta .. ' vs ' .. #tb)
  local m = 0
  for i = 1, #ta do
    local d
    if ta[i] == tb[i] then d = 0 else d = math.abs(ta[i] - tb[i]) end
    if d ~= d then return math.huge end
    if d > m then m = d end
  end
  return m
end

function H.maxabs(a)
  local m = 0
  for _, v in ipairs(a:reshape{-1}:totable()) do
    if math.abs(v) > m then m = math.abs(v) end
  end
  return m
end

_G.fokus_test = H
return H
