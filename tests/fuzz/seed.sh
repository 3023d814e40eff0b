#!/bin/sh
# seed.sh TARGET DIR: fills a fuzz corpus directory from the dev oracles (when present).
target=$1
dir=$2
shared=${FOKUS_SHARED:-../shared}
seed=${BUILD:-build}/fuzz/seed
case "$target" in
  fuzz_prompt|fuzz_schedule)
    # the prompts of the A1111 differential test (in the repository: no ../shared needed)
    "$seed" tests/data/schedule_diff.jsonl prompt "$dir" >/dev/null ;;
esac
case "$target" in
  fuzz_png)
    # a small PNG with a tEXt and an iTXt chunk (in the repository)
    cp tests/data/small_with_text.png "$dir/" ;;
esac
[ -d "$shared/oracles" ] || { echo "no $shared/oracles: empty seed corpus"; exit 0; }
case "$target" in
  fuzz_safetensors)
    for f in "$shared"/oracles/models/*.safetensors; do
      [ "$(wc -c < "$f")" -lt 1000000 ] && cp "$f" "$dir/"
    done ;;
  fuzz_bpe|fuzz_prompt|fuzz_schedule)
    "$seed" "$shared/oracles/clip_tokens_dev.jsonl" text "$dir" >/dev/null
    "$seed" "$shared/oracles/prompt_weights_dev.jsonl" text "$dir" >/dev/null
    printf 'a [b:c:0.5] [d|e|] (f:1.2) AND g :0.7 BREAK h' > "$dir/syntax"
    printf '((((a:1.1)):2) [[b]] \\( \\)' > "$dir/nest" ;;
  fuzz_vocab)
    # fuzz_vocab's first byte picks the format: 0 OpenAI merges text, 1 vocab.json NUL
    # merges.txt, 2 tokenizer.json
    printf '\000#version: 0.2\na b\nab c\n' > "$dir/openai_small"
    if [ -f "$shared/clip/bpe_simple_vocab_16e6.txt.gz" ]; then
      { printf '\000'; gzip -dc "$shared/clip/bpe_simple_vocab_16e6.txt.gz" | head -n 300; } > "$dir/openai_300"
    fi
    printf '\001{"a": 0, "b": 1, "ab</w>": 2}\000#version: 0.2\na b</w>\n' > "$dir/hf_small"
    printf '\002{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b", ["a", "b"]]}, "added_tokens": [{"id": 1, "content": "<|endoftext|>"}]}' > "$dir/tok_small"
    if command -v python3 >/dev/null 2>&1; then
      # complete small vocabularies (512 byte symbols, a few merges, the special tokens)
      python3 - "$dir" <<'PY'
import json, sys
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs = bs[:]
n = 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
syms = [chr(c) for c in cs]
merges = [('c', 'a'), ('ca', 't</w>'), ('a', 't</w>'), ('p', 'h'), ('ph', 'o')]
vocab = syms + [s + '</w>' for s in syms] + [a + b for a, b in merges] + ['<|startoftext|>', '<|endoftext|>']
v = {t: i for i, t in enumerate(vocab)}
d = sys.argv[1]
open(d + '/hf_full', 'wb').write(b'\x01' + json.dumps(v).encode() + b'\x00#version: 0.2\n' +
                                 ''.join(a + ' ' + b + '\n' for a, b in merges).encode())
tj = {"model": {"type": "BPE", "vocab": v, "merges": [a + ' ' + b for a, b in merges]},
      "added_tokens": [{"id": v['<|endoftext|>'], "content": '<|endoftext|>'}]}
open(d + '/tok_full', 'wb').write(b'\x02' + json.dumps(tj).encode())
tj["model"]["merges"] = [[a, b] for a, b in merges]
open(d + '/tok_pairs', 'wb').write(b'\x02' + json.dumps(tj, ensure_ascii=False).encode())
PY
    fi ;;
esac
exit 0
