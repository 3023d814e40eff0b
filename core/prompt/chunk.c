/*
 * 77-slot chunks with per-token weights, as A1111 (sd_hijack_clip.py tokenize_line) and
 * ComfyUI (sd1_clip.py SDTokenizer.tokenize_with_weights) build them for CLIP.
 *
 * A1111 tokenizes each parsed segment's text as a whole; BREAK closes the chunk; when a
 * chunk is full and its last comma is at most 20 tokens back, the tokens after the
 * comma move to the next chunk (comma_padding_backtrack = 20).
 * ComfyUI (current versions) tokenizes each non-empty parsed segment as a whole; a
 * segment of fewer than 8 tokens that does not fit moves whole to the next chunk (the
 * current one is padded), a longer one is split at the chunk edge. Older ComfyUI split
 * segments into words on ' ' and looked words up as "word</w>" first; the reference
 * outputs (comfy_chunks) follow the current behaviour, e.g. "sword," split across two
 * chunks as part of a long segment.
 */
#include <stdlib.h>
#include <string.h>

#include "prompt/fokus_prompt.h"
#include "prompt_internal.h"

#define CHUNK_TOKENS 75
#define A1111_COMMA_BACKTRACK 20
#define COMFY_MAX_WORD 8 /* SDTokenizer.max_word_length */

void fokus_chunks_free(fokus_chunks *c)
{
    if (!c) return;
    free(c->items);
    c->items = NULL;
    c->n = c->cap = 0;
}

static bool chunk_push(fokus_chunks *c, const int32_t *ids, const double *w, size_t n, int32_t bos,
                       int32_t eos, bool with_bos)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 4;
        fokus_chunk *p = realloc(c->items, nc * sizeof *p);
        if (!p) return false;
        c->items = p;
        c->cap = nc;
    }
    fokus_chunk *k = &c->items[c->n++];
    size_t o = 0;
    if (with_bos) {
        k->ids[o] = bos;
        k->weights[o++] = 1.0;
    }
    for (size_t i = 0; i < n && o < 77; i++, o++) {
        k->ids[o] = ids[i];
        k->weights[o] = w[i];
    }
    for (; o < 77; o++) {
        k->ids[o] = eos;
        k->weights[o] = 1.0;
    }
    return true;
}

/* ------------------------------------------------------------------------------------
 * A1111 */

typedef struct a_chunk {
    int32_t ids[CHUNK_TOKENS];
    double w[CHUNK_TOKENS];
    size_t n;
    long last_comma;
} a_chunk;

static bool a_next(fokus_chunks *out, a_chunk *c, int32_t bos, int32_t eos)
{
    /* pad to 75 with the end id, then wrap in start/end */
    bool ok = chunk_push(out, c->ids, c->w, c->n, bos, eos, true);
    c->n = 0;
    c->last_comma = -1;
    return ok;
}

static fokus_status chunks_a1111(fokus_bpe *tok, const fokus_segments *segs, fokus_chunks *out,
                                 fokus_error *err)
{
    int32_t bos = fokus_bpe_bos(tok), eos = fokus_bpe_eos(tok);
    fokus_bpe_pieces pc = {0};
    fokus_status st = fokus_bpe_encode(tok, ",", 1, &pc, err);
    if (st != FOKUS_OK) return st;
    int32_t comma = pc.n == 1 ? pc.items[0].id : -1; /* vocab.get(',</w>') */
    a_chunk c = {.last_comma = -1};
    for (size_t s = 0; s < segs->n; s++) {
        const fokus_segment *g = &segs->items[s];
        if (g->len == 5 && memcmp(g->text, "BREAK", 5) == 0 && g->weight == -1.0) {
            if (!a_next(out, &c, bos, eos)) goto oom;
            continue;
        }
        if ((st = fokus_bpe_encode(tok, g->text, g->len, &pc, err)) != FOKUS_OK) goto fail;
        for (size_t p = 0; p < pc.n; p++) {
            int32_t t = pc.items[p].id;
            if (t == comma) {
                c.last_comma = (long)c.n;
            } else if (c.n == CHUNK_TOKENS && c.last_comma != -1 &&
                       (long)c.n - c.last_comma <= A1111_COMMA_BACKTRACK) {
                size_t at = (size_t)c.last_comma + 1, nr = c.n - at;
                int32_t rid[CHUNK_TOKENS];
                double rw[CHUNK_TOKENS];
                memcpy(rid, c.ids + at, nr * sizeof *rid);
                memcpy(rw, c.w + at, nr * sizeof *rw);
                c.n = at;
                if (!a_next(out, &c, bos, eos)) goto oom;
                memcpy(c.ids, rid, nr * sizeof *rid);
                memcpy(c.w, rw, nr * sizeof *rw);
                c.n = nr;
            }
            if (c.n == CHUNK_TOKENS && !a_next(out, &c, bos, eos)) goto oom;
            c.ids[c.n] = t;
            c.w[c.n++] = g->weight;
        }
    }
    if ((c.n || out->n == 0) && !a_next(out, &c, bos, eos)) goto oom;
    fokus_bpe_pieces_free(&pc);
    return FOKUS_OK;
oom:
    st = fokus_fail(err, FOKUS_ENOMEM, "prompt_chunks: out of memory");
fail:
    fokus_bpe_pieces_free(&pc);
    return st;
}

