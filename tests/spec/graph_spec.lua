-- The node graph: definitions, validation (every problem kind, with file:line),
-- pull execution, content-signature caching, events, interrupt, errors, sugar.
local fokus = require "fokus"

local THIS = debug.getinfo(1, "S").short_src

-- The line of the statement that calls this function.
local function line() return debug.getinfo(2, "l").currentline end

-- A fresh set of user types with call counters (type names unique per test run).
local counter = 0
local function types()
  counter = counter + 1
  local p = "t" .. counter .. "_"
  local calls = {}
  local function count(name) calls[name] = (calls[name] or 0) + 1 end
  fokus.define{type = p .. "num", category = "test", inputs = {{"x", "FLOAT", {default = 0, min = -100, max = 100}}},
               outputs = {{"v", "FLOAT"}}, run = function(i) count("num") return i.x end}
  fokus.define{type = p .. "add", inputs = {{"a", "FLOAT"}, {"b", "FLOAT"}}, outputs = {{"sum", "FLOAT"}},
               run = function(i) count("add") return i.a + i.b end}
  fokus.define{type = p .. "divmod", inputs = {{"a", "INT"}, {"b", "INT", {min = 1}}},
               outputs = {{"q", "INT"}, {"r", "INT"}},
               run = function(i) count("divmod") return math.floor(i.a / i.b), i.a % i.b end}
  fokus.define{type = p .. "str", inputs = {{"s", "STRING", {choices = {"x", "y"}}}, {"n", "INT", {optional = true}}},
               outputs = {{"s", "STRING"}},
               run = function(i) count("str") return i.s .. (i.n and tostring(i.n) or "") end}
  fokus.define{type = p .. "fail", inputs = {{"a", "FLOAT"}}, outputs = {{"v", "FLOAT"}},
               run = function(i) count("fail") error("no good: " .. i.a) end}
  fokus.define{type = p .. "slow", inputs = {{"a", "FLOAT"}, {"steps", "INT", {default = 5}}},
               outputs = {{"v", "FLOAT"}},
               run = function(i, ctx)
                 for s = 1, i.steps do
                   count("slow_step")
                   if ctx.progress(s, i.steps) == false then return nil end
                 end
                 count("slow")
                 return i.a * 2
               end}
  return p, calls
end

