-- Text nodes: prompt syntax, tokens, the text encoder and token weights.
return function(fokus)
  local define = fokus.define
  local SYNTAX = {"a1111", "comfy"}

  define{type = "parse_weights", category = "text",
         description = "the prompt's (text, weight) segments, as A1111 or ComfyUI parse emphasis",
         inputs = {{"text", "STRING"}, {"syntax", "STRING", {default = "a1111", choices = SYNTAX}}},
         outputs = {{"segments", "SEGMENTS"}},
         run = function(i) return fokus.parse_weights(i.text, {syntax = i.syntax}) end}

  define{type = "tokenize", category = "text",
         description = "77-token chunks {ids =, weights =} of a prompt (emphasis, BREAK)",
         inputs = {{"tokenizer", "TOKENIZER"}, {"text", "STRING"},
                   {"syntax", "STRING", {default = "a1111", choices = SYNTAX}}},
         outputs = {{"tokens", "TOKENS"}},
         run = function(i) return fokus.tokenize(i.tokenizer, i.text, {syntax = i.syntax}) end}

  define{type = "encode", category = "text",
         description = "CLIP text encoder over the chunks: hidden [1, 77*chunks, D] and pooled [1, D] "
                       .. "(skip 2 = penultimate layer)",
         inputs = {{"clip", "CLIP"}, {"tokens", "TOKENS"}, {"skip", "INT", {default = 1, min = 1, max = 2}}},
         outputs = {{"hidden", "TENSOR"}, {"pooled", "TENSOR"}},
         run = function(i)
           local hidden, pooled = i.clip:encode(i.tokens, {skip = i.skip})
           return hidden, pooled
         end}

  define{type = "weight", category = "text",
         description = "applies the chunks' token weights to the encoder output (comfy mode needs the empty "
                       .. "prompt's encoding)",
         inputs = {{"hidden", "TENSOR"}, {"tokens", "TOKENS"},
                   {"mode", "STRING", {default = "a1111", choices = {"a1111", "a1111_nonorm", "comfy", "none"}}},
                   {"empty", "TENSOR", {optional = true}}},
         outputs = {{"hidden", "TENSOR"}},
         run = function(i) return fokus.weight(i.hidden, i.tokens, {mode = i.mode, empty = i.empty}) end}

  define{type = "conditioning", category = "text",
         description = "an MMDiT's conditioning {context =, y =} from a context [1, T, C] and a pooled vector [1, P]",
         inputs = {{"context", "TENSOR"}, {"pooled", "TENSOR"}},
         outputs = {{"conditioning", "CONDITIONING"}},
         run = function(i) return {context = i.context, y = i.pooled} end}

  define{type = "class_label", category = "text",
         description = "a DiT's conditioning: an ImageNet class label (num_classes = the null class)",
         inputs = {{"label", "INT", {min = 0}}},
         outputs = {{"conditioning", "CONDITIONING"}},
         run = function(i) return i.label end}
end
