local fokus = require 'fokus'

describe('heat maps', function()
  it('colours a map cell by cell, low to high', function()
    local img = fokus.heatmap(fokus.tensor{{0, 1}, {0.5, 0}}, {cell = 4, colormap = 'gray'})
    assert.are.same({8, 8, 3}, img:shape())
    assert.are.equal('u8', img:dtype())
    assert.are.same({0, 0, 0}, img:select(1, 1):select(1, 1):totable())      -- min -> black
    assert.are.same({255, 255, 255}, img:select(1, 1):select(1, 8):totable()) -- max -> white
    assert.are.same({128, 128, 128}, img:select(1, 8):select(1, 1):totable()) -- middle
    -- an explicit range clamps
    local c = fokus.heatmap(fokus.tensor{{2}}, {cell = 1, min = 0, max = 1, colormap = 'gray'})
    assert.are.same({{{255, 255, 255}}}, c:totable())
  end)

  it('adds margins for row and column labels', function()
    assert.are.same({30, 20, 3}, fokus.heatmap(fokus.zeros{3, 2}, {cell = 10}):shape())
    local img = fokus.heatmap(fokus.zeros{3, 2}, {cell = 10, rows = {'a', 'bb', 'ccc'}, cols = {'x', 'y'}})
    local s = img:shape()
    assert.is_true(s[1] > 30 and s[2] > 20)
    -- the labels are drawn in dark ink on the white margin left of the cells
    local margin, ink = s[2] - 20, 0
    for y = 1, s[1] do for x = 1, margin do if img:get(y, x, 1) < 100 then ink = ink + 1 end end end
    assert.is_true(ink > 0)
  end)

  it('writes a PNG and reports bad input clearly', function()
    local path = os.tmpname()
    assert.is_true(fokus.save_png(path, fokus.heatmap(fokus.randn{5, 7})))
    local f = io.open(path, 'rb')
    assert.are.equal('\137PNG\r\n\26\n', f:read(8))
    f:close()
    os.remove(path)
    local ok, err = fokus.save_png('/nonexistent/dir/x.png', fokus.zeros({2, 2}, 'u8'))
    assert.is_nil(ok)
    assert.matches('^/nonexistent/dir/x.png: ', err)
    assert.error_matches(function() fokus.save_png(path, fokus.zeros{2, 2}) end, 'expected a u8 image')
    assert.error_matches(function() fokus.heatmap(fokus.zeros{2, 2, 2}) end, 'expected a 2%-d float tensor')
    assert.error_matches(function() fokus.heatmap(fokus.zeros{2, 2}, {colormap = 'jet'}) end, "unknown colormap 'jet'")
    assert.error_matches(function() fokus.heatmap(fokus.zeros{2, 2}, {rows = {'a'}, cell = 10}) end, '1 row labels for 2 rows')
    assert.error_matches(function() fokus.heatmap(fokus.zeros{2, 2}, {cells = 3}) end, "did you mean 'cell'")
  end)
end)
