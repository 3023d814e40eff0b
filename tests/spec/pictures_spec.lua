local fokus = require 'fokus'

-- a fresh directory for files, removed at the end
local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute('mkdir -p ' .. d))
  return d
end

local function listdir(d)
  local p = io.popen('ls -A ' .. d)
  local names = {}
  for l in p:lines() do names[#names + 1] = l end
  p:close()
  table.sort(names)
  return names
end

local function readall(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('*a')
  f:close()
  return s
end

-- pixels of img (u8 [H, W, 3]) that differ from `bg`
local function ink(img, bg)
  local n, t = 0, img:reshape{-1, 3}:totable()
  for _, p in ipairs(t) do
    if p[1] ~= bg[1] or p[2] ~= bg[2] or p[3] ~= bg[3] then n = n + 1 end
  end
  return n
end

-- a u8 picture [h, w, c] of one value (without tensor arithmetic)
local function filled(h, w, c, v)
  local t = {}
  for y = 1, h do
    t[y] = {}
    for x = 1, w do
      t[y][x] = {}
      for k = 1, c do t[y][x][k] = v end
    end
  end
  return fokus.tensor(t, 'u8')
end

local function white(h, w) return filled(h, w, 3, 255) end

describe('pictures', function()
  it('colour maps end where matplotlib ends them', function()
    local ramp = fokus.tensor{{0, 1}}
    local function ends(name)
      local t = fokus.heatmap(ramp, {cell = 1, min = 0, max = 1, colormap = name}):totable()
      return t[1][1], t[1][2]
    end
    local lo, hi = ends('viridis')
    assert.are.same({68, 1, 84}, lo)
    assert.are.same({253, 231, 37}, hi)
    lo, hi = ends('magma')
    assert.are.same({0, 0, 4}, lo)
    assert.are.same({252, 253, 191}, hi)
    lo, hi = ends('gray')
    assert.are.same({0, 0, 0}, lo)
    assert.are.same({255, 255, 255}, hi)
    -- magma is the default, and brightness grows along every map
    assert.are.same({0, 0, 4}, fokus.heatmap(ramp, {cell = 1, min = 0, max = 1}):totable()[1][1])
    for _, name in ipairs{'viridis', 'magma', 'gray'} do
      local m = fokus.heatmap(fokus.linspace and fokus.linspace(0, 1, 33):reshape{1, 33} or ramp, {cell = 1, colormap = name})
      local row, prev = m:totable()[1], -1
      for _, p in ipairs(row) do
        local y = 0.2126 * p[1] + 0.7152 * p[2] + 0.0722 * p[3]
        assert.is_true(y >= prev - 0.5, name .. ' brightness is monotonic')
        prev = y
      end
    end
  end)

  it('draws a title, labels and a colour bar around the cells', function()
    local plain = fokus.heatmap(fokus.zeros{3, 2}, {cell = 10})
    assert.are.same({30, 20, 3}, plain:shape()) -- nothing asked: exactly the cells
    local img = fokus.heatmap(fokus.tensor{{0, 1}, {2, 3}}, {cell = 20, rows = {'a', 'b'}, cols = {'x', 'y'},
      title = 'A title', colorbar = 'probability'})
    local s = img:shape()
    assert.is_true(s[1] > 100 and s[2] > 100)
    assert.is_true(ink(img, {255, 255, 255}) > 4 * 400) -- cells, text, bar
    -- the bar's top is the map's maximum colour, its bottom the minimum (magma)
    local found_top, found_bottom = false, false
    for _, row in ipairs(img:totable()) do
      for _, p in ipairs(row) do
        if p[1] == 252 and p[2] == 253 and p[3] == 191 then found_top = true end
        if p[1] == 0 and p[2] == 0 and p[3] == 4 then found_bottom = true end
      end
    end
    assert.is_true(found_top and found_bottom)
  end)

  it('renders ASCII and non-ASCII labels, and the built-in font as a fallback', function()
    local name, truetype = fokus.font()
    assert.is_string(name)
    for _, font in ipairs{truetype and true or false, false} do
      for _, text in ipairs{'cat', 'é', 'грусть', 'ü'} do
        local img = fokus.text(white(30, 80), text, {x = 2, y = 2, size = 16, font = font})
        assert.is_true(ink(img, {255, 255, 255}) > 5, text .. ' leaves ink')
      end
    end
    if truetype then
      -- anti-aliased: grey levels between ink and paper; the accent of é is drawn
      local e = fokus.text(white(30, 30), 'e', {size = 20})
      local eacute = fokus.text(white(30, 30), 'é', {size = 20})
      assert.is_true(ink(eacute, {255, 255, 255}) > ink(e, {255, 255, 255}))
      local grey = 0
      for _, p in ipairs(e:reshape{-1, 3}:totable()) do if p[1] > 40 and p[1] < 220 then grey = grey + 1 end end
      assert.is_true(grey > 3)
    else
      pending('no TrueType font installed (fonts-dejavu-core): anti-aliasing not checked')
    end
    -- vertical text is taller than wide
    local v = fokus.text(white(80, 30), 'vertical', {vertical = true, x = 4, y = 2})
    local rows = {}
    for y, row in ipairs(v:totable()) do for _, p in ipairs(row) do if p[1] < 250 then rows[y] = true end end end
    local n = 0
    for _ in pairs(rows) do n = n + 1 end
    assert.is_true(n > 35) -- 'vertical' is about 50 px long at 14 px
    -- invalid UTF-8 and empty text do not fail
    fokus.text(white(20, 40), 'a\255\192b', {})
    fokus.text(white(20, 40), '', {})
    assert.error_matches(function() fokus.text(white(4, 4), 'x', {font = '/nonexistent/font.ttf'}) end,
      'text: font: /nonexistent/font.ttf: ')
    assert.error_matches(function() fokus.text(white(4, 4), 'x', {colour = {1, 2, 3}}) end, "did you mean 'color'")
  end)

  it('writes PNGs with text chunks that read back, as ComfyUI writes them', function()
    local d = tmpdir()
    local img = fokus.heatmap(fokus.randn({5, 7}, {seed = 1}), {cell = 3})
    local workflow = '{"1": {"class_type": "tokenize", "inputs": {"text": "a cat"}}}'
    assert.is_true(fokus.save_png(d .. '/a.png', img, {text = {workflow = workflow, prompt = 'café ☕'}}))
    local back, text = fokus.load_png(d .. '/a.png')
    assert.are.same({15, 21, 3}, back:shape())
    assert.are.same(img:totable(), back:totable())
    assert.are.equal(workflow, text.workflow)
    assert.are.equal('café ☕', text.prompt)
    local bytes = readall(d .. '/a.png')
    assert.are.equal('\137PNG\r\n\26\n', bytes:sub(1, 8))
    assert.is_truthy(bytes:find('tEXtworkflow\0' .. workflow, 1, true))  -- ASCII: tEXt
    assert.is_truthy(bytes:find('iTXtprompt\0\0\0\0\0café', 1, true))   -- UTF-8: iTXt
    -- the chunks come right after IHDR, before the pixels
    assert.is_true(bytes:find('tEXt', 1, true) < bytes:find('IDAT', 1, true))
    -- 1, 2 and 4 channels
    for _, c in ipairs{1, 2, 4} do
      local t = filled(3, 4, c, 7)
      assert.is_true(fokus.save_png(d .. '/c.png', t))
      local b = fokus.load_png(d .. '/c.png')
      assert.are.same({3, 4, c}, b:shape())
    end
    os.execute('rm -rf ' .. d)
  end)

  it('writes atomically: no partial or temporary file on error', function()
    local d = tmpdir()
    local img = fokus.zeros({4, 4, 3}, 'u8')
    -- the target is a directory: rename fails, the temporary file is removed
    assert(os.execute('mkdir ' .. d .. '/dir.png'))
    local ok, err = fokus.save_png(d .. '/dir.png', img)
    assert.is_nil(ok)
    assert.matches('dir.png: ', err)
    assert.are.same({'dir.png'}, listdir(d))
    -- an existing file survives a failed save
    assert.is_true(fokus.save_png(d .. '/keep.png', img, {text = {k = 'old'}}))
    local before = readall(d .. '/keep.png')
    assert.error_matches(function() fokus.save_png(d .. '/keep.png', fokus.zeros{4, 4}) end, 'expected a u8 image')
    assert.error_matches(function() fokus.save_png(d .. '/keep.png', img, {text = {[' bad'] = 'x'}}) end, "text key ' bad'")
    assert.error_matches(function() fokus.save_png(d .. '/keep.png', img, {text = {k = 'a\0b'}}) end, 'NUL byte')
    assert.are.equal(before, readall(d .. '/keep.png'))
    assert.are.same({'dir.png', 'keep.png'}, listdir(d))
    -- a missing directory
    ok, err = fokus.save_png(d .. '/no/such/x.png', img)
    assert.is_nil(ok)
    assert.matches('^' .. d:gsub('%p', '%%%0') .. '/no/such/x.png: ', err)
    os.execute('rm -rf ' .. d)
  end)

  it('reports unreadable and corrupt PNGs as nil, message', function()
    local d = tmpdir()
    local ok, err = fokus.load_png(d .. '/missing.png')
    assert.is_nil(ok)
    assert.matches('missing.png: ', err)
    local f = io.open(d .. '/bad.png', 'wb'); f:write('not a png at all'); f:close()
    ok, err = fokus.load_png(d .. '/bad.png')
    assert.is_nil(ok)
    assert.matches('not a PNG', err)
    assert.is_true(fokus.save_png(d .. '/good.png', fokus.zeros({4, 4, 3}, 'u8'), {text = {k = 'v'}}))
    local bytes = readall(d .. '/good.png')
    -- flip one byte of the text chunk: its CRC no longer matches
    local i = bytes:find('tEXtk', 1, true) + 6
    f = io.open(d .. '/crc.png', 'wb'); f:write(bytes:sub(1, i - 1), 'w', bytes:sub(i + 1)); f:close()
    ok, err = fokus.load_png(d .. '/crc.png')
    assert.is_nil(ok)
    assert.matches('bad CRC', err)
    -- cut short
    f = io.open(d .. '/short.png', 'wb'); f:write(bytes:sub(1, 40)); f:close()
    ok, err = fokus.load_png(d .. '/short.png')
    assert.is_nil(ok)
    assert.matches('short.png: ', err)
    os.execute('rm -rf ' .. d)
  end)

  it('lays a map over a picture: bilinear upsampling, normalized (DAAM)', function()
    local black = fokus.zeros({4, 4, 3}, 'u8')
    local map = fokus.tensor{{0, 1}, {0, 1}}
    local img = fokus.overlay(black, map, {colormap = 'gray', alpha = 1})
    assert.are.same({4, 4, 3}, img:shape())
    -- PyTorch bilinear, align_corners = false: columns at 0, 0.25, 0.75, 1
    local row = img:select(1, 2):totable()
    assert.are.same({0, 0, 0}, row[1])
    assert.are.same({64, 64, 64}, row[2])
    assert.are.same({191, 191, 191}, row[3])
    assert.are.same({255, 255, 255}, row[4])
    -- alpha 0.5 over white: half way
    local half = fokus.overlay(white(4, 4), map, {colormap = 'gray', alpha = 0.5})
    assert.are.same({128, 128, 128}, half:totable()[1][1])
    -- [S, h, w] is averaged over S
    local a, b = fokus.tensor{{0, 1}, {0, 1}}, fokus.tensor{{0, 3}, {0, 3}}
    local mean = fokus.overlay(black, fokus.tensor{{0, 2}, {0, 2}}, {colormap = 'gray', alpha = 1})
    local stacked = fokus.overlay(black, fokus.cat({a:reshape{1, 2, 2}, b:reshape{1, 2, 2}}, 1), {colormap = 'gray', alpha = 1})
    assert.are.same(mean:totable(), stacked:totable())
    -- size scales the picture, a title adds a strip on top
    assert.are.same({64, 64, 3}, fokus.overlay(black, map, {size = 64}):shape())
    local titled = fokus.overlay(black, map, {size = 64, title = 'cat'})
    assert.is_true(titled:size(1) > 64 and titled:size(2) == 64)
    -- opts.out
    local out = fokus.zeros({4, 4, 3}, 'u8')
    assert.are.equal(out, fokus.overlay(black, map, {colormap = 'gray', alpha = 1, out = out}))
    assert.are.same(img:totable(), out:totable())
    assert.error_matches(function() fokus.overlay(black, map, {out = fokus.zeros({5, 4, 3}, 'u8')}) end, 'overlay')
    assert.error_matches(function() fokus.overlay(black, fokus.zeros({2, 2}, 'i32')) end, 'expected a float tensor')
    assert.error_matches(function() fokus.overlay(fokus.zeros{4, 4, 3}, map) end, 'expected a u8 image')
    assert.error_matches(function() fokus.overlay(black, map, {alpha = 2}) end, 'alpha 2')
    assert.error_matches(function() fokus.overlay(black, map, {alpah = 1}) end, "did you mean 'alpha'")
    local huge = fokus.zeros({4097, 2, 3}, 'u8')
    assert.error_matches(function() fokus.overlay(huge, map) end, 'over 4096 px a side: give opts.size')
    assert.are.same({64, 1, 3}, fokus.overlay(huge, map, {size = 64}):shape())
  end)

  it('makes one word map per token and a contact sheet of them', function()
    local attn = fokus.rand and fokus.rand({3, 5, 4, 4}, {seed = 7}) or fokus.randn({3, 5, 4, 4}, {seed = 7}) -- [S, T, h, w]
    local pic = filled(32, 32, 3, 90)
    local maps = fokus.word_maps(attn, pic, {tokens = {2, 4}, labels = {'red', 'cat'}, titles = false})
    assert.are.equal(2, #maps)
    assert.are.same({32, 32, 3}, maps[1]:shape())
    local direct = fokus.overlay(pic, attn:select(2, 4))
    assert.are.same(direct:totable(), maps[2]:totable())
    local titled = fokus.word_maps(attn, pic, {tokens = {2}, labels = {'red'}})
    assert.is_true(titled[1]:size(1) > 32)
    assert.error_matches(function() fokus.word_maps(attn, pic, {tokens = {6}}) end, 'tokens%[1%] must be a position in 1..5')
    assert.error_matches(function() fokus.word_maps(attn, pic, {tokens = {1}, labels = {}}) end, 'one label per token')
    assert.error_matches(function() fokus.word_maps(attn, pic, {token = {1}}) end, "unknown option 'token' %(did you mean 'tokens'%?%)")

    -- the sheet: a grid of equal cells with 10 px gaps
    local red = fokus.zeros({4, 4, 3}, 'u8')
    for y = 1, 4 do for x = 1, 4 do red:set(y, x, 1, 255) end end
    local sheet = fokus.contact_sheet({red, red, red}, {cols = 2})
    assert.are.same({10 + 2 * 14, 10 + 2 * 14, 3}, sheet:shape())
    assert.are.same({255, 0, 0}, sheet:totable()[11][25])
    assert.are.same({255, 255, 255}, sheet:totable()[25][25]) -- the empty fourth cell
    local labelled = fokus.contact_sheet(maps, {labels = {'red', 'cat'}, title = 'Where each word lands', colorbar = 'relative'})
    assert.is_true(labelled:size(2) > 2 * 32 + 30)
    local out = fokus.zeros(sheet:shape(), 'u8')
    assert.are.equal(out, fokus.contact_sheet({red, red, red}, {cols = 2, out = out}))
    assert.error_matches(function() fokus.contact_sheet({}) end, 'expected 1..1024 pictures')
    assert.error_matches(function() fokus.contact_sheet({red, 3}) end, 'images%[2%]: expected a fokus.Tensor')
    assert.error_matches(function() fokus.contact_sheet({red}, {labels = {'a', 'b'}}) end, '2 labels for 1 pictures')
    assert.error_matches(function() fokus.contact_sheet({fokus.zeros{2, 2, 3}}) end, 'picture 1: expected a u8 image')
  end)

  it('keeps heatmap backward compatible and accepts out', function()
    local m = fokus.tensor{{0, 1}, {0.5, 0}}
    local img = fokus.heatmap(m, {cell = 4, colormap = 'gray'})
    local out = fokus.zeros({8, 8, 3}, 'u8')
    assert.are.equal(out, fokus.heatmap(m, {cell = 4, colormap = 'gray', out = out}))
    assert.are.same(img:totable(), out:totable())
    assert.error_matches(function() fokus.heatmap(m, {cell = 4, out = fokus.zeros({8, 8, 3}, 'f32')}) end, 'heatmap')
    assert.error_matches(function() fokus.heatmap(m, {colorbar = 3}) end, "option 'colorbar' must be a boolean or a caption")
    assert.error_matches(function() fokus.heatmap(m, {titel = 'x'}) end, "did you mean 'title'")
  end)
end)
