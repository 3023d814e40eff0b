-- busted output handler: busted's plain terminal output, then one machine-readable
-- line "# busted: N passed, M failed, K skipped" that tests/run adds to the C counts.
return function(options)
  local busted = require 'busted'
  local handler = require 'busted.outputHandlers.plainTerminal'(options)
  busted.subscribe({ 'suite', 'end' }, function()
    io.write(string.format('\n# busted: %d passed, %d failed, %d skipped\n', handler.successesCount,
      handler.failuresCount + handler.errorsCount, handler.pendingsCount))
    io.flush()
    return nil, true
  end)
  return handler
end
