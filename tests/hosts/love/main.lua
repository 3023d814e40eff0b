-- fokus inside LÖVE (LuaJIT): tokenizes a prompt, attends and writes a heat-map PNG
-- (BUILD/love_attention.png; see ../run.lua), then quits.
--
--   love tests/hosts/love
--
-- FOKUS_ROOT (default: two folders above this game folder) is the checkout.
function love.load()
  local root = os.getenv('FOKUS_ROOT') or (love.filesystem.getSource() .. '/../../..')
  local ok, res = pcall(function()
    local major, minor, revision = love.getVersion()
    return dofile(root .. '/tests/hosts/run.lua')(root, string.format('LOVE %d.%d.%d', major, minor, revision))
  end)
  if ok then
    print(res)
    love.event.quit(0)
  else
    io.stderr:write('tests/hosts/love/main.lua: ', tostring(res), '\n')
    love.event.quit(1)
  end
end