/* ------------------------------------------------------------------------------------
 * ComfyUI */

typedef struct c_batch {
    int32_t ids[77];
    double w[77];
    size_t n; /* including the start token */
} c_batch;

static fokus_status chunks_comfy(fokus_bpe *tok, const fokus_segments *segs, fokus_chunks *out,
                                 fokus_error *err)
{
    int32_t bos = fokus_bpe_bos(tok), eos = fokus_bpe_eos(tok);
    fokus_bpe_pieces pc = {0};
    fokus_status st = FOKUS_OK;
    c_batch b = {.ids = {bos}, .w = {1.0}, .n = 1};
    for (size_t s = 0; s < segs->n; s++) {
        const fokus_segment *g = &segs->items[s];
        if (g->len == 0) continue;
        if ((st = fokus_bpe_encode(tok, g->text, g->len, &pc, err)) != FOKUS_OK) goto done;
        size_t nids = pc.n;
        bool large = nids >= COMFY_MAX_WORD;
        size_t k = 0; /* tokens of this segment already placed */
        while (k < nids) {
            if (nids - k + b.n > 76) {
                if (large) {
                    for (size_t room = 77 - b.n - 1; room > 0; room--, k++) {
                        b.ids[b.n] = pc.items[k].id;
                        b.w[b.n++] = g->weight;
                    }
                }
                /* end token, padding: chunk_push pads with the end id at weight 1 */
                if (!chunk_push(out, b.ids, b.w, b.n, bos, eos, false)) goto oom;
                b.n = 1;
            } else {
                for (; k < nids; k++) {
                    b.ids[b.n] = pc.items[k].id;
                    b.w[b.n++] = g->weight;
                }
            }
        }
    }
    if (!chunk_push(out, b.ids, b.w, b.n, bos, eos, false)) goto oom;
    goto done;
oom:
    st = fokus_fail(err, FOKUS_ENOMEM, "prompt_chunks: out of memory");
done:
    fokus_bpe_pieces_free(&pc);
    return st;
}

fokus_status fokus_prompt_chunks(fokus_bpe *tok, const char *text, size_t len, fokus_syntax syntax,
                                 fokus_chunks *out, fokus_error *err)
{
    if (!out) return fokus_fail(err, FOKUS_EINVAL, "prompt_chunks: out is NULL");
    *out = (fokus_chunks){0};
    if (!tok) return fokus_fail(err, FOKUS_EINVAL, "prompt_chunks: tokenizer is NULL");
    fokus_segments segs = {0};
    fokus_status st = fokus_prompt_parse(text, len, syntax, &segs, err);
    if (st != FOKUS_OK) return st;
    fokus_chunks res = {0};
    st = syntax == FOKUS_SYNTAX_A1111 ? chunks_a1111(tok, &segs, &res, err) : chunks_comfy(tok, &segs, &res, err);
    fokus_segments_free(&segs);
    if (st != FOKUS_OK) {
        fokus_chunks_free(&res);
        return st;
    }
    *out = res;
    return FOKUS_OK;
}
