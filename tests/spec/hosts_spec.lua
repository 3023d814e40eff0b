-- fokus in a real application: headless Neovim (LuaJIT inside) runs tests/hosts/nvim.lua,
-- which loads the module built by `make LUA=luajit`, tokenizes a prompt, attends and writes
-- a heat-map PNG. The same computation done here, in the interpreter running the specs,
-- must give the same picture byte for byte.
local fokus = require 'fokus'
local H = require 'tests.spec.helper'

local root = os.getenv('FOKUS_ROOT') or '.'
local build = os.getenv('FOKUS_BUILD') or (root .. '/build')
package.path = root .. '/tests/hosts/?.lua;' .. package.path
local demo = require 'prompt_map'

local function sh(cmd)
  local p = io.popen(cmd .. ' 2>&1; echo "status=$?"')
  local out = p:read('*a')
  p:close()
  return out, tonumber(out:match('status=(%d+)%s*$'))
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

-- big-endian 32-bit unsigned at byte offset i (1-based)
local function u32be(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

describe('application hosts', function()
  it('Neovim loads fokus, tokenizes, attends and writes the same heat-map PNG as this host', function()
    local _, found = sh('command -v nvim >/dev/null')
    if found ~= 0 then
      return pending('nvim not found: the Neovim host test is skipped (apt-get install neovim; make test installs it as root)')
    end
    if not read(build .. '/luajit/lua/fokus/core.so') then
      return pending(build .. '/luajit/lua/fokus/core.so not found: the Neovim host test is skipped (make LUA=luajit)')
    end
    local tmp = os.tmpname()
    local png, vocab = tmp .. '.png', demo.find_vocab(root)
    if not vocab then vocab = demo.write_small_vocab(tmp .. '.vocab.txt', demo.prompt) end

    local out, status = sh(string.format(
      'cd %s && FOKUS_BUILD=%s FOKUS_HOST_VOCAB=%s FOKUS_HOST_OUT=%s timeout 120 ' ..
      "nvim --headless -u NONE -i NONE -c 'luafile tests/hosts/nvim.lua' -c q </dev/null",
      quote(root), quote(build), quote(vocab), quote(png)))
    assert.are.equal(0, status, out)
    assert.matches('fokus [%d.]+ in Neovim [%d.]+, LuaJIT 2%.[%d.]+', out)

    -- the file: PNG signature, then IHDR with the picture's size, and IEND at the end
    local bytes = assert(read(png), 'no PNG written: ' .. out)
    assert.are.equal('\137PNG\r\n\26\n', bytes:sub(1, 8))
    assert.are.equal('IHDR', bytes:sub(13, 16))
    assert.are.equal('IEND', bytes:sub(-8, -5))

    -- the same computation here
    local tok = assert(fokus.tokenizer(vocab))
    local img, labels, map = demo.attention_map(fokus, tok, demo.prompt)
    local shape = img:shape()
    assert.are.equal(shape[2], u32be(bytes, 17)) -- width
    assert.are.equal(shape[1], u32be(bytes, 21)) -- height
    assert.matches(string.format(': %d tokens,', #labels), out, 1, true)
    assert.is_true(shape[1] >= 12 * #labels and shape[2] >= 12 * #labels)
    -- each row of probabilities sums to 1; a repeated word attends to its twin as to itself
    local p, twins = map:totable(), 0
    for i, row in ipairs(p) do
      local s = 0
      for j, v in ipairs(row) do
        s = s + v
        if i ~= j and labels[i] == labels[j] then
          twins = twins + 1
          assert.are.equal(row[i], v)
        end
      end
      assert.is_true(math.abs(s - 1) < 1e-5, 'row ' .. i)
    end
    assert.is_true(twins >= 2)
    local mine = tmp .. '.here.png'
    assert.is_true(fokus.save_png(mine, img))
    assert.is_true(read(mine) == bytes, 'the PNG from Neovim differs from the one made here')

    os.remove(tmp)
    os.remove(png)
    os.remove(mine)
    os.remove(tmp .. '.vocab.txt')
  end)
end)

-- bindings/lcompat.h: the same behaviour and the same error texts under LuaJIT, 5.2, 5.3
-- and 5.4. The messages are compared whole (after the "file:line: " of the call).
describe('every Lua host', function()
  -- the message of the error fn raises; fn calls fokus as a statement, never as a tail
  -- call, so that every host knows the caller's name and line
  local function err(fn)
    local ok, e = pcall(fn)
    assert.is_false(ok, 'no error')
    return (tostring(e):gsub('^[^:]+:%d+: ', ''))
  end

  it('checks integers as Lua 5.4 does', function()
    assert.are.equal("bad argument #1 to 'threads' (number has no integer representation)",
      err(function() local r = fokus.threads(2.5); return r end))
    assert.are.equal("bad argument #1 to 'threads' (number expected, got table)",
      err(function() local r = fokus.threads({}); return r end))
    assert.are.equal("bad argument #1 to 'seed' (number expected, got fokus.Tensor)",
      err(function() local r = fokus.seed(fokus.zeros{1}); return r end))
    assert.are.equal("bad argument #1 to 'zeros' (zeros: shape entry 2 must be a non-negative integer, got 2.5)",
      err(function() local r = fokus.zeros({2, 2.5}); return r end))
    assert.are.equal("randn: option 'seed' must be an integer, got 1.5",
      err(function() local r = fokus.randn({2}, {seed = 1.5}); return r end))
    assert.are.equal('tensor: element [2] is 0.5, not an integer for dtype i64',
      err(function() local r = fokus.tensor({1, 0.5}, 'i64'); return r end))
    -- integral values are integers everywhere, also when computed as floats
    local n = fokus.threads()
    assert.are.equal(3, fokus.threads(6 / 2))
    fokus.threads(n)
    assert.are.same({2, 3}, fokus.zeros{4 / 2, 3}:shape())
  end)

  it('formats numbers in error texts as Lua 5.4 does', function()
    local q = fokus.zeros{1, 2, 4}
    assert.are.equal("attend: option 'scale' must be a non-zero finite number, got 0.0",
      err(function() local r = fokus.attend(q, q, q, {scale = 0}); return r end))
    assert.are.equal('tensor: element [1] (1099511627776) does not fit i32',
      err(function() local r = fokus.tensor({2 ^ 40}, 'i32'); return r end))
    assert.are.equal("memory: option 'limit' must be >= 0 bytes, got -3",
      err(function() local r = fokus.memory({limit = -3}); return r end))
  end)

  it('names userdata by type in argument errors and closes without <close>', function()
    local t = fokus.zeros{2}
    local clip = fokus.clip.tiny{seed = 1, width = 16, layers = 1, heads = 1}
    assert.are.equal("bad argument #1 to 'numel' (self: expected a fokus.Tensor, got userdata)",
      err(function() local r = t.numel(clip); return r end))
    assert.are.equal("bad argument #1 to 'forward' (fokus.CLIP expected, got fokus.Tensor)",
      err(function() local r = clip.forward(t, {{1, 2}}); return r end))
    t:close()
    clip:close()
    assert.are.equal("bad argument #1 to 'numel' (self: tensor is closed)",
      err(function() local r = t.numel(t); return r end))
    assert.are.equal('fokus.CLIP(closed)', tostring(clip))
    local f = io.tmpfile()
    f:close()
    assert.are.equal("bad argument #1 to 'isatty' (file is closed)",
      err(function() local r = fokus.isatty(f); return r end))
  end)

  it('returns integers from integer tensors', function()
    for _, dt in ipairs{'i32', 'i64', 'u8', 'bool'} do
      local v = fokus.tensor({1, 0, 7}, dt):totable()
      for i = 1, 3 do
        assert.is_true(H.is_integer(v[i]), dt)
      end
    end
    if math.type then
      assert.are.equal('float', math.type(fokus.tensor{1}:totable()[1]))
      assert.are.equal('integer', math.type(fokus.tensor({1}, 'i32'):totable()[1]))
      assert.are.equal('integer', math.type(fokus.zeros{3}:numel()))
    end
  end)
end)
