-- fokus in real applications: headless Neovim (LuaJIT inside; make test installs it) and,
-- when they are installed, LÖVE (LuaJIT) and mpv (Lua 5.2 in Debian) run
-- tests/hosts/run.lua, which loads the module built for their Lua (make LUA=...),
-- tokenizes a prompt, attends and writes a heat-map PNG. The same computation done here,
-- in the interpreter running the specs, must give the same picture byte for byte.
local fokus = require 'fokus'
local H = require 'tests.spec.helper'

local root = os.getenv('FOKUS_ROOT') or '.'
if root:sub(1, 1) ~= '/' then root = os.getenv('PWD') .. '/' .. root end
local build = os.getenv('FOKUS_BUILD') or (root .. '/build')
package.path = root .. '/tests/hosts/?.lua;' .. package.path
local demo = require 'prompt_map'

-- output and exit status of a shell command (stderr included)
local function sh(cmd)
  local p = io.popen('(' .. cmd .. ') 2>&1; echo "status=$?"')
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

-- The module a host's Lua needs: 'luajit', 'lua5.2', ... from the libraries it links.
local function linked_lua(exe)
  local out = sh('ldd "$(command -v ' .. exe .. ')"')
  if out:match('libluajit') then return 'luajit' end
  local v = out:match('liblua(5%.%d)')
  return v and ('lua' .. v) or nil
end

local function module_for(lua)
  return build .. (lua == 'lua5.4' and '' or '/' .. lua) .. '/lua/fokus/core.so'
end

-- Each host: the Lua it embeds (which module it loads) and the shell command that runs
-- tests/hosts/run.lua inside it (from the checkout, FOKUS_* set).
local hosts = {
  {
    name = 'Neovim', lua = function() return 'luajit' end,
    command = "nvim --headless -u NONE -i NONE -c 'luafile tests/hosts/nvim.lua' -c q </dev/null",
    install = 'apt-get install neovim (make test installs it as root)',
  },
  {
    name = 'LOVE', lua = function() return linked_lua('love') end,
    command = 'love tests/hosts/love </dev/null',
    install = 'apt-get install love',
  },
  {
    name = 'mpv', lua = function() return linked_lua('mpv') end,
    command = 'mpv --no-config --idle=once --vo=null --ao=null --script=tests/hosts/mpv.lua </dev/null',
    install = 'apt-get install mpv',
  },
}

describe('application hosts', function()
  local tmp, vocab, expected

  setup(function()
    tmp = os.tmpname()
    vocab = demo.find_vocab(root) or demo.write_small_vocab(tmp .. '.vocab.txt', demo.prompt)
  end)

  teardown(function()
    os.remove(tmp)
    os.remove(tmp .. '.vocab.txt')
  end)

  -- the picture made here, in the interpreter running the specs
  local function here()
    if expected then return expected end
    local tok = assert(fokus.tokenizer(vocab))
    local img, labels, map = demo.attention_map(fokus, tok, demo.prompt)
    local mine = tmp .. '.here.png'
    assert.is_true(fokus.save_png(mine, img))
    expected = {img = img, labels = labels, map = map, png = read(mine)}
    os.remove(mine)
    return expected
  end

  it('attend gives a heat map with the token labels, rows summing to 1, twins alike', function()
    local e = here()
    local p, twins = e.map:totable(), 0
    for i, row in ipairs(p) do
      local s = 0
      for j, v in ipairs(row) do
        s = s + v
        if i ~= j and e.labels[i] == e.labels[j] then
          twins = twins + 1
          assert.are.equal(row[i], v)
        end
      end
      assert.is_true(math.abs(s - 1) < 1e-5, 'row ' .. i)
    end
    assert.is_true(twins >= 2)
    local shape = e.img:shape()
    assert.is_true(shape[1] >= 12 * #e.labels and shape[2] >= 12 * #e.labels)
  end)

  for _, host in ipairs(hosts) do
    it(host.name .. ' loads fokus, tokenizes, attends and writes the same heat-map PNG as this host', function()
      local exe = host.name == 'Neovim' and 'nvim' or host.name:lower()
      local _, found = sh('command -v ' .. exe .. ' >/dev/null')
      if found ~= 0 then
        return pending(exe .. ' not found: the ' .. host.name .. ' host test is skipped (' .. host.install .. ')')
      end
      local lua = host.lua()
      if not lua then return pending(host.name .. ': no Lua found linked into ' .. exe .. ': skipped') end
      if not read(module_for(lua)) then
        return pending(module_for(lua) .. ' not found: the ' .. host.name .. ' host test is skipped (make LUA=' ..
          lua:gsub('^lua', '') .. ')')
      end
      local png = tmp .. '.' .. exe .. '.png'
      local cmd = host.command
      local out, status = sh(string.format('cd %s && FOKUS_ROOT=%s FOKUS_BUILD=%s FOKUS_HOST_VOCAB=%s FOKUS_HOST_OUT=%s ' ..
        'timeout 120 sh -c %s', quote(root), quote(root), quote(build), quote(vocab), quote(png), quote(cmd)))
      assert.are.equal(0, status, out)
      local e = here()
      assert.matches('fokus [%d.]+ in ' .. host.name .. ' ', out)
      assert.matches(string.format(': %d tokens,', #e.labels), out, 1, true)

      -- the file: PNG signature, IHDR with the picture's size, IEND at the end, and the
      -- same bytes as the picture made here
      local bytes = assert(read(png), 'no PNG written: ' .. out)
      os.remove(png)
      assert.are.equal('\137PNG\r\n\26\n', bytes:sub(1, 8))
      assert.are.equal('IHDR', bytes:sub(13, 16))
      assert.are.equal('IEND', bytes:sub(-8, -5))
      local shape = e.img:shape()
      assert.are.equal(shape[2], u32be(bytes, 17)) -- width
      assert.are.equal(shape[1], u32be(bytes, 21)) -- height
      assert.is_true(e.png == bytes, 'the PNG from ' .. host.name .. ' differs from the one made here')
    end)
  end
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
