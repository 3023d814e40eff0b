-- fokus inside mpv: a user script (Debian's mpv embeds Lua 5.2; builds with LuaJIT work the
-- same with `make LUA=luajit`) that tokenizes a prompt, attends and writes a heat-map PNG
-- (BUILD/mpv_attention.png; see run.lua), then quits.
--
--   mpv --no-config --idle=once --vo=null --ao=null --script=tests/hosts/mpv.lua
--
-- mpv runs scripts from the directory it was started in: FOKUS_ROOT (default: the current
-- directory) is the checkout.
local root = os.getenv('FOKUS_ROOT') or '.'
local ok, res = pcall(function()
  return dofile(root .. '/tests/hosts/run.lua')(root, 'mpv ' .. mp.get_property('mpv-version', ''):gsub('^mpv ', ''))
end)
if ok then
  mp.msg.info(res)
  mp.command('quit')
else
  mp.msg.error('tests/hosts/mpv.lua: ' .. tostring(res))
  mp.command('quit 1')
end
