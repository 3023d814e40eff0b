-- fokus.mods: the stock attention variants, written as ordinary traced mods.
return function(fokus)
  local mods = {}

  local function as_tensor(x, what)
    if fokus.is_tensor(x) then return x end
    if type(x) == "table" then return fokus.tensor(x) end
    error("fokus.mods." .. what .. ": expected a tensor or a table of numbers, got " .. type(x), 3)
  end

  local function check_positive(n, what)
    if type(n) ~= "number" or not (n > 0) then
      error("fokus.mods." .. what .. ": expected a positive number, got " .. tostring(n), 3)
    end
  end

  -- key j visible to query i iff j <= i
  mods.causal = fokus.mask_mod(function(b, h, q, k) return k:le(q) end)

  -- the n most recent keys up to the query itself (q - n < k <= q); with
  -- {causal = false} the keys within n - 1 positions on either side (|q - k| < n)
  function mods.sliding_window(n, opts)
    check_positive(n, "sliding_window")
    if opts ~= nil and type(opts) ~= "table" then error("fokus.mods.sliding_window: opts must be a table", 2) end
    for key in pairs(opts or {}) do
      if key ~= "causal" then error("fokus.mods.sliding_window: unknown option '" .. tostring(key) .. "'", 2) end
    end
    if opts and opts.causal == false then
      return fokus.mask_mod(function(b, h, q, k) return fokus.abs(q - k):lt(n) end)
    end
    return fokus.mask_mod(function(b, h, q, k) return k:le(q):logical_and((q - k):lt(n)) end)
  end

  -- ALiBi: score + slope[h] * (k - q) (a linear penalty with distance, per head)
  function mods.alibi(slopes)
    local s = as_tensor(slopes, "alibi")
    return fokus.score_mod(function(score, b, h, q, k) return score + s[h] * (k - q) end)
  end

  -- the standard ALiBi slopes of n heads: 2^(-8 i / n), i = 1..n (ext.)
  function mods.alibi_slopes(n)
    local t = {}
    for i = 1, n do t[i] = 2 ^ (-8 * i / n) end
    return fokus.tensor(t)
  end

  -- soft-capping (Gemma 2, Grok): c * tanh(score / c)
  function mods.softcap(c)
    check_positive(c, "softcap")
    return fokus.score_mod(function(score) return c * fokus.tanh(score / c) end)
  end

  -- document masking for packed sequences: ids [N] or [B, N] (one id per token, for
  -- queries and keys alike); a query sees only keys of its own document
  function mods.document(ids)
    local t = as_tensor(ids, "document")
    local r = #t:shape()
    if r == 1 then return fokus.mask_mod(function(b, h, q, k) return t[q]:eq(t[k]) end) end
    if r == 2 then return fokus.mask_mod(function(b, h, q, k) return t[b][q]:eq(t[b][k]) end) end
    error("fokus.mods.document: ids must be [N] or [B, N], got " .. tostring(t), 2)
  end

  -- prefix-LM: the first n keys are visible to every query, the rest causally
  function mods.prefix_lm(n)
    if type(n) ~= "number" or n < 0 then error("fokus.mods.prefix_lm: expected a prefix length >= 0, got " .. tostring(n), 2) end
    return fokus.mask_mod(function(b, h, q, k) return k:le(n):logical_or(k:le(q)) end)
  end

  -- per-key weights as a log bias: score + log(w[k]) (w [Nk] or [B, Nk]; w = 0 masks)
  function mods.token_weights(w)
    local t = as_tensor(w, "token_weights")
    local r = #t:shape()
    if r == 1 then return fokus.score_mod(function(score, b, h, q, k) return score + fokus.log(t[k]) end) end
    if r == 2 then return fokus.score_mod(function(score, b, h, q, k) return score + fokus.log(t[b][k]) end) end
    error("fokus.mods.token_weights: w must be [Nk] or [B, Nk], got " .. tostring(t), 2)
  end

  return mods
end
