-- fokus inside a real application: headless Neovim, whose Lua is LuaJIT, loads the module
-- built by `make LUA=luajit` through package.cpath, tokenizes a prompt, runs fokus.attend
-- and writes the attention as a heat-map PNG (BUILD/neovim_attention.png; see run.lua).
--
--   nvim --headless -u NONE -c 'luafile tests/hosts/nvim.lua' -c q
--
-- Prints one line "fokus ... in Neovim ..." and exits non-zero on any error.
local source = debug.getinfo(1, 'S').source:gsub('^@', '')
local root = os.getenv('FOKUS_ROOT') or ((source:match('^(.*)/[^/]*$') or '.') .. '/../..')

local ok, res = pcall(function()
  local v = vim.version()
  return dofile(root .. '/tests/hosts/run.lua')(root, 'Neovim ' .. v.major .. '.' .. v.minor .. '.' .. v.patch)
end)
if not ok then
  io.stderr:write('tests/hosts/nvim.lua: ', tostring(res), '\n')
  io.stderr:flush()
  os.exit(1)
end
io.stdout:write(res, '\n')
io.stdout:flush()
