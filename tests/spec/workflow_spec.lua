-- Workflows that travel: g:to_json / fokus.graph.from_json (ComfyUI API format),
-- g:to_dot, `build/fokus run workflow.json --set ...`, and the installed module.
local fokus = require "fokus"
local H = fokus_test

local root = os.getenv("FOKUS_ROOT") or "."
local build = os.getenv("FOKUS_BUILD") or (root .. "/build")
if build:sub(1, 1) ~= "/" then build = root .. "/" .. build end

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"status=$?\"")
  local out = p:read("*a")
  p:close()
  return out:gsub("status=%d+\n$", ""), tonumber(out:match("status=(%d+)\n$"))
end

-- A DiT workflow writing a latent preview and the latent itself into `dir`.
local function dit_graph(dir)
  local g = fokus.graph()
  local n = fokus.nodes(g)
  local model = n.tiny_dit{seed = 1}
  local lat = n.empty_latent{model = model, width = 8, height = 8}
  local noise = n.noise{latent = lat, seed = 3}
  local label = n.class_label{label = 3}
  local s = n.sample{model = model, noise = noise, cond = label, steps = 3, cfg = 2.5}
  n.save_png{image = n.latent_preview{latent = s, scale = 4}, path = dir .. "/preview.png"}
  n.save_tensors{tensor = s, path = dir .. "/latent.safetensors", name = "latent"}
  return g, s
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

describe("g:to_json / fokus.graph.from_json", function()
  it("writes ComfyUI's API format and reads it back exactly", function()
    local d = tmpdir()
    local g, s = dit_graph(d)
    local text = g:to_json()
    local doc = fokus.json.decode(text)
    assert.are.same({class_type = "sample", _meta = {title = "sample"},
                     inputs = {model = {"1", 0}, noise = {"3", 0}, cond = {"4", 0}, steps = 3, cfg = 2.5}}, doc["5"])
    assert.are.same({"1", 0}, doc["2"].inputs.model)
    local g2 = assert(fokus.graph.from_json(text))
    assert.are.equal(text, g2:to_json())
    assert.are.equal(g:to_json({indent = 0}), g2:to_json({indent = 0}))
    assert.is_nil(g:to_json({indent = 0}):find("\n"))
    -- the same nodes, constants and links
    for _, n in ipairs(g:list()) do
      local m = g2:node(n.id)
      assert.are.equal(n.type, m.type)
      for k, v in pairs(n.inputs) do
        if type(v) == "table" and rawget(v, "id") then -- a node given whole: its only output
          assert.are.equal(v.id, m.inputs[k].node.id)
          assert.are.equal(1, m.inputs[k].index)
        elseif type(v) == "table" and rawget(v, "node") then
          assert.are.equal(v.node.id, m.inputs[k].node.id)
          assert.are.equal(v.index, m.inputs[k].index)
        else
          assert.are.equal(v, m.inputs[k])
        end
      end
    end
    -- and the same results
    local r1 = g:run{events = false}
    local r2 = g2:run{events = false}
    assert.are.equal(0, H.maxdiff(r1[s].latent, r2["5"].latent))
    -- titles survive
    local doc2 = fokus.json.decode(text)
    doc2["5"]._meta.title = "my sampler"
    local text2 = fokus.json.encode(doc2, {indent = 2})
    local g3 = assert(fokus.graph.from_json(text2))
    assert.are.equal(text2, g3:to_json())
    os.execute("rm -rf " .. d)
  end)

  it("rejects a ComfyUI workflow whose class types fokus lacks, listing them", function()
    local comfy = [[{
      "3": {"class_type": "KSampler", "inputs": {"cfg": 8, "denoise": 1, "latent_image": ["5", 0],
            "model": ["4", 0], "negative": ["7", 0], "positive": ["6", 0], "sampler_name": "euler",
            "scheduler": "normal", "seed": 8566257, "steps": 20}},
      "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
      "5": {"class_type": "EmptyLatentImage", "inputs": {"batch_size": 1, "height": 512, "width": 512}},
      "6": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "a red cat"}},
      "7": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "text, watermark"}},
      "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
      "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
      "10": {"class_type": "sample", "inputs": {}}
    }]]
    local g, err = fokus.graph.from_json(comfy, {name = "comfy.json"})
    assert.is_nil(g)
    assert.are.equal("comfy.json: the workflow uses 6 node types fokus lacks: CLIPTextEncode (2 nodes), "
                     .. "CheckpointLoaderSimple, EmptyLatentImage, KSampler, SaveImage, VAEDecode", err)
    -- the same as a /prompt request body
    g, err = fokus.graph.from_json('{"prompt": ' .. comfy .. '}')
    assert.is_nil(g)
    assert.truthy(err:find("workflow: the workflow uses 6 node types", 1, true))
  end)

  it("rejects what is not an API-format workflow with a clear message", function()
    local cases = {
      {'{"1": {"class_type": "sample", "inputs": {}', "w.json: json: line 1, column 43: '}' expected near end of file"},
      {'{"nodes": [], "links": [], "version": 0.4}',
       'w.json: this is ComfyUI\'s UI format (nodes and links); export it with "Save (API Format)"'},
      {'[1, 2]', "w.json: expected a JSON object of nodes"},
      {'{"1": {"inputs": {}}}', 'w.json: node 1: expected {"class_type": ..., "inputs": {...}}'},
      {'{"1": {"class_type": "select", "inputs": {"tensor": ["7", 0]}}}',
       "w.json: node 1 input 'tensor' links to node 7, which the workflow lacks"},
      {'{"1": {"class_type": "select", "inputs": [1]}}', 'w.json: node 1: "inputs" must be an object'},
    }
    for _, c in ipairs(cases) do
      local g, err = fokus.graph.from_json(c[1], {name = "w.json"})
      assert.is_nil(g)
      assert.are.equal(c[2], err)
    end
    assert.has_error(function() fokus.graph.from_json(1) end, "from_json: text must be a string, got number")
  end)

  it("leaves the rest to validate, naming the file", function()
    local g = assert(fokus.graph.from_json([[{
      "1": {"class_type": "tiny_dit", "inputs": {"seed": -1}},
      "2": {"class_type": "empty_latent", "inputs": {"model": ["1", 0], "widht": 8}},
      "3": {"class_type": "select", "inputs": {"tensor": ["1", 0]}}
    }]], {name = "w.json"}))
    local ok, problems = g:validate()
    assert.is_false(ok)
    local got = {}
    for i, p in ipairs(problems) do got[i] = p.message end
    assert.are.same({
      "w.json: node 1 (tiny_dit) input 'seed': -1 is below the minimum 0",
      "w.json: node 2 (empty_latent) input 'widht': unknown input (did you mean 'width'?)",
      "w.json: node 3 (select) input 'tensor': expected TENSOR, got MODEL from node 1 (tiny_dit).model",
    }, got)
  end)

  it("refuses constants a file cannot hold", function()
    local g = fokus.graph()
    g:add("select", {tensor = fokus.zeros{2}})
    assert.has_error(function() g:to_json() end,
      "to_json: node 1 (select) input 'tensor' is a fokus.Tensor, which a workflow file cannot hold "
      .. "(make it the output of a node, e.g. a loader)")
  end)
