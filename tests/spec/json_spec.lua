-- fokus.json: the JSON binding over jansson that workflows travel in.
local fokus = require "fokus"
local json = fokus.json

describe("fokus.json.encode", function()
  it("writes scalars, arrays and objects with keys in a stable order", function()
    assert.are.equal('[1,2.5,"x",true,false,null]', json.encode({1, 2.5, "x", true, false, json.null}))
    assert.are.equal('{"2":0,"10":0,"a":0,"b":0}', json.encode({b = 0, a = 0, ["10"] = 0, ["2"] = 0}))
    assert.are.equal("{}", json.encode({}))
    assert.are.equal('"a\\"b\\\\c\\nd\\u0001é"', json.encode('a"b\\c\nd\1é'))
    assert.are.equal('{\n  "a": [\n    1\n  ]\n}', json.encode({a = {1}}, {indent = 2}))
  end)

  it("keeps integers integers and writes reals with the fewest digits that read back exactly", function()
    if math.type then -- integers and floats are distinct only where Lua has an integer subtype
      assert.are.equal("[1,1.0,0.1,-0.0,1e+300,0.3333333333333333,9007199254740992.0]",
                       json.encode({1, 1.0, 0.1, -0.0, 1e300, 1 / 3, 2 ^ 53}))
    else
      assert.are.equal("[1,0.1,1e+300,0.3333333333333333]", json.encode({1, 0.1, 1e300, 1 / 3}))
    end
    for _, x in ipairs({0.1, 1 / 3, 1e300, 5e-324, 2 ^ 53, 3.0, -2.5e-320, 123456789.125}) do
      local y = json.decode(json.encode(x))
      assert.are.equal(x, y)
      if math.type then assert.are.equal("float", math.type(y)) end
    end
    if math.type then
      assert.are.equal("integer", math.type(json.decode(json.encode(7))))
      assert.are.equal(math.maxinteger, json.decode(json.encode(math.maxinteger)))
    end
  end)

  it("raises naming the path for values JSON cannot hold", function()
    local cyc = {}
    cyc.self = cyc
    local cases = {
      {{a = {f = print}}, "json.encode: $.a.f: a function cannot be written as JSON"},
      {{1, 0 / 0}, "json.encode: $[2]: nan is not a JSON number"},
      {{x = math.huge}, "json.encode: $.x: inf is not a JSON number"},
      {cyc, "json.encode: $.self: a table that contains itself"},
      {{1, 2, x = 3}, "json.encode: $: a table with both array and other keys (JSON objects need string keys, arrays 1..n)"},
      {{[2.5] = 1}, "json.encode: $: a table with non-string keys (JSON objects need string keys, arrays 1..n)"},
      {{s = "\255"}, "json.encode: $.s: string is not valid UTF-8"},
      {fokus.zeros{1}, "json.encode: $: a userdata cannot be written as JSON"},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(json.encode, c[1])
      assert.is_false(ok)
      assert.are.equal(c[2], err)
    end
    assert.has_error(function() json.encode({}, {indnet = 2}) end,
                     "json.encode: unknown option 'indnet' (did you mean 'indent'?)")
  end)
end)

describe("fokus.json.decode", function()
  it("reads what encode writes", function()
    local v = {a = {1, 2.5, "x", json.null, {b = false}}, ["3"] = "é", n = -12}
    assert.are.same(v, json.decode(json.encode(v)))
    assert.are.same(v, json.decode(json.encode(v, {indent = 4})))
    assert.are.equal(json.null, json.decode("null"))
    assert.are.equal("a\0b", json.decode('"a\\u0000b"'))
  end)

  it("returns nil and the line and column of bad text", function()
    local cases = {
      {'{\n  "a": 1,\n  "b": }', "json: line 3, column 8: unexpected token near '}'"},
      {'{"a": 1, "a": 2}', "json: line 1, column 12: duplicate object key near '\"a\"'"},
      {'[1, 2', "json: line 1, column 5: ']' expected near end of file"},
      {'', "json: line 1, column 0: unexpected token near end of file"},
    }
    for _, c in ipairs(cases) do
      local v, err = json.decode(c[1])
      assert.is_nil(v)
      assert.are.equal(c[2], err)
    end
    assert.has_error(function() json.decode(nil) end)
  end)
end)
