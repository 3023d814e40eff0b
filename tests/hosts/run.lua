-- The body every application-host test runs inside its host (nvim.lua, mpv.lua,
-- love/main.lua): put this checkout's module for the host's Lua on
-- package.cpath, tokenize a prompt, attend over the tokens and write the heat map.
--
--   local run = dofile(ROOT .. '/tests/hosts/run.lua')
--   local line = run(ROOT, 'Neovim 0.7')   -- "fokus 0.1.0 in Neovim 0.7 (LuaJIT 2.1.0-beta3): ..."
--
-- Environment, all optional: FOKUS_BUILD (default ROOT/build), FOKUS_SHARED (default
-- ROOT/../shared: the CLIP vocabulary in its clip/ folder; without it a small vocabulary is
-- written next to the PNG), FOKUS_HOST_VOCAB (a vocabulary file to use instead),
-- FOKUS_HOST_OUT (the PNG; default BUILD/<host>_attention.png).
return function(root, host_name)
  local build = os.getenv('FOKUS_BUILD') or (root .. '/build')
  -- make LUA=luajit|5.2|5.3|5.4 puts each module in its own folder
  local lua = rawget(_G, 'jit') and jit.version or _VERSION
  local sub = rawget(_G, 'jit') and '/luajit' or (_VERSION == 'Lua 5.4' and '' or '/lua' .. _VERSION:match('%d+%.%d+'))
  package.cpath = build .. sub .. '/lua/?.so;' .. package.cpath
  package.path = root .. '/nodes/?.lua;' .. root .. '/nodes/?/init.lua;' .. root .. '/tests/hosts/?.lua;' ..
    package.path

  local fokus = require('fokus')
  local demo = require('prompt_map')
  local tag = host_name:match('^%a+'):lower()
  local out = os.getenv('FOKUS_HOST_OUT') or (build .. '/' .. tag .. '_attention.png')

  local vocab = demo.find_vocab(root)
  local note = vocab and ('vocabulary ' .. vocab) or 'small generated vocabulary (../shared/clip not found)'
  if not vocab then vocab = demo.write_small_vocab(out .. '.vocab.txt', demo.prompt) end
  local tok = assert(fokus.tokenizer(vocab))

  local img, labels = demo.attention_map(fokus, tok, demo.prompt)
  assert(fokus.save_png(out, img))
  local s = img:shape()
  return string.format('fokus %s in %s (%s): %d tokens, %s; wrote %s (%dx%d)', fokus.version, host_name, lua,
    #labels, note, out, s[2], s[1])
end
