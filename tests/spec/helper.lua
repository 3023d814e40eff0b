-- Loaded by busted before the specs: makes `require "fokus"` resolve to this checkout
-- (the freshly built C module and the Lua facade), and offers small shared helpers.
local root = os.getenv('FOKUS_ROOT') or '.'
local build = os.getenv('FOKUS_BUILD') or (root .. '/build')
package.path = root .. '/nodes/?.lua;' .. root .. '/nodes/?/init.lua;' .. package.path
-- The module built for this interpreter (make LUA=luajit|5.2|5.3|5.4): build/luajit/,
-- build/lua5.2/, build/lua5.3/, or build/ itself for 5.4.
local sub = (rawget(_G, 'jit') and '/luajit') or (_VERSION == 'Lua 5.4' and '') or
  ('/lua' .. _VERSION:match('%d+%.%d+'))
package.cpath = build .. sub .. '/lua/?.so;' .. package.cpath

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

-- The specs run under Lua 5.4, 5.3, 5.2 and LuaJIT (the 5.1 language): these smooth
-- over what differs. H.integers: the interpreter has an integer subtype (5.3+).
H.integers = math.type ~= nil
H.unpack = table.unpack or rawget(_G, 'unpack')

-- An integer as fokus returns it: math.type 'integer' where that exists, else an
-- integral number (LuaJIT and 5.2 have doubles only).
function H.is_integer(x)
  if H.integers then return math.type(x) == 'integer' end
  return type(x) == 'number' and x == math.floor(x)
end

-- n (0 <= n < 2^53) as 8 little-endian bytes, i.e. string.pack('<I8', n) (5.3+ only).
function H.u64le(n)
  local b = {}
  for i = 1, 8 do
    b[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(b)
end

_G.fokus_test = H
return H
