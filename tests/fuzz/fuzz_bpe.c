/* libFuzzer: encode arbitrary bytes with the CLIP vocabulary and check the invariants:
 * ids in range, spans non-empty and inside the input, a second encode (warm cache)
 * identical, decode of the ids succeeds. The vocabulary is loaded once from
 * $FOKUS_CLIP_VOCAB or ../shared/clip/bpe_simple_vocab_16e6.txt.gz. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fokus.h"

static fokus_bpe *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *path = getenv("FOKUS_CLIP_VOCAB");
    if (!path || !*path) path = "../shared/clip/bpe_simple_vocab_16e6.txt.gz";
    fokus_error err;
    if (fokus_bpe_load(&tok, path, &err) != FOKUS_OK) {
        fprintf(stderr, "fuzz_bpe: %s (set FOKUS_CLIP_VOCAB)\n", err.msg);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fokus_bpe_pieces p = {0}, q = {0};
    fokus_error err;
    if (fokus_bpe_encode(tok, (const char *)data, size, &p, &err) != FOKUS_OK) abort();
    int32_t nv = fokus_bpe_vocab_size(tok);
    int32_t *ids = malloc((p.n + 1) * sizeof *ids);
    for (size_t i = 0; i < p.n; i++) {
        if (p.items[i].id < 0 || p.items[i].id >= nv) abort();
        if (p.items[i].begin >= p.items[i].end || p.items[i].end > size) abort();
        ids[i] = p.items[i].id;
    }
    if (fokus_bpe_encode(tok, (const char *)data, size, &q, &err) != FOKUS_OK || q.n != p.n) abort();
    for (size_t i = 0; i < p.n; i++)
        if (p.items[i].id != q.items[i].id || p.items[i].begin != q.items[i].begin ||
            p.items[i].end != q.items[i].end)
            abort();
    char *text = NULL;
    size_t len = 0;
    if (fokus_bpe_decode(tok, ids, p.n, &text, &len, &err) != FOKUS_OK) abort();
    if (strlen(text) > len) abort();
    free(text);
    free(ids);
    fokus_bpe_pieces_free(&p);
    fokus_bpe_pieces_free(&q);
    return 0;
}
