-- busted output handler: busted's plain terminal output, then one machine-readable
-- line "# busted lua5.4: N passed, M failed, K skipped" (the interpreter: lua5.4, lua5.3 or
-- luajit) that tests/run adds to the C counts.
local host = rawget(_G, 'jit') and 'luajit' or ('lua' .. _VERSION:match('%d+%.%d+'))

return function(options)
  local busted = require 'busted'
  local handler = require 'busted.outputHandlers.plainTerminal'(options)
  busted.subscribe({ 'suite', 'end' }, function()
    io.write(string.format('\n# busted %s: %d passed, %d failed, %d skipped\n', host, handler.successesCount,
      handler.failuresCount + handler.errorsCount, handler.pendingsCount))
    io.flush()
    return nil, true
  end)
  return handler
end
