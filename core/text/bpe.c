/*
 * CLIP byte-level BPE: the vocabulary and merge tables, the merge loop, a bounded word
 * cache, and encode/decode as OpenAI's clip/simple_tokenizer.py does them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bpe_internal.h"
#include "textclean.h"

/* Words of at most this many bytes are cached; the cache holds at most CACHE_MAX
 * words and is emptied when full (results never depend on what is cached). */
#define CACHE_WORD_MAX 64
#define CACHE_SLOTS (1u << 15)
#define CACHE_MAX (CACHE_SLOTS / 2)

typedef struct merge_slot {
    uint64_t key;     /* (left id << 32 | right id) + 1; 0 = empty */
    int32_t rank;
    int32_t result;
} merge_slot;

/* blob: key length, piece count, the key bytes, then n ids and n byte counts (int32,
 * unaligned, read with memcpy) */
typedef struct cache_entry {
    uint64_t hash;    /* 0 = empty */
    uint8_t *blob;
} cache_entry;

struct fokus_bpe {
    int32_t n_vocab;
    char *arena;                 /* token strings, then their decoded bytes */
    uint32_t *tok_off, *tok_len; /* token string (UTF-8, byte-level form) per id */
    uint32_t *raw_off, *raw_len; /* the bytes the token stands for */
    uint8_t *present;            /* id has a token */
    /* string -> id, open addressing over ids (+1, 0 = empty) */
    uint32_t *str_slots;
    size_t str_cap;
    merge_slot *merges;
    size_t merge_cap;
    int32_t byte_id[256], byte_eow_id[256];
    int32_t bos, eos;
    pthread_mutex_t lock;
    cache_entry *cache;
    size_t cache_n;
};

/* ---- bytes_to_unicode ---- */

/* Printable Latin-1 bytes stand for themselves; the other 68 (controls, space, 0x7F..0xA0,
 * 0xAD) are moved to U+0100.. in byte order, so no token contains whitespace. */
uint32_t fokus_bpe_byte_char(unsigned b)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return b;
    unsigned n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
    return 256 + n;
}

static int byte_of_char(uint32_t c)
{
    if ((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)) return (int)c;
    if (c < 256 || c >= 256 + 68) return -1;
    unsigned n = 0;
    for (unsigned x = 0; x < 256; x++) {
        if ((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF)) continue;
        if (256 + n == c) return (int)x;
        n++;
    }
    return -1;
}

/* ---- hashing ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = mix64(h ^ w);
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    return mix64(h ^ w ^ ((uint64_t)(n - i) << 56));
}

static const char *tok_str(const fokus_bpe *t, int32_t id) { return t->arena + t->tok_off[id]; }

static int32_t lookup_str(const fokus_bpe *t, const char *s, size_t n)
{
    size_t mask = t->str_cap - 1, i = hash_bytes(s, n) & mask;
    for (;;) {
        uint32_t v = t->str_slots[i];
        if (!v) return -1;
        int32_t id = (int32_t)(v - 1);
        if (t->tok_len[id] == n && memcmp(tok_str(t, id), s, n) == 0) return id;
        i = (i + 1) & mask;
    }
}

static void insert_str(fokus_bpe *t, int32_t id)
{
    const char *s = tok_str(t, id);
    size_t n = t->tok_len[id], mask = t->str_cap - 1, i = hash_bytes(s, n) & mask;
    for (;;) {
        uint32_t v = t->str_slots[i];
        if (!v) { t->str_slots[i] = (uint32_t)id + 1; return; }
        int32_t other = (int32_t)(v - 1);
        if (t->tok_len[other] == n && memcmp(tok_str(t, other), s, n) == 0) {
            t->str_slots[i] = (uint32_t)id + 1;  /* later id wins */
            return;
        }
        i = (i + 1) & mask;
    }
}

static merge_slot *find_merge(const fokus_bpe *t, int32_t a, int32_t b)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t mask = t->merge_cap - 1, i = mix64(key) & mask;
    for (;;) {
        merge_slot *m = &t->merges[i];
        if (m->key == key || m->key == 0) return m;
        i = (i + 1) & mask;
    }
}

/* ---- building ---- */

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

