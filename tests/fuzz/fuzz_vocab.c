/* libFuzzer: the vocabulary parsers on arbitrary bytes. The first byte picks the format
 * (OpenAI merges text or gzip, HF vocab.json + merges.txt split at the first NUL byte,
 * HF tokenizer.json); a vocabulary that loads must then encode and decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fokus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    fokus_bpe *t = NULL;
    fokus_error err;
    fokus_status st;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        st = fokus_bpe_load_openai_mem(&t, s, n, "fuzz.txt", &err);
        break;
    case 1: {
        const char *z = memchr(s, 0, n);
        size_t vl = z ? (size_t)(z - s) : n;
        st = fokus_bpe_load_hf_mem(&t, s, vl, z ? z + 1 : "", z ? n - vl - 1 : 0, "fuzz.json", &err);
        break;
    }
    default:
        st = fokus_bpe_load_tokenizer_json_mem(&t, s, n, "fuzz.json", &err);
        break;
    }
    if (st != FOKUS_OK) {
        if (t) abort();
        if (strncmp(err.msg, "fuzz.", 5) != 0) abort();
        return 0;
    }
    fokus_bpe_pieces p = {0};
    const char *text = "a photo of a cat, <|endoftext|> ünïcödé 猫 &amp; 123";
    if (fokus_bpe_encode(t, text, strlen(text), &p, &err) != FOKUS_OK) abort();
    int32_t *ids = malloc((p.n + 1) * sizeof *ids);
    for (size_t i = 0; i < p.n; i++) {
        if (p.items[i].id < 0 || p.items[i].id >= fokus_bpe_vocab_size(t)) abort();
        ids[i] = p.items[i].id;
    }
    char *out = NULL;
    if (fokus_bpe_decode(t, ids, p.n, &out, NULL, &err) != FOKUS_OK) abort();
    free(out);
    free(ids);
    fokus_bpe_pieces_free(&p);
    fokus_bpe_free(t);
    return 0;
}
