-- fokus inside a real application: headless Neovim, whose Lua is LuaJIT, loads the module
-- built by `make LUA=luajit` through package.cpath, tokenizes a prompt, runs fokus.attend
-- and writes the attention as a heat-map PNG.
--
--   nvim --headless -u NONE -c 'luafile tests/hosts/nvim.lua' -c q
--
-- Environment, all optional: FOKUS_BUILD (default ROOT/build), FOKUS_SHARED (default
-- ROOT/../shared: the CLIP vocabulary in its clip/ folder; without it a small vocabulary is
-- written next to the PNG), FOKUS_HOST_VOCAB (a vocabulary file to use instead),
-- FOKUS_HOST_OUT (the PNG; default BUILD/nvim_attention.png).
-- Prints one line "fokus in <host>: ..." and exits non-zero on any error.

local source = debug.getinfo(1, 'S').source:gsub('^@', '')
local root = (source:match('^(.*)/[^/]*$') or '.') .. '/../..'

local function main()
  local build = os.getenv('FOKUS_BUILD') or (root .. '/build')
  local host = rawget(_G, 'jit') and jit.version or _VERSION
  if not rawget(_G, 'jit') then error('this Neovim embeds ' .. _VERSION .. ', not LuaJIT: build with make LUA=...') end
  package.cpath = build .. '/luajit/lua/?.so;' .. package.cpath
  package.path = root .. '/nodes/?.lua;' .. root .. '/nodes/?/init.lua;' .. root .. '/tests/hosts/?.lua;' .. package.path

  local fokus = require('fokus')
  local demo = require('prompt_map')
  local out = os.getenv('FOKUS_HOST_OUT') or (build .. '/nvim_attention.png')

  local vocab = demo.find_vocab(root)
  local note = vocab and ('vocabulary ' .. vocab) or 'small generated vocabulary (../shared/clip not found)'
  if not vocab then vocab = demo.write_small_vocab(out .. '.vocab.txt', demo.prompt) end
  local tok = assert(fokus.tokenizer(vocab))

  local img, labels = demo.attention_map(fokus, tok, demo.prompt)
  assert(fokus.save_png(out, img))
  local s = img:shape()
  local inside = rawget(_G, 'vim') and vim.version and ('Neovim ' .. tostring(vim.version().major) .. '.' ..
    tostring(vim.version().minor) .. ', ') or ''
  io.stdout:write(string.format('fokus %s in %s%s: %d tokens, %s; wrote %s (%dx%d)\n', fokus.version, inside, host,
    #labels, note, out, s[2], s[1]))
  io.stdout:flush()
end

local ok, err = pcall(main)
if not ok then
  io.stderr:write('tests/hosts/nvim.lua: ', tostring(err), '\n')
  io.stderr:flush()
  os.exit(1)
end