/* The bytes a token stands for: each character through the inverse of
 * bytes_to_unicode; a character outside that alphabet (possible in foreign vocabulary
 * files) keeps its UTF-8 bytes. */
static size_t token_raw(const char *s, size_t n, char *dst)
{
    fokus_ustr u = {0};
    size_t k = 0;
    if (fokus_utf8_decode_spans((const unsigned char *)s, n, 0, &u) != 0) return SIZE_MAX;
    for (size_t i = 0; i < u.n; i++) {
        int b = byte_of_char(u.cp[i]);
        if (b >= 0) {
            dst[k++] = (char)b;
        } else {
            memcpy(dst + k, s + u.b[i], u.e[i] - u.b[i]);
            k += u.e[i] - u.b[i];
        }
    }
    fokus_ustr_free(&u);
    return k;
}

fokus_status fokus_bpe_build(fokus_bpe **out, const fokus_bpe_spec *spec, const char *name,
                             fokus_error *err)
{
    fokus_bpe *t = NULL;
    size_t total = 0;
    char *key = NULL;
    *out = NULL;
    if (spec->n_vocab == 0 || spec->n_vocab > (1u << 24))
        return fokus_fail(err, FOKUS_EFORMAT, "%s: vocabulary of %zu tokens (expected 1 .. %u)", name,
                          spec->n_vocab, 1u << 24);
    for (size_t i = 0; i < spec->n_vocab; i++) {
        if (spec->vocab[i].n > 4096)
            return fokus_fail(err, FOKUS_EFORMAT, "%s: token %zu is %zu bytes long (at most 4096)",
                              name, i, spec->vocab[i].n);
        total += spec->vocab[i].n + 1;
    }
    if (total > (UINT32_MAX / 3)) return fokus_fail(err, FOKUS_EFORMAT, "%s: vocabulary too large", name);

    t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->n_vocab = (int32_t)spec->n_vocab;
    t->arena = malloc(total * 2 + 1);
    t->tok_off = calloc(spec->n_vocab, sizeof *t->tok_off);
    t->tok_len = calloc(spec->n_vocab, sizeof *t->tok_len);
    t->raw_off = calloc(spec->n_vocab, sizeof *t->raw_off);
    t->raw_len = calloc(spec->n_vocab, sizeof *t->raw_len);
    t->present = calloc(spec->n_vocab, 1);
    t->str_cap = pow2_at_least(spec->n_vocab * 2);
    t->str_slots = calloc(t->str_cap, sizeof *t->str_slots);
    t->merge_cap = pow2_at_least(spec->n_merges * 2);
    t->merges = calloc(t->merge_cap, sizeof *t->merges);
    if (!t->arena || !t->tok_off || !t->tok_len || !t->raw_off || !t->raw_len || !t->present ||
        !t->str_slots || !t->merges)
        goto nomem;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t->merges);
        t->merges = NULL;
        goto nomem;
    }

    size_t off = 0;
    for (size_t i = 0; i < spec->n_vocab; i++) {
        if (!spec->vocab[i].p) continue;
        memcpy(t->arena + off, spec->vocab[i].p, spec->vocab[i].n);
        t->tok_off[i] = (uint32_t)off;
        t->tok_len[i] = (uint32_t)spec->vocab[i].n;
        t->present[i] = 1;
        off += spec->vocab[i].n;
        t->arena[off++] = 0;
    }
    for (size_t i = 0; i < spec->n_vocab; i++) {
        if (!t->present[i]) continue;
        size_t k = token_raw(tok_str(t, (int32_t)i), t->tok_len[i], t->arena + off);
        if (k == SIZE_MAX) goto nomem;
        t->raw_off[i] = (uint32_t)off;
        t->raw_len[i] = (uint32_t)k;
        off += k;
        insert_str(t, (int32_t)i);
    }

    /* byte symbols and their end-of-word forms */
    for (unsigned b = 0; b < 256; b++) {
        unsigned char sym[8];
        int k = fokus_utf8_put(fokus_bpe_byte_char(b), sym);
        memcpy(sym + k, "</w>", 4);
        t->byte_id[b] = lookup_str(t, (const char *)sym, (size_t)k);
        t->byte_eow_id[b] = lookup_str(t, (const char *)sym, (size_t)k + 4);
        if (t->byte_id[b] < 0 || t->byte_eow_id[b] < 0) {
            fokus_fail(err, FOKUS_EFORMAT, "%s: the vocabulary lacks the byte symbol \"%.*s%s\" (byte 0x%02X)",
                       name, k, (const char *)sym, t->byte_id[b] < 0 ? "" : "</w>", b);
            fokus_bpe_free(t);
            return FOKUS_EFORMAT;
        }
    }
    t->bos = lookup_str(t, "<|startoftext|>", 15);
    t->eos = lookup_str(t, "<|endoftext|>", 13);
    if (t->bos < 0 || t->eos < 0) {
        fokus_fail(err, FOKUS_EFORMAT, "%s: the vocabulary lacks %s", name,
                   t->bos < 0 ? "<|startoftext|>" : "<|endoftext|>");
        fokus_bpe_free(t);
        return FOKUS_EFORMAT;
    }

    size_t keycap = 0;
    for (size_t r = 0; r < spec->n_merges; r++) {
        const fokus_bpe_str *m = spec->merges[r];
        int32_t a = lookup_str(t, m[0].p, m[0].n), b = lookup_str(t, m[1].p, m[1].n);
        if (a < 0 || b < 0) continue; /* can never apply */
        size_t n = m[0].n + m[1].n;
        if (n > keycap) {
            free(key);
            keycap = n * 2 + 64;
            key = malloc(keycap);
            if (!key) goto nomem;
        }
        memcpy(key, m[0].p, m[0].n);
        memcpy(key + m[0].n, m[1].p, m[1].n);
        int32_t res = lookup_str(t, key, n);
        if (res < 0) {
            if (spec->require_merge_results) {
                fokus_fail(err, FOKUS_EFORMAT, "%s: merge %zu (\"%.*s %.*s\") makes a token that is not in the vocabulary",
                           name, r + 1, (int)(m[0].n > 64 ? 64 : m[0].n), m[0].p,
                           (int)(m[1].n > 64 ? 64 : m[1].n), m[1].p);
                free(key);
                fokus_bpe_free(t);
                return FOKUS_EFORMAT;
            }
            continue;
        }
        merge_slot *s = find_merge(t, a, b);
        s->key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
        s->rank = (int32_t)r;
        s->result = res;
    }
    free(key);
    t->cache = calloc(CACHE_SLOTS, sizeof *t->cache);
    if (!t->cache) goto nomem;
    *out = t;
    return FOKUS_OK;
