-- build/fokus, the script host: require works without environment variables, `arg` is
-- set as lua5.4 sets it, and errors exit non-zero with a traceback on stderr.
local build = os.getenv('FOKUS_BUILD') or 'build'

local function run(script, args)
  local path = os.tmpname()
  local f = io.open(path, 'w')
  f:write(script)
  f:close()
  local p = io.popen(string.format('cd / && env -u LUA_PATH -u LUA_CPATH %s/fokus %s %s 2>&1; echo "status=$?"',
    build:sub(1, 1) == '/' and build or (os.getenv('FOKUS_ROOT') or '.') .. '/' .. build, path, args or ''))
  local out = p:read('*a')
  p:close()
  os.remove(path)
  return out, tonumber(out:match('status=(%d+)'))
end

describe('build/fokus', function()
  it('runs a script with require "fokus" from any directory and passes arg', function()
    local out, status = run('local f = require "fokus"; print(f.version, #arg, arg[1], arg[2], ...)', 'x y')
    assert.are.equal(0, status)
    assert.matches('^%d+%.%d+%.%d+\t2\tx\ty\tx\ty', out)
  end)

  it('exits non-zero with the error and a traceback', function()
    local out, status = run('local function f() error("boom") end\nf()')
    assert.are.equal(1, status)
    assert.matches('boom', out)
    assert.matches('stack traceback', out)
  end)
end)