end)

describe("g:to_dot", function()
  it("draws nodes with their constants and links with their sockets", function()
    local g = dit_graph("/tmp")
    local dot = g:to_dot()
    assert.truthy(dot:find('^digraph fokus {'))
    assert.truthy(dot:find('"n5" [label="5: sample\\ncfg = 2.5\\nsteps = 3"];', 1, true), dot)
    assert.truthy(dot:find('"n1" -> "n5" [label="model -> model"];', 1, true))
    assert.truthy(dot:find('"n4" -> "n5" [label="conditioning -> cond"];', 1, true))
  end)
end)

describe("build/fokus run", function()
  it("runs a saved workflow, prints per-node times and the files, and takes --set", function()
    local d = tmpdir()
    local g = dit_graph(d)
    writefile(d .. "/wf.json", g:to_json())
    local out, status = sh(string.format("cd / && %s/fokus run %s/wf.json", build, d))
    assert.are.equal(0, status, out)
    assert.truthy(out:find("%[5%] sample +[%d.]+ ms"), out)
    assert.truthy(out:find("  wrote " .. d .. "/preview.png", 1, true), out)
    assert.truthy(out:find("  wrote " .. d .. "/latent.safetensors", 1, true), out)
    assert.truthy(out:find("done in .*: 8 executed, 0 cached"), out)
    local a = fokus.load(d .. "/latent.safetensors").latent
    -- what the graph gives in this process
    local r = g:run{events = false}
    assert.are.equal(0, H.maxdiff(r["5"].latent, a))
    -- --set changes a constant
    out, status = sh(string.format("%s/fokus run %s/wf.json --set 3.seed=4 --set 5.steps=2", build, d))
    assert.are.equal(0, status, out)
    local b = fokus.load(d .. "/latent.safetensors").latent
    g:node("3"):set("seed", 4)
    g:node("5"):set("steps", 2)
    r = g:run{events = false}
    assert.are.equal(0, H.maxdiff(r["5"].latent, b))
    assert.is_true(H.maxdiff(a, b) > 0.01)
    -- --json and --dot show the workflow after --set, without running it
    out, status = sh(string.format("%s/fokus run %s/wf.json --set 3.seed=9 --json", build, d))
    assert.are.equal(0, status, out)
    assert.are.equal(9, fokus.json.decode(out)["3"].inputs.seed)
    out, status = sh(string.format("%s/fokus run %s/wf.json --dot", build, d))
    assert.are.equal(0, status, out)
    assert.are.equal(assert(fokus.graph.from_json(readfile(d .. "/wf.json"))):to_dot(), out)
    out, status = sh(string.format("%s/fokus run --types", build))
    assert.are.equal(0, status, out)
    assert.truthy(out:find("\nsample (diffusion): model: MODEL, noise: LATENT, cond: CONDITIONING, uncond: CONDITIONING?, "
                           .. "steps: INT = 20,", 1, true), out)
    -- --output runs only what a node needs
    out, status = sh(string.format("%s/fokus run %s/wf.json --output 2", build, d))
    assert.are.equal(0, status, out)
    assert.truthy(out:find("2 executed, 0 cached", 1, true), out)
    os.execute("rm -rf " .. d)
  end)

  it("exits non-zero with one clear line on errors", function()
    local d = tmpdir()
    local g = dit_graph(d)
    writefile(d .. "/wf.json", g:to_json())
    local cases = {
      {"--set 3.seed=x", "fokus run: --set '3.seed=x': input 'seed' is INT: expected a number, got 'x'\n"},
      {"--set 3.sed=1", "fokus run: --set '3.sed=1': node 3 (noise) has no input 'sed' (inputs: latent, seed)\n"},
      {"--set 99.seed=1", "fokus run: --set '99.seed=1': " .. d .. "/wf.json has no node 99\n"},
      {"--set 5.steps=0", "fokus run: graph: 1 problem:\n  " .. d ..
                          "/wf.json: node 5 (sample) input 'steps': 0 is below the minimum 1\n"},
    }
    for _, c in ipairs(cases) do
      local out, status = sh(string.format("%s/fokus run --quiet %s/wf.json %s", build, d, c[1]))
      assert.are.equal(1, status, out)
      assert.are.equal(c[2], out)
    end
    local out, status = sh(string.format("%s/fokus run %s/missing.json", build, d))
    assert.are.equal(1, status)
    assert.are.equal("fokus run: " .. d .. "/missing.json: No such file or directory\n", out)
    -- a node that fails names itself
    writefile(d .. "/bad.json", '{"1": {"class_type": "load_clip", "inputs": {"path": "' .. d .. '/nope.safetensors"}}}')
    out, status = sh(string.format("%s/fokus run --quiet %s/bad.json", build, d))
    assert.are.equal(1, status)
    assert.truthy(out:find("^fokus run: node 1 %(load_clip%) %(added at " .. d:gsub("%p", "%%%0") .. "/bad.json%): "),
                  out)
    assert.truthy(out:find(d .. "/nope.safetensors", 1, true), out)
    out, status = sh(string.format("%s/fokus run", build))
    assert.are.equal(2, status)
    assert.truthy(out:find("usage: fokus run WORKFLOW.json", 1, true))
    out, status = sh(string.format("%s/fokus run %s/wf.json --bogus", build, d))
    assert.are.equal(2, status)
    assert.truthy(out:find("fokus run: unknown option '--bogus'", 1, true))
    os.execute("rm -rf " .. d)
  end)
end)

describe("make install", function()
  it("installs a module plain lua5.4 loads, graphs included", function()
    local d = tmpdir()
    local out, status = sh(string.format("make -s -C %s --no-print-directory install BUILD=%s PREFIX=/usr/local DESTDIR=%s",
                                         root, build, d))
    assert.are.equal(0, status, out)
    local lmod, cmod = d .. "/usr/local/share/lua/5.4", d .. "/usr/local/lib/lua/5.4"
    local script = "local f = require 'fokus'; local g = f.graph(); local n = g:add('randn', {shape = {2, 3}, seed = 1}); " ..
                   "local r = g:run{events = false}; print(f.version, #f.node_types() > 20, r[n].tensor)"
    out, status = sh(string.format("cd / && LUA_PATH='%s/?.lua;%s/?/init.lua' LUA_CPATH='%s/?.so' lua5.4 -e \"%s\"",
                                   lmod, lmod, cmod, script))
    assert.are.equal(0, status, out)
    assert.truthy(out:find("^%d+%.%d+%.%d+\ttrue\tfokus.Tensor%(f32, 2x3%)"), out)
    os.execute("rm -rf " .. d)
  end)
end)