nomem:
    free(key);
    fokus_bpe_free(t);
    return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory building the tokenizer", name);
}

static void cache_clear(fokus_bpe *t)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(t->cache[i].blob);
        t->cache[i].blob = NULL;
        t->cache[i].hash = 0;
    }
    t->cache_n = 0;
}

void fokus_bpe_free(fokus_bpe *t)
{
    if (!t) return;
    if (t->cache) {
        cache_clear(t);
        free(t->cache);
        pthread_mutex_destroy(&t->lock);
    }
    free(t->arena);
    free(t->tok_off);
    free(t->tok_len);
    free(t->raw_off);
    free(t->raw_len);
    free(t->present);
    free(t->str_slots);
    free(t->merges);
    free(t);
}

int32_t fokus_bpe_vocab_size(const fokus_bpe *t) { return t ? t->n_vocab : 0; }
int32_t fokus_bpe_bos(const fokus_bpe *t) { return t ? t->bos : -1; }
int32_t fokus_bpe_eos(const fokus_bpe *t) { return t ? t->eos : -1; }

const char *fokus_bpe_token(const fokus_bpe *t, int32_t id)
{
    if (!t || id < 0 || id >= t->n_vocab || !t->present[id]) return NULL;
    return tok_str(t, id);
}

void fokus_bpe_pieces_free(fokus_bpe_pieces *p)
{
    if (!p) return;
    free(p->items);
    memset(p, 0, sizeof *p);
}

/* ---- the merge loop ----
 *
 * Python's bpe() repeatedly takes the pair of lowest rank and merges all of its
 * occurrences left to right. Here pairs sit in a min-heap ordered by (rank, position),
 * so occurrences of one pair come out left to right; symbols form a linked list and
 * stale heap entries are recognised by their ids. Pairs created while a rank is being
 * merged wait until that rank is done, exactly as in the Python loop. O(n log n). */

