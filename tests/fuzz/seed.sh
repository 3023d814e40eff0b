#!/bin/sh
# seed.sh TARGET DIR: fills a fuzz corpus directory from the dev oracles (when present).
target=$1
dir=$2
shared=${FOKUS_SHARED:-../shared}
seed=${BUILD:-build}/fuzz/seed
[ -d "$shared/oracles" ] || { echo "no $shared/oracles: empty seed corpus"; exit 0; }
case "$target" in
  fuzz_safetensors)
    for f in "$shared"/oracles/models/*.safetensors; do
      [ "$(wc -c < "$f")" -lt 1000000 ] && cp "$f" "$dir/"
    done ;;
  fuzz_bpe|fuzz_prompt|fuzz_schedule)
    "$seed" "$shared/oracles/clip_tokens_dev.jsonl" text "$dir" >/dev/null
    "$seed" "$shared/oracles/prompt_weights_dev.jsonl" text "$dir" >/dev/null ;;
  fuzz_vocab)
    printf '{"a": 0, "b": 1, "ab</w>": 2}' > "$dir/vocab.json" ;;
esac
exit 0
