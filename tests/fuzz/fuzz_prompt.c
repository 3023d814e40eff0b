/* libFuzzer: every prompt entry point on arbitrary bytes -- A1111 and ComfyUI parsing,
 * A1111 scheduling (steps from the first byte) and AND splitting, and chunking when a
 * vocabulary is found ($FOKUS_CLIP_VOCAB or ../shared/clip/bpe_simple_vocab_16e6.txt.gz).
 * Besides memory errors it checks the invariants of each result. */
#include <math.h>
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
        fprintf(stderr, "fuzz_prompt: no vocabulary (%s); chunking is not fuzzed\n", err.msg);
        tok = NULL;
    }
    return 0;
}

static void check_segments(const fokus_segments *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->items[i].text || s->items[i].text[s->items[i].len] != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    fokus_error err;
    for (int syn = 0; syn < 2; syn++) {
        fokus_segments s = {0};
        fokus_status st = fokus_prompt_parse(text, size, (fokus_syntax)syn, &s, &err);
        if (st == FOKUS_OK) {
            check_segments(&s);
            size_t total = 0;
            for (size_t i = 0; i < s.n; i++) total += s.items[i].len;
            /* A1111 never returns an empty list; escapes only shrink the text, and the
             * only text not from the input is "BREAK" (5 bytes for 5 input bytes) */
            if (syn == FOKUS_SYNTAX_A1111 && s.n == 0) abort();
            if (total > size) abort();
            /* merged neighbours never have equal weights */
            if (syn == FOKUS_SYNTAX_A1111)
                for (size_t i = 1; i < s.n; i++)
                    if (s.items[i].weight == s.items[i - 1].weight) abort();
        } else if (s.n || s.items || (syn == FOKUS_SYNTAX_COMFY) || (st != FOKUS_EINVAL && st != FOKUS_ERANGE)) {
            abort(); /* only A1111 fails (float() ValueError, or pathological nesting) */
        }
        fokus_segments_free(&s);
    }
    int steps = size ? 1 + data[0] % 40 : 10;
    fokus_schedule sc = {0};
    fokus_status st = fokus_prompt_schedule(text, size, steps, &sc, &err);
    if (st == FOKUS_OK) {
        if (sc.n == 0 || sc.items[sc.n - 1].until_step != steps) abort();
        for (size_t i = 0; i < sc.n; i++) {
            if (sc.items[i].until_step < 1 || (i && sc.items[i].until_step <= sc.items[i - 1].until_step)) abort();
            if (sc.items[i].len > size) abort(); /* editing only removes text */
        }
    } else if (st != FOKUS_EINVAL || sc.n) {
        abort();
    }
    fokus_schedule_free(&sc);
    fokus_segments a = {0};
    if (fokus_prompt_and(text, size, &a, &err) != FOKUS_OK || a.n == 0) abort();
    check_segments(&a);
    fokus_segments_free(&a);
    if (tok && size <= 4096) {
        for (int syn = 0; syn < 2; syn++) {
            fokus_chunks c = {0};
            st = fokus_prompt_chunks(tok, text, size, (fokus_syntax)syn, &c, &err);
            if (st == FOKUS_OK) {
                if (c.n == 0) abort();
                for (size_t i = 0; i < c.n; i++)
                    if (c.items[i].ids[0] != fokus_bpe_bos(tok) || c.items[i].ids[76] != fokus_bpe_eos(tok)) abort();
            } else if (c.n) {
                abort();
            }
            fokus_chunks_free(&c);
        }
    }
    return 0;
}