local function sorted(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  return c
end

describe("fokus.define", function()
  it("registers a type listed by node_types with its sockets", function()
    local p = types()
    local found
    for _, t in ipairs(fokus.node_types()) do
      if t.type == p .. "divmod" then found = t end
    end
    assert.is_truthy(found)
    assert.are.same({{"a", "INT", {}}, {"b", "INT", {min = 1}}}, found.inputs)
    assert.are.same({{"q", "INT"}, {"r", "INT"}}, found.outputs)
  end)

  it("rejects bad definitions with clear errors", function()
    local p = types()
    assert.has_error(function() fokus.define{type = p .. "num", outputs = {}, run = print} end,
      "define: type '" .. p .. "num' is already defined (pass replace = true to redefine it)")
    assert.has_error(function() fokus.define{type = "zz1", inputs = {{"x"}}, run = print} end,
      "define: type 'zz1': inputs[1] ('x'): TYPE must be a non-empty string, got nil")
    assert.has_error(function() fokus.define{type = "zz2", run = 1} end,
      "define: type 'zz2': run must be a function, got number")
    assert.has_error(function() fokus.define{type = "zz3", outputs = {{"id", "INT"}}, run = print} end)
    assert.has_error(function() fokus.define{type = "zz4", inputs = {{"x", "INT", {defualt = 1}}}, run = print} end)
    assert.has_error(function() fokus.define{type = "zz5", inputs = {{"x", "INT", {default = 1.5}}}, run = print} end,
      "define: type 'zz5': inputs[1] ('x'): default expected INT, got 1.5")
    assert.has_error(function() fokus.define{type = "zz6", inptus = {}, run = print} end)
  end)
end)

describe("graph construction", function()
  it("gives string ids 1, 2, ... or the given id; outputs are references", function()
    local p = types()
    local g = fokus.graph()
    local a = g:add(p .. "num", {x = 1})
    local b = g:add(p .. "num", {x = 2}, {id = "seven"})
    local c = g:add(p .. "num", {x = 3})
    assert.are.equal("1", a.id)
    assert.are.equal("seven", b.id)
    assert.are.equal("2", c.id)
    assert.are.equal(g:node("seven"), b)
    assert.has_error(function() g:add(p .. "num", {}, {id = "1"}) end, "add: id '1' is already used by node 1 (" .. p .. "num)")
    assert.has_error(function() return a.w end, "node 1 (" .. p .. "num) has no output 'w' (outputs: v)")
    assert.has_error(function() g:add(p .. "num", {}, {idd = "x"}) end, "add: unknown option 'idd' (did you mean 'id'?)")
    local ok, err = pcall(function() g:add(p .. "num", {}, {idd = "x"}) end)
    assert.are.equal(THIS .. ":" .. (line() - 1) .. ": add: unknown option 'idd' (did you mean 'id'?)", err)
  end)
end)

describe("g:validate", function()
  it("reports every problem kind at once with the file:line of g:add", function()
    local p = types()
    local g = fokus.graph()
    local l1 = line(); local u = g:add(p .. "nmu", {x = 1})                 -- unknown type
    local l2 = line(); local a = g:add(p .. "add", {a = 1, c = 2})          -- unknown input c, missing b
    local l3 = line(); local s = g:add(p .. "str", {s = 3})                 -- type mismatch (constant)
    local l4 = line(); local n = g:add(p .. "num", {x = 1000})              -- out of range
    local l5 = line(); local d = g:add(p .. "divmod", {a = 1, b = a.sum})   -- link type mismatch FLOAT -> INT
    local l6 = line(); local x = g:add(p .. "add", {a = 1})                 -- cycle x <-> y
    local l7 = line(); local y = g:add(p .. "add", {a = x.sum, b = 2})
    x:set("b", y.sum)
    local l8 = line(); local c = g:add(p .. "str", {s = "z"})               -- not one of the choices
    local l9 = line(); local m = g:add(p .. "add", {a = d, b = 1})          -- a node with 2 outputs given whole
    local ok, problems = g:validate()
    assert.is_false(ok)
    local got = {}
    for _, pr in ipairs(problems) do got[#got + 1] = pr.message end
    local at = function(l) return THIS .. ":" .. l end
    assert.are.same({
      at(l1) .. ": node 1 (" .. p .. "nmu): unknown node type '" .. p .. "nmu' (did you mean '" .. p .. "num'?)",
      at(l2) .. ": node 2 (" .. p .. "add) input 'c': unknown input (inputs: a, b)",
      at(l2) .. ": node 2 (" .. p .. "add) input 'b': missing (FLOAT)",
      at(l3) .. ": node 3 (" .. p .. "str) input 's': expected STRING, got number",
      at(l4) .. ": node 4 (" .. p .. "num) input 'x': 1000 is above the maximum 100",
      at(l5) .. ": node 5 (" .. p .. "divmod) input 'b': expected INT, got FLOAT from node 2 (" .. p .. "add).sum",
      at(l8) .. ": node 8 (" .. p .. "str) input 's': z is not one of x, y",
      at(l9) .. ": node 9 (" .. p .. "add) input 'a': node 5 (" .. p .. "divmod) has 2 outputs; pick one (q, r)",
      at(l7) .. ": node 7 (" .. p .. "add) input 'a': cycle: 6 -> 7 -> 6",
    }, got)
    assert.are.equal("7", problems[9].node)
    assert.are.equal("a", problems[9].input)
    assert.are.equal(at(l6 + 1), problems[9].where)
    assert.are.equal("1", problems[1].node)
    assert.is_nil(problems[1].input)
    -- g:run raises one error listing them all, before running anything
    local ok2, err = pcall(g.run, g, {events = false})
    assert.is_false(ok2)
    assert.truthy(err:find("graph: 9 problems:", 1, true))
    assert.truthy(err:find(at(l4) .. ": node 4", 1, true))
    assert.truthy(err:find("cycle: 6 -> 7 -> 6", 1, true))
    -- fixing them all makes it valid
    g:remove(u); a:set("c", nil):set("b", 1); s:set("s", "x"); n:set("x", 10)
    d:set("b", 2); x:set("b", 3); c:set("s", "y"); m:set("a", d.q)
    assert.is_true((g:validate()))
  end)

  it("accepts INT into FLOAT, defaults and optional inputs, and rejects links to other graphs", function()
    local p = types()
    local g = fokus.graph()
    local d = g:add(p .. "divmod", {a = 7, b = 2})
    local a = g:add(p .. "add", {a = d.q, b = d.r})
    g:add(p .. "num", {})
    g:add(p .. "str", {s = "x"})
    assert.is_true((g:validate()))
    local h = fokus.graph()
    local l = line(); h:add(p .. "add", {a = a.sum, b = 1})
    local ok, problems = h:validate()
    assert.is_false(ok)
    assert.are.equal(THIS .. ":" .. l .. ": node 1 (" .. p .. "add) input 'a': links to node 2 (" .. p ..
                     "add), which is not in this graph", problems[1].message)
  end)
end)

describe("g:run", function()
  it("pulls only what the requested outputs need and returns results by node", function()
    local p, calls = types()
    local g = fokus.graph()
    local a = g:add(p .. "num", {x = 2})
    local b = g:add(p .. "num", {x = 3})
    local s = g:add(p .. "add", {a = a.v, b = b.v})
    local other = g:add(p .. "num", {x = 9})
    local r, rep = g:run{outputs = {a}, events = false}
    assert.are.same({"1"}, rep.executed)
    assert.are.equal(2, r[a].v)
    assert.is_nil(r[s])
    r, rep = g:run{events = false}     -- sinks: s and other
    assert.are.same({"2", "3", "4"}, sorted(rep.executed))
    assert.are.same({"1"}, rep.cached)
    assert.are.equal(5, r[s].sum)
    assert.are.equal(5, r["3"].sum)
    assert.are.equal(9, r[other].v)
    assert.are.equal(3, calls.num)
  end)

  it("caches by content: an unchanged graph executes nothing, a changed constant re-runs its downstream", function()
    local p, calls = types()
    local g = fokus.graph()
    local a = g:add(p .. "num", {x = 2})
    local b = g:add(p .. "num", {x = 3})
    local s = g:add(p .. "add", {a = a.v, b = b.v})
    local t = g:add(p .. "add", {a = s.sum, b = 1})
    local u = g:add(p .. "add", {a = a.v, b = 10})
    local _, rep = g:run{events = false}
    assert.are.same({"1", "2", "3", "4", "5"}, sorted(rep.executed))
    local r
    r, rep = g:run{events = false}
    assert.are.same({}, rep.executed)
    assert.are.same({"1", "2", "3", "4", "5"}, sorted(rep.cached))
    assert.are.equal(6, r[t].sum)
    b:set("x", 4)
    r, rep = g:run{events = false}
    assert.are.same({"2", "3", "4"}, sorted(rep.executed))
    assert.are.same({"1", "5"}, sorted(rep.cached))
    assert.are.equal(7, r[t].sum)
    assert.are.equal(12, r[u].sum)
    -- the same value again is the same signature; relinking changes it
    b:set("x", 4)
    _, rep = g:run{events = false}
    assert.are.same({}, rep.executed)
    t:set("b", a.v)
    _, rep = g:run{events = false}
    assert.are.same({"4"}, rep.executed)
    assert.are.equal(3 + 2 + 1, calls.add)
  end)

  it("counts tensors and other userdata constants by identity", function()
    local calls = 0
    fokus.define{type = "graph_spec_numel", inputs = {{"t", "TENSOR"}}, outputs = {{"n", "INT"}},
                 run = function(i) calls = calls + 1 return i.t:numel() end}
    local g = fokus.graph()
    local x = fokus.zeros{2, 3}
    local n = g:add("graph_spec_numel", {t = x})
    local r = g:run{events = false}
    assert.are.equal(6, r[n].n)
    g:run{events = false}
    assert.are.equal(1, calls)
    n:set("t", fokus.zeros{2, 3})
    r = g:run{events = false}
    assert.are.equal(2, calls)
    n:set("t", {1, 2})
    local ok = g:validate()
    assert.is_true(ok) -- a table constant is allowed for a non-scalar type
    g:add("graph_spec_numel", {t = 5})
    local ok2, problems = g:validate()
    assert.is_false(ok2)
    assert.truthy(problems[1].message:find("input 't': expected TENSOR, got number 5", 1, true))
  end)

  it("emits events in order", function()
    local p = types()
    local g = fokus.graph()
    local a = g:add(p .. "num", {x = 2})
    g:add(p .. "slow", {a = a.v, steps = 2})
    local seen = {}
    local function ev(e)
      local s = e.type .. (e.node and (" " .. e.node) or "")
      if e.type == "progress" then s = s .. " " .. e.value .. "/" .. e.max end
      seen[#seen + 1] = s
    end
    g:run{events = ev}
    assert.are.same({"start 1", "executed 1", "start 2", "progress 2 1/2", "progress 2 2/2", "executed 2", "done"},
                    seen)
    seen = {}
    g:run{events = ev}
    assert.are.same({"cached 1", "cached 2", "done"}, seen)
  end)

  it("interrupts when events returns false, from a node's progress too", function()
    local p, calls = types()
    local g = fokus.graph()
    local a = g:add(p .. "num", {x = 2})
    local s = g:add(p .. "slow", {a = a.v, steps = 5})
    local ok, err = pcall(g.run, g, {events = function(e)
      if e.type == "progress" and e.value == 2 then return false end
    end})
    assert.is_false(ok)
    assert.are.equal("interrupted", err)
    assert.are.equal(2, calls.slow_step)
    assert.is_nil(calls.slow)
    -- what finished stays cached; the interrupted node runs again
    local r, rep = g:run{events = false}
    assert.are.same({"2"}, rep.executed)
    assert.are.same({"1"}, rep.cached)
    assert.are.equal(4, r[s].v)
    -- interrupt at a node's start
    a:set("x", 3)
    ok, err = pcall(g.run, g, {events = function(e) if e.type == "start" then return false end end})
    assert.is_false(ok)
    assert.are.equal("interrupted", err)
  end)

  it("raises naming the node on an error, keeping what succeeded cached", function()
    local p, calls = types()
    local g = fokus.graph()
    local a = g:add(p .. "num", {x = 2})
    local b = g:add(p .. "num", {x = 5})
    local l = line(); local f = g:add(p .. "fail", {a = a.v})
    local s = g:add(p .. "add", {a = f.v, b = b.v})
    local errors = {}
    local ok, err = pcall(g.run, g, {events = function(e) if e.type == "error" then errors[#errors + 1] = e end end})
    assert.is_false(ok)
    assert.truthy(err:find("node 3 (" .. p .. "fail) (added at " .. THIS .. ":" .. l .. "): ", 1, true))
    assert.truthy(err:find("no good: 2", 1, true))
    assert.are.equal(1, #errors)
    assert.are.equal("3", errors[1].node)
    assert.are.equal(err, errors[1].message)
    assert.truthy(errors[1].traceback:find("stack traceback:", 1, true))
    assert.truthy(errors[1].traceback:find(THIS .. ":28: in function", 1, true), errors[1].traceback)
    -- fix: the upstream nodes are not run again
    s:set("a", a.v)
    local r, rep = g:run{outputs = {s}, events = false}
    -- (node 2 comes after node 3 in the pull order: it had not run yet)
    assert.are.same({"2", "4"}, rep.executed)
    assert.are.same({"1"}, rep.cached)
    assert.are.equal(7, r[s].sum)
    assert.are.equal(2, calls.num)
  end)

  it("raises when a node returns fewer outputs than it declares", function()
    fokus.define{type = "graph_spec_short", outputs = {{"a", "INT"}, {"b", "INT"}}, run = function() return 1 end}
    local g = fokus.graph()
    local l = line(); g:add("graph_spec_short", {})
    local ok, err = pcall(g.run, g, {events = false})
    assert.is_false(ok)
    assert.are.equal("node 1 (graph_spec_short) (added at " .. THIS .. ":" .. l .. "): run returned 1 value, but "
                     .. "output 2 ('b') is declared", err)
  end)

  it("has a terminal display: one line per node, progress in place", function()
    local p = types()
    local g = fokus.graph()
    local a = g:add(p .. "num", {x = 2})
    g:add(p .. "slow", {a = a.v, steps = 2})
    local buf = {}
    local out = {write = function(self, ...) for _, s in ipairs({...}) do buf[#buf + 1] = s end end,
                 flush = function() end}
    g:run{events = require("fokus.run").display(out)}
    local text = table.concat(buf):gsub("[%d.]+ ms", "T ms")
    assert.are.equal("  [1] " .. p .. "num" .. string.rep(" ", 18 - #p - 3) .. " T ms\n" ..
                     "\r  [2] " .. p .. "slow 1/2\r  [2] " .. p .. "slow 2/2\n" ..
                     "  [2] " .. p .. "slow" .. string.rep(" ", 18 - #p - 4) .. " T ms\n" ..
                     "  done: 2 executed, 0 cached, T ms\n", text)
  end)

  it("rejects bad options", function()
    local g = fokus.graph()
    assert.has_error(function() g:run{output = {}} end, "run: unknown option 'output' (did you mean 'outputs'?)")
    assert.has_error(function() g:run{events = 1} end, "run: option 'events' must be a function or false, got number")
  end)
end)

describe("fokus.nodes sugar", function()
  it("adds nodes by type name", function()
    local p = types()
    local g = fokus.graph()
    local nodes = fokus.nodes(g)
    local a = nodes[p .. "num"]{x = 4}
    local l = line(); local s = nodes[p .. "add"]{a = a, b = 1}
    assert.are.equal(THIS .. ":" .. l, s.where)
    local r = g:run{events = false}
    assert.are.equal(5, r[s].sum)
  end)
end)