typedef struct heap_item {
    int32_t rank, pos, left, right;
} heap_item;

typedef struct bpe_work {
    int32_t *id, *next, *prev, *nbytes;
    heap_item *heap, *pending;
    size_t heap_n, pending_n, cap;
} bpe_work;

static bool item_less(const heap_item *a, const heap_item *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(bpe_work *w, heap_item it)
{
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(&it, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = it;
}

static heap_item heap_pop(bpe_work *w)
{
    heap_item top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && item_less(&w->heap[c + 1], &w->heap[c])) c++;
        if (!item_less(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

static void work_free(bpe_work *w)
{
    free(w->id);
    free(w->next);
    free(w->prev);
    free(w->nbytes);
    free(w->heap);
    free(w->pending);
    memset(w, 0, sizeof *w);
}

static int work_reserve(bpe_work *w, size_t n)
{
    if (n <= w->cap) return 0;
    work_free(w);
    w->id = malloc(n * sizeof(int32_t));
    w->next = malloc(n * sizeof(int32_t));
    w->prev = malloc(n * sizeof(int32_t));
    w->nbytes = malloc(n * sizeof(int32_t));
    w->heap = malloc(n * 3 * sizeof(heap_item));
    w->pending = malloc(n * 2 * sizeof(heap_item));
    if (!w->id || !w->next || !w->prev || !w->nbytes || !w->heap || !w->pending) {
        work_free(w);
        return -1;
    }
    w->cap = n;
    return 0;
}

static void try_pair(const fokus_bpe *t, bpe_work *w, int32_t pos, bool pending)
{
    int32_t nx = w->next[pos];
    if (nx < 0) return;
    const merge_slot *m = find_merge(t, w->id[pos], w->id[nx]);
    if (!m->key) return;
    heap_item it = {m->rank, pos, w->id[pos], w->id[nx]};
    if (pending) w->pending[w->pending_n++] = it;
    else heap_push(w, it);
}

/* BPE of one pre-token's bytes; appends (id, byte count) pairs to ids/nb.
 * Returns the number of pieces, or -1 when memory ran out. */
static long bpe_word(const fokus_bpe *t, bpe_work *w, const unsigned char *s, size_t n, int32_t *ids,
                     int32_t *nb)
{
    if (n == 1) {
        ids[0] = t->byte_eow_id[s[0]];
        nb[0] = 1;
        return 1;
    }
    if (work_reserve(w, n) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        w->id[i] = i + 1 < n ? t->byte_id[s[i]] : t->byte_eow_id[s[i]];
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        w->prev[i] = (int32_t)i - 1;
        w->nbytes[i] = 1;
    }
    w->heap_n = w->pending_n = 0;
    for (size_t i = 0; i + 1 < n; i++) try_pair(t, w, (int32_t)i, false);
    int32_t level = -1;
    for (;;) {
        if (w->pending_n && (w->heap_n == 0 || w->heap[0].rank != level)) {
            for (size_t k = 0; k < w->pending_n; k++) heap_push(w, w->pending[k]);
            w->pending_n = 0;
        }
        if (w->heap_n == 0) break;
        heap_item it = heap_pop(w);
        int32_t p = it.pos, q = w->next[p];
        if (w->id[p] != it.left || q < 0 || w->id[q] != it.right) continue;
        level = it.rank;
        const merge_slot *m = find_merge(t, it.left, it.right);
        w->id[p] = m->result;
        w->nbytes[p] += w->nbytes[q];
        w->next[p] = w->next[q];
        if (w->next[q] >= 0) w->prev[w->next[q]] = p;
        w->id[q] = -1; /* dead */
        if (w->prev[p] >= 0) try_pair(t, w, w->prev[p], true);
        try_pair(t, w, p, true);
    }
    long k = 0;
    for (int32_t p = 0; p >= 0; p = w->next[p]) {
        ids[k] = w->id[p];
        nb[k] = w->nbytes[p];
        k++;
    }
    return k;
}

/* ---- word cache ---- */

static bool entry_is(const cache_entry *e, uint64_t h, const unsigned char *s, size_t n)
{
    return e->hash == h && e->blob[0] == n && memcmp(e->blob + 2, s, n) == 0;
}

static bool cache_get(fokus_bpe *t, uint64_t h, const unsigned char *s, size_t n, int32_t *ids,
                      int32_t *nb, long *k)
{
    bool hit = false;
    pthread_mutex_lock(&t->lock);
    for (size_t i = h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        const cache_entry *e = &t->cache[i];
        if (!e->hash) break;
        if (entry_is(e, h, s, n)) {
            size_t m = e->blob[1];
            memcpy(ids, e->blob + 2 + n, m * sizeof(int32_t));
            memcpy(nb, e->blob + 2 + n + m * sizeof(int32_t), m * sizeof(int32_t));
            *k = (long)m;
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return hit;
}

static void cache_put(fokus_bpe *t, uint64_t h, const unsigned char *s, size_t n, const int32_t *ids,
                      const int32_t *nb, long k)
{
    uint8_t *v = malloc(2 + n + (size_t)k * 2 * sizeof(int32_t));
    if (!v) return; /* the cache is an optimisation only */
    v[0] = (uint8_t)n;
    v[1] = (uint8_t)k;
    memcpy(v + 2, s, n);
    memcpy(v + 2 + n, ids, (size_t)k * sizeof(int32_t));
    memcpy(v + 2 + n + (size_t)k * sizeof(int32_t), nb, (size_t)k * sizeof(int32_t));
    pthread_mutex_lock(&t->lock);
    if (t->cache_n >= CACHE_MAX) cache_clear(t);
    size_t i = h & (CACHE_SLOTS - 1);
    while (t->cache[i].hash) {
        if (entry_is(&t->cache[i], h, s, n)) {
            pthread_mutex_unlock(&t->lock);
            free(v);
            return;
        }
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
    t->cache[i].hash = h;
    t->cache[i].blob = v;
    t->cache_n++;
    pthread_mutex_unlock(&t->lock);
}

/* ---- encode ---- */

static int pieces_push(fokus_bpe_pieces *out, int32_t id, size_t b, size_t e)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 64;
        fokus_bpe_piece *p = realloc(out->items, cap * sizeof *p);
        if (!p) return -1;
        out->items = p;
        out->cap = cap;
    }
    out->items[out->n].id = id;
    out->items[out->n].begin = b;
    out->items[out->n].end = e;
    out->n++;
    return 0;
}

fokus_status fokus_bpe_encode(fokus_bpe *tok, const char *text, size_t len, fokus_bpe_pieces *out,
                              fokus_error *err)
{
    return fokus_bpe_encode_ex(tok, text, len, 0, out, err);
}

fokus_status fokus_bpe_encode_ex(fokus_bpe *tok, const char *text, size_t len, int flags,
                                 fokus_bpe_pieces *out, fokus_error *err)
{
    if (!tok || !out || (!text && len))
        return fokus_fail(err, FOKUS_EINVAL, "bpe_encode: %s is NULL",
                          !tok ? "tokenizer" : !out ? "out" : "text");
    out->n = 0;
    fokus_ustr u = {0};
    fokus_status st = fokus_clip_clean_ex(text ? text : "", len, flags, &u, err);
    if (st != FOKUS_OK) return st;

    bpe_work w = {0};
    unsigned char *bytes = NULL;
    uint32_t *owner = NULL; /* character index (within the word) of each byte */
    int32_t *ids = NULL, *nb = NULL;
    size_t cap = 0, pos = 0, mb, me;
    int special;
    while (fokus_clip_pretok_next(u.cp, u.n, &pos, &mb, &me, &special)) {
        size_t need = (me - mb) * 4;
        if (need > cap) {
            cap = need * 2;
            free(bytes); free(owner); free(ids); free(nb);
            bytes = malloc(cap);
            owner = malloc(cap * sizeof *owner);
            ids = malloc(cap * sizeof *ids);
            nb = malloc(cap * sizeof *nb);
            if (!bytes || !owner || !ids || !nb) goto nomem;
        }
        size_t n = 0;
        for (size_t i = mb; i < me; i++) {
            int k = fokus_utf8_put(u.cp[i], bytes + n);
            for (int j = 0; j < k; j++) owner[n + j] = (uint32_t)(i - mb);
            n += (size_t)k;
        }
        long k;
        if (special && n == (special == 1 ? 15u : 13u) &&
            memcmp(bytes, special == 1 ? "<|startoftext|>" : "<|endoftext|>", n) == 0) {
            ids[0] = special == 1 ? tok->bos : tok->eos;
            nb[0] = (int32_t)n;
            k = 1;
        } else if (n <= CACHE_WORD_MAX) {
            uint64_t h = hash_bytes(bytes, n) | 1;
            if (!cache_get(tok, h, bytes, n, ids, nb, &k)) {
                k = bpe_word(tok, &w, bytes, n, ids, nb);
                if (k < 0) goto nomem;
                cache_put(tok, h, bytes, n, ids, nb, k);
            }
        } else {
            k = bpe_word(tok, &w, bytes, n, ids, nb);
            if (k < 0) goto nomem;
        }
        size_t at = 0;
        for (long p = 0; p < k; p++) {
            /* span: every original byte behind the characters this piece touches */
            size_t c0 = mb + owner[at], c1 = mb + owner[at + (size_t)nb[p] - 1];
            size_t b = u.b[c0], e = u.e[c0];
            for (size_t c = c0 + 1; c <= c1; c++) {
                if (u.b[c] < b) b = u.b[c];
                if (u.e[c] > e) e = u.e[c];
            }
            if (pieces_push(out, ids[p], b, e) != 0) goto nomem;
            at += (size_t)nb[p];
        }
    }
    st = FOKUS_OK;
    goto done;
nomem:
    out->n = 0;
    st = fokus_fail(err, FOKUS_ENOMEM, "bpe_encode: out of memory encoding %zu bytes", len);
done:
    work_free(&w);
    free(bytes); free(owner); free(ids); free(nb);
    fokus_ustr_free(&u);
    return st;
}

/* ---- decode ---- */

fokus_status fokus_bpe_decode(const fokus_bpe *tok, const int32_t *ids, size_t n, char **text,
                              size_t *len, fokus_error *err)
{
    if (!tok || !text || (!ids && n))
        return fokus_fail(err, FOKUS_EINVAL, "bpe_decode: %s is NULL",
                          !tok ? "tokenizer" : !text ? "text" : "ids");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->n_vocab || !tok->present[ids[i]])
            return fokus_fail(err, FOKUS_ERANGE, "bpe_decode: ids[%zu] = %d is not a token id (0 .. %d)",
                              i, (int)ids[i], (int)tok->n_vocab - 1);
        total += tok->raw_len[ids[i]];
    }
    char *raw = malloc(total + 1);
    if (!raw) return fokus_fail(err, FOKUS_ENOMEM, "bpe_decode: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(raw + k, tok->arena + tok->raw_off[ids[i]], tok->raw_len[ids[i]]);
        k += tok->raw_len[ids[i]];
    }
    /* .decode('utf-8', errors='replace').replace('</w>', ' '): "</w>" is ASCII, so the
     * replacement can happen on the bytes first */
    size_t m = 0;
    for (size_t i = 0; i < k;) {
        if (i + 4 <= k && memcmp(raw + i, "</w>", 4) == 0) {
            raw[m++] = ' ';
            i += 4;
        } else {
            raw[m++] = raw[i++];
        }
    }
    fokus_ustr u = {0};
    if (fokus_utf8_decode_spans((unsigned char *)raw, m, 0, &u) != 0) {
        free(raw);
        return fokus_fail(err, FOKUS_ENOMEM, "bpe_decode: out of memory");
    }
    char *s = malloc(u.n * 4 + 1);
    if (!s) {
        free(raw);
        fokus_ustr_free(&u);
        return fokus_fail(err, FOKUS_ENOMEM, "bpe_decode: out of memory");
    }
    size_t o = 0;
    for (size_t i = 0; i < u.n; i++) o += (size_t)fokus_utf8_put(u.cp[i], (unsigned char *)s + o);
    s[o] = 0;
    free(raw);
    fokus_ustr_free(&u);
    *text = s;
    if (len) *len = o;
    return FOKUS_OK;
}
