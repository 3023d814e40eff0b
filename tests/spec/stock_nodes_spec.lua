-- The stock node types give exactly what the functions they wrap give.
local fokus = require "fokus"
local H = fokus_test

local function run(g, outputs)
  return g:run{outputs = outputs, events = false}
end

describe("stock node types", function()
  it("are all listed, with a category and a description", function()
    local want = {"attend", "attention_at", "average", "capture_attention", "cfg", "class_label", "conditioning",
                  "dit_step", "empty_latent", "encode", "heatmap", "latent_preview", "load_clip", "load_dit",
                  "load_mmdit", "load_tokenizer", "noise", "parse_weights", "randn", "sample", "save_png",
                  "save_tensors", "select", "sigmas", "tiny_clip", "tiny_dit", "tiny_mmdit", "tokenize", "weight"}
    local have = {}
    for _, t in ipairs(fokus.node_types()) do have[t.type] = t end
    for _, name in ipairs(want) do
      assert.is_truthy(have[name], name)
      assert.is_true(#have[name].description > 10, name)
      assert.is_true(have[name].category ~= "user", name)
    end
  end)

  it("sample on a DiT equals fokus.sample, with progress events per step", function()
    local g = fokus.graph()
    local n = fokus.nodes(g)
    local model = n.tiny_dit{seed = 1}
    local lat = n.empty_latent{model = model, width = 8, height = 8, batch = 2}
    local noise = n.noise{latent = lat, seed = 5}
    local s = n.sample{model = model, noise = noise, cond = n.class_label{label = 2}, steps = 4, cfg = 3}
    local progress, last = {}, nil
    local r = g:run{events = function(ev)
      if ev.type == "progress" then
        progress[#progress + 1] = ev.node .. ":" .. ev.value .. "/" .. ev.max
        last = ev
      end
    end}
    assert.are.same({"5:1/4", "5:2/4", "5:3/4", "5:4/4"}, progress)
    assert.are.equal(0, H.maxdiff(last.x, r[s].latent))  -- the step's x and denoised come with the event
    assert.are.same({2, 4, 8, 8}, last.denoised:shape())
    local m = fokus.dit.tiny{seed = 1}
    local x = fokus.randn({2, 4, 8, 8}, {seed = 5})
    local want = fokus.sample(m, x, 2, {steps = 4, cfg = 3, progress = false})
    assert.are.same({2, 4, 8, 8}, r[s].latent:shape())
    assert.are.equal(0, H.maxdiff(want, r[s].latent))
    assert.are.equal(0, H.maxdiff(x, r[noise].noise))
  end)

  it("a sampler interrupted from its progress events stops at that step and runs again next time", function()
    local g = fokus.graph()
    local n = fokus.nodes(g)
    local model = n.tiny_dit{seed = 1}
    local noise = n.noise{latent = n.empty_latent{model = model, width = 8, height = 8}, seed = 5}
    local s = n.sample{model = model, noise = noise, cond = n.class_label{label = 2}, steps = 6}
    local seen = 0
    local ok, err = pcall(g.run, g, {events = function(ev)
      if ev.type == "progress" then
        seen = ev.value
        if ev.value == 2 then return false end
      end
    end})
    assert.is_false(ok)
    assert.are.equal("interrupted", err)
    assert.are.equal(2, seen)
    local r, rep = g:run{outputs = {s}, events = false}
    assert.are.same({s.id}, rep.executed)
    assert.are.equal(4, #rep.cached)
    assert.are.same({1, 4, 8, 8}, r[s].latent:shape())
  end)

  it("gives a node the workflow as JSON, or nil and the reason", function()
    local texts = {}
    fokus.define{type = "stock_spec_wf", inputs = {{"x", "*", {optional = true}}}, outputs = {{"ok", "BOOLEAN"}},
                 run = function(_, ctx)
                   local text, err = ctx.workflow()
                   texts[#texts + 1] = text or err
                   return text ~= nil
                 end}
    local g = fokus.graph()
    local a = g:add("stock_spec_wf", {x = 1})
    local r = g:run{events = false}
    assert.is_true(r[a].ok)
    assert.are.equal(g:to_json(), texts[1])
    a:set("x", fokus.zeros{1})
    r = g:run{events = false}
    assert.is_false(r[a].ok)
    assert.truthy(texts[2]:find("input 'x' is a fokus.Tensor, which a workflow file cannot hold", 1, true))
  end)

  it("dit_step and sigmas equal fokus.dit_step over fokus.sigmas", function()
    local g = fokus.graph()
    local n = fokus.nodes(g)
    local model = n.tiny_mmdit{seed = 3}
    local lat = n.empty_latent{model = model, width = 8, height = 8}
    local noise = n.noise{latent = lat, seed = 9}
    local cond = n.conditioning{context = n.randn{shape = {1, 6, 64}, seed = 1}, pooled = n.randn{shape = {1, 64}, seed = 2}}
    local uncond = n.conditioning{context = n.randn{shape = {1, 6, 64}, seed = 3},
                                  pooled = n.randn{shape = {1, 64}, seed = 4}}
    local sig = n.sigmas{steps = 5, shift = 3}
    local step = n.dit_step{model = model, x = noise, sigma = 1.0, sigma_next = 0.8, cond = cond, uncond = uncond,
                            cfg = 4.5}
    local r = run(g)
    local m = fokus.mmdit.tiny{seed = 3, context_dim = 64, pooled_dim = 64}
    local c = {context = fokus.randn({1, 6, 64}, {seed = 1}), y = fokus.randn({1, 64}, {seed = 2})}
    local u = {context = fokus.randn({1, 6, 64}, {seed = 3}), y = fokus.randn({1, 64}, {seed = 4})}
    local x = fokus.randn({1, 4, 8, 8}, {seed = 9})
    local want, den = fokus.dit_step(m, x, 1.0, 0.8, c, {uncond = u, cfg = 4.5})
    assert.are.equal(0, H.maxdiff(want, r[step].x))
    assert.are.equal(0, H.maxdiff(den, r[step].denoised))
    assert.are.equal(0, H.maxdiff(fokus.sigmas(5, {shift = 3}), r[sig].sigmas))
  end)

  it("capture_attention samples like sample and averages the maps over the steps", function()
    local g = fokus.graph()
    local n = fokus.nodes(g)
    local model = n.tiny_mmdit{seed = 3}
    local lat = n.empty_latent{model = model, width = 8, height = 8}
    local noise = n.noise{latent = lat, seed = 9}
    local cond = n.conditioning{context = n.randn{shape = {1, 6, 64}, seed = 1}, pooled = n.randn{shape = {1, 64}, seed = 2}}
    local uncond = n.conditioning{context = n.randn{shape = {1, 6, 64}, seed = 3},
                                  pooled = n.randn{shape = {1, 64}, seed = 4}}
    local cap = n.capture_attention{model = model, noise = noise, cond = cond, uncond = uncond, cfg = 2, steps = 2}
    local plain = n.sample{model = model, noise = noise, cond = cond, uncond = uncond, cfg = 2, steps = 2}
    local r = run(g)
    assert.are.equal(0, H.maxdiff(r[plain].latent, r[cap].latent))
    local att = r[cap].attention
    assert.are.same({1, 6, 4, 4}, att:shape())
    -- the same average by hand: the conditional half of each step's batch
    local m = fokus.mmdit.tiny{seed = 3, context_dim = 64, pooled_dim = 64}
    local c = {context = fokus.randn({1, 6, 64}, {seed = 1}), y = fokus.randn({1, 64}, {seed = 2})}
    local u = {context = fokus.randn({1, 6, 64}, {seed = 3}), y = fokus.randn({1, 64}, {seed = 4})}
    local x = fokus.randn({1, 4, 8, 8}, {seed = 9})
    local sig = fokus.sigmas(2, {shift = 3}):totable()
    local sum
    x = fokus.axpby(sig[1], x)
    for i = 1, 2 do
      local out = m:forward(fokus.cat({x, x}, 1), fokus.tensor({1000 * sig[i], 1000 * sig[i]}),
                            fokus.cat({c.context, u.context}, 1), fokus.cat({c.y, u.y}, 1), {attention = true})
      local a = out.attention:narrow(1, 1, 1)
      sum = sum and fokus.axpby(1, sum, 1, a) or a:clone()
      x = fokus.dit_step(m, x, sig[i], sig[i + 1], c, {uncond = u, cfg = 2})
    end
    assert.is_true(H.maxdiff(fokus.axpby(0.5, sum), att) < 1e-6)
    -- one forward at a sigma
    local at = n.attention_at{model = model, latent = noise, cond = cond, sigma = 0.25, blocks = "1"}
    r = run(g, {at})
    local want = m:forward(fokus.randn({1, 4, 8, 8}, {seed = 9}), fokus.tensor({250}), c.context, c.y,
                           {attention = {1}})
    assert.are.equal(0, H.maxdiff(want.attention, r[at].attention))
    assert.are.equal(0, H.maxdiff(want.out, r[at].out))
    -- a DiT has no text tokens to map
    local d = n.attention_at{model = n.tiny_dit{}, latent = noise, cond = cond}
    local ok, err = pcall(run, g, {d})
    assert.is_false(ok)
    assert.truthy(err:find("attention capture needs an MMDiT (text tokens attend to image patches), got a dit", 1, true))
  end)

  it("tensor ops: attend, cfg, select, average", function()
    local g = fokus.graph()
    local n = fokus.nodes(g)
    local q, k, v = n.randn{shape = {2, 5, 8}, seed = 1}, n.randn{shape = {2, 7, 8}, seed = 2}, n.randn{shape = {2, 7, 8}, seed = 3}
    local a = n.attend{q = q, k = k, v = v, causal = true}
    local sel = n.select{tensor = a.probs, dim = 1, index = 2}
    local avg = n.average{tensor = a.probs, dim = 1}
    local c = n.cfg{cond = q, uncond = n.randn{shape = {2, 5, 8}, seed = 4}, scale = 2}
    local r = run(g)
    local tq, tk, tv = fokus.randn({2, 5, 8}, {seed = 1}), fokus.randn({2, 7, 8}, {seed = 2}), fokus.randn({2, 7, 8}, {seed = 3})
    local out, probs = fokus.attend(tq, tk, tv, {causal = true, probs = true})
    assert.are.equal(0, H.maxdiff(out, r[a].out))
    assert.are.equal(0, H.maxdiff(probs, r[a].probs))
    assert.are.equal(0, H.maxdiff(probs:select(1, 2), r[sel].tensor))
    assert.are.equal(0, H.maxdiff(fokus.cfg(tq, fokus.randn({2, 5, 8}, {seed = 4}), 2), r[c].out))
    local p = probs:totable()
    local ra = r[avg].tensor:totable()
    for i = 1, 5 do
      for j = 1, 7 do
        assert.is_true(math.abs((p[1][i][j] + p[2][i][j]) / 2 - ra[i][j]) < 1e-7)
      end
    end
    local bad = n.cfg{cond = q, uncond = fokus.zeros{3}, scale = 2}
    local ok = pcall(run, g, {bad})
    assert.is_false(ok)
    -- out of range select
    local s2 = n.select{tensor = q, dim = 3, index = 9}
    local ok2, err2 = pcall(run, g, {s2})
    assert.is_false(ok2)
    assert.truthy(err2:find("index 9 is out of range for dim 3 of fokus.Tensor(f32, 2x5x8)", 1, true), err2)
  end)

  it("pictures: heatmap, latent_preview and save_png write the image of the function", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local g = fokus.graph()
    local n = fokus.nodes(g)
    local map = n.randn{shape = {3, 4}, seed = 1}
    local hm = n.heatmap{map = map, cell = 5}
    local prev = n.latent_preview{latent = n.randn{shape = {1, 4, 6, 6}, seed = 2}, scale = 2}
    local s = n.save_png{image = hm, path = dir .. "/hm.png"}
    local r = run(g, {s, prev})
    assert.are.equal(dir .. "/hm.png", r[s].path)
    assert.are.equal(0, H.maxdiff(fokus.heatmap(fokus.randn({3, 4}, {seed = 1}), {cell = 5}), r[hm].image))
    assert.are.equal(0, H.maxdiff(fokus.latent_preview(fokus.randn({1, 4, 6, 6}, {seed = 2}), {scale = 2}), r[prev].image))
    local f = assert(io.open(dir .. "/hm.png", "rb"))
    assert.are.equal("\137PNG", f:read(4))
    f:close()
    n.save_png{image = hm, path = dir .. "/no/such/dir/x.png"}
    local ok, err = pcall(run, g)
    assert.is_false(ok)
    assert.truthy(err:find(dir .. "/no/such/dir/x.png", 1, true), err)
    os.execute("rm -rf " .. dir)
  end)

  it("loaders report the file's problem as the node's error", function()
    local g = fokus.graph()
    local l = g:add("load_mmdit", {path = "/nonexistent/sd3.safetensors"})
    local ok, err = pcall(run, g)
    assert.is_false(ok)
    assert.truthy(err:find("^node 1 %(load_mmdit%) %(added at [^)]+%): /nonexistent/sd3.safetensors: "), err)
    l:set("path", 5)
    local ok2, problems = g:validate()
    assert.is_false(ok2)
    assert.truthy(problems[1].message:find("input 'path': expected STRING, got number", 1, true))
  end)

  it("text: tokenize, encode and weight equal the functions (needs the CLIP vocabulary)", function()
    local shared = H.shared()
    if not shared then
      pending("../shared not found (set FOKUS_SHARED): no CLIP vocabulary")
      return
    end
    local vocab = shared .. "/clip/bpe_simple_vocab_16e6.txt.gz"
    local prompt = "a (red:1.3) cat chases a grey mouse"
    local g = fokus.graph()
    local n = fokus.nodes(g)
    local tok = n.load_tokenizer{path = vocab}
    local clip = n.tiny_clip{seed = 4}
    local segs = n.parse_weights{text = prompt}
    local t = n.tokenize{tokenizer = tok, text = prompt}
    local e = n.encode{clip = clip, tokens = t, skip = 2}
    local w = n.weight{hidden = e.hidden, tokens = t}
    local c = n.conditioning{context = w, pooled = e.pooled}
    local r = run(g, {c, segs})
    local tk = assert(fokus.tokenizer(vocab))
    local chunks = fokus.tokenize(tk, prompt)
    local m = fokus.clip.tiny{seed = 4, width = 64, layers = 2}
    local hidden, pooled = m:encode(chunks, {skip = 2})
    assert.are.same(fokus.parse_weights(prompt), r[segs].segments)
    assert.are.same(chunks, r[t].tokens)
    assert.are.equal(0, H.maxdiff(hidden, r[e].hidden))
    assert.are.equal(0, H.maxdiff(pooled, r[e].pooled))
    assert.are.equal(0, H.maxdiff(fokus.weight(hidden, chunks, {mode = "a1111"}), r[w].hidden))
    assert.are.equal(r[w].hidden, r[c].conditioning.context)
    -- changing the prompt re-runs exactly tokenize and what follows it
    t:set("text", "a (blue:1.3) cat")
    local _, rep = g:run{outputs = {c}, events = false}
    table.sort(rep.executed)
    assert.are.same({"4", "5", "6", "7"}, rep.executed)
  end)
end)
