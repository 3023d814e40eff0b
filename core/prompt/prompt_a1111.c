/*
 * A1111's parse_prompt_attention (modules/prompt_parser.py), segment for segment and
 * weight for weight.
 *
 * A1111 scans the prompt with one regex, keeps a list of (text, weight) entries and, on
 * every closing bracket, multiplies the weights of all entries appended since the
 * bracket opened (multiply_range). Unclosed round brackets then multiply in the order
 * they were opened, then unclosed square brackets. Equal neighbours are merged last.
 *
 * Doing that literally is O(entries x depth). Here the same products are formed in the
 * same order, but per *group*: entries appended while the same brackets were open get
 * exactly the same multipliers in the same order, so they share one weight. A group's
 * multipliers are the closings of the brackets open at its creation, in closing order:
 * two root paths (round and square stacks) merged by time. Runs of equal multipliers
 * along a path are folded with a cached, saturating loop (x*1.1 reaches inf, x/1.1
 * reaches 0, a fixed point or a 2-cycle after at most ~15,000 steps), so deep
 * nesting and 1 MB of "(a(a(a..." stay linear. Products are still formed one rounding
 * at a time in A1111's order, so merging of equal weights matches bit for bit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompt/fokus_prompt.h"
#include "prompt_internal.h"

#define ROUND_MULT 1.1
#define SQUARE_MULT (1 / 1.1) /* A1111: square_bracket_multiplier = 1 / 1.1 */
#define NEVER INT64_MAX

typedef struct bracket {
    int32_t parent;   /* bracket below in the same stack, or -1 */
    int32_t run_next; /* first node above this run of equal multipliers (or -1) */
    int64_t close;    /* closing event number, NEVER when still open at the end */
    int64_t run_close;/* closing time of the last node of the run */
    int64_t run_len;
    int64_t depth;    /* nodes from here to the root, this one included */
    double mult;
} bracket;

typedef struct entry {
    size_t off, len;  /* text in the entry buffer */
    int32_t group;
    bool is_break;    /* ("BREAK", -1): weight is the negated group weight */
} entry;

typedef struct group {
    int32_t top_round, top_square;
    double weight;
} group;

typedef struct parser {
    bracket *br;
    size_t nbr, capbr;
    int32_t *rstack, *sstack; /* open brackets (indices into br) */
    size_t nr, ns, caps;
    entry *ent;
    size_t nent, capent;
    group *grp;
    size_t ngrp, capgrp;
    bool state_changed;       /* a bracket opened or closed since the last group */
    fokus_sbuf text;
    int64_t events;
} parser;

static bool add_entry(parser *P, const char *s, size_t n, bool is_break)
{
    if (P->state_changed || P->ngrp == 0) {
        if (!fokus_prompt_grow((void **)&P->grp, &P->capgrp, P->ngrp + 1, sizeof *P->grp)) return false;
        P->grp[P->ngrp].top_round = P->nr ? P->rstack[P->nr - 1] : -1;
        P->grp[P->ngrp].top_square = P->ns ? P->sstack[P->ns - 1] : -1;
        P->ngrp++;
        P->state_changed = false;
    }
    if (!fokus_prompt_grow((void **)&P->ent, &P->capent, P->nent + 1, sizeof *P->ent)) return false;
    P->ent[P->nent++] = (entry){P->text.n, n, (int32_t)(P->ngrp - 1), is_break};
    return fokus_sbuf_put(&P->text, s, n);
}

static bool open_bracket(parser *P, bool round)
{
    if (P->nbr >= INT32_MAX - 1) return false;
    if (!fokus_prompt_grow((void **)&P->br, &P->capbr, P->nbr + 1, sizeof *P->br)) return false;
    size_t need = (round ? P->nr : P->ns) + 1;
    if (need > P->caps) {
        size_t nc = P->caps ? P->caps * 2 : 16;
        int32_t *a = realloc(P->rstack, nc * sizeof *a);
        if (!a) return false;
        P->rstack = a;
        int32_t *b = realloc(P->sstack, nc * sizeof *b);
        if (!b) return false;
        P->sstack = b;
        P->caps = nc;
    }
    int32_t *st = round ? P->rstack : P->sstack;
    size_t *n = round ? &P->nr : &P->ns;
    bracket *b = &P->br[P->nbr];
    b->parent = *n ? st[*n - 1] : -1;
    b->close = NEVER;
    b->mult = round ? ROUND_MULT : SQUARE_MULT;
    st[(*n)++] = (int32_t)P->nbr++;
    P->state_changed = true;
    return true;
}

static void close_bracket(parser *P, bool round, double mult)
{
    int32_t *st = round ? P->rstack : P->sstack;
    size_t *n = round ? &P->nr : &P->ns;
    bracket *b = &P->br[st[--(*n)]];
    b->close = P->events++;
    b->mult = mult;
    P->state_changed = true;
}

/* Split plain text on A1111's re_break (\s*\bBREAK\b\s*) and append the pieces with a
 * ("BREAK", -1) entry between them. */
static bool add_text(parser *P, const char *s, size_t n)
{
    size_t start = 0; /* start of the current piece */
    size_t i = 0;
    while (i + 5 <= n) {
        const char *hit = memmem(s + i, n - i, "BREAK", 5);
        if (!hit) break;
        size_t q = (size_t)(hit - s);
        if (!fokus_prompt_py_boundary(s, n, q) || !fokus_prompt_py_boundary(s, n, q + 5)) {
            i = q + 1;
            continue;
        }
        /* leftmost match start: the whitespace run just before q, not reaching back
         * into the previous match */
        size_t a = q;
        while (a > start) {
            size_t j = a - 1, lim = a >= 4 ? a - 4 : 0;
            const unsigned char *u = (const unsigned char *)s;
            while (j > lim && (u[j] & 0xC0) == 0x80) j--;
            int32_t cp;
            size_t k = fokus_prompt_py_utf8(u + j, n - j, &cp);
            if (j + k != a || !fokus_py_isspace((uint32_t)cp)) break;
            a = j;
        }
        size_t e = q + 5;
        while (e < n) {
            int32_t cp;
            size_t k = fokus_prompt_py_utf8((const unsigned char *)s + e, n - e, &cp);
            if (!fokus_py_isspace((uint32_t)cp)) break;
            e += k;
        }
        if (!add_entry(P, s + start, a - start, false)) return false;
        if (!add_entry(P, "BREAK", 5, true)) return false;
        start = i = e;
    }
    return add_entry(P, s + start, n - start, false);
}

/* Cache of runs "x multiplied n times by m", for long runs shared by many groups. */
typedef struct run_cache {
    uint64_t v, m;   /* bit patterns of the start value and the multiplier */
    int64_t k;       /* multiplications done */
    double cur, prev;
    int valid;
} run_cache;
#define RUN_CACHE 64

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double mul_run(run_cache *cache, double v, double m, int64_t n)
{
    if (n <= 16) {
        for (int64_t i = 0; i < n; i++) v *= m;
        return v;
    }
    uint64_t bv = bits(v), bm = bits(m);
    run_cache *c = &cache[(bv * 0x9E3779B97F4A7C15ull ^ bm * 0xC2B2AE3D27D4EB4Full) >> 58];
    if (!(c->valid && c->v == bv && c->m == bm && c->k <= n)) {
        *c = (run_cache){bv, bm, 0, v, v, 1};
    }
    /* x_{k+1} = x_k * m; stop at a fixed point or a 2-cycle (0, inf and nan with a
     * negative m, subnormals that round back), which every run reaches quickly
     * unless |m| is within a few ulps of 1, in which case the loop is just long. */
    while (c->k < n) {
        double next = c->cur * m;
        if (bits(next) == bits(c->cur)) return c->cur;
        if (c->k > 0 && bits(next) == bits(c->prev)) {
            /* period 2 from k-1: x_n is prev if n-(k-1) is even, else cur */
            return ((n - (c->k - 1)) % 2 == 0) ? c->prev : c->cur;
        }
        c->prev = c->cur;
        c->cur = next;
        c->k++;
    }
    return c->cur;
}

/* Memo of walk states (value, round node, square node) -> final weight. Groups that
 * differ only in their innermost brackets ("(a)(a)(a)" deep inside other brackets)
 * reach the same state after a step or two and then share the rest of the walk. */
typedef struct memo_slot {
    uint64_t v;
    int32_t r, s;
    double result;
    bool used;
} memo_slot;

typedef struct memo {
    memo_slot *slot;
    size_t mask, n;
} memo;

static size_t memo_hash(uint64_t v, int32_t r, int32_t s)
{
    uint64_t h = v * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uint32_t)r * 0xC2B2AE3D27D4EB4Full ^
                 (uint64_t)(uint32_t)s * 0x165667B19E3779F9ull;
    return (size_t)(h ^ (h >> 29));
}

static const memo_slot *memo_find(const memo *m, uint64_t v, int32_t r, int32_t s)
{
    if (!m->slot) return NULL;
    for (size_t h = memo_hash(v, r, s) & m->mask;; h = (h + 1) & m->mask) {
        const memo_slot *e = &m->slot[h];
        if (!e->used) return NULL;
        if (e->v == v && e->r == r && e->s == s) return e;
    }
}

static bool memo_put(memo *m, uint64_t v, int32_t r, int32_t s, double result)
{
    if (2 * (m->n + 1) > m->mask + 1 || !m->slot) {
        size_t cap = m->slot ? 2 * (m->mask + 1) : 1024;
        memo_slot *ns = calloc(cap, sizeof *ns);
        if (!ns) return false;
        for (size_t i = 0; m->slot && i <= m->mask; i++) {
            memo_slot *e = &m->slot[i];
            if (!e->used) continue;
            size_t h = memo_hash(e->v, e->r, e->s) & (cap - 1);
            while (ns[h].used) h = (h + 1) & (cap - 1);
            ns[h] = *e;
        }
        free(m->slot);
        m->slot = ns;
        m->mask = cap - 1;
    }
    size_t h = memo_hash(v, r, s) & m->mask;
    while (m->slot[h].used) {
        if (m->slot[h].v == v && m->slot[h].r == r && m->slot[h].s == s) return true;
        h = (h + 1) & m->mask;
    }
    m->slot[h] = (memo_slot){v, r, s, result, true};
    m->n++;
    return true;
}

/* Multiplications allowed before giving up. Reached only by inputs built to defeat
 * the sharing above: thousands of distinct weights nested thousands of levels deep
 * under alternating or explicit multipliers (A1111 itself needs hours there). */
#define WEIGHT_WORK_MAX ((int64_t)1 << 29)

static fokus_status resolve_weights(parser *P, fokus_error *err)
{
    bracket *br = P->br;
    /* parents come before children, so one forward pass builds the run tables */
    for (size_t i = 0; i < P->nbr; i++) {
        bracket *b = &br[i];
        b->depth = 1 + (b->parent >= 0 ? br[b->parent].depth : 0);
        if (b->close == NEVER) continue;
        const bracket *p = b->parent >= 0 ? &br[b->parent] : NULL;
        if (p && p->close != NEVER && bits(p->mult) == bits(b->mult)) {
            b->run_len = p->run_len + 1;
            b->run_close = p->run_close;
            b->run_next = p->run_next;
        } else {
            b->run_len = 1;
            b->run_close = b->close;
            b->run_next = b->parent;
        }
    }
    run_cache cache[RUN_CACHE];
    memset(cache, 0, sizeof cache);
    memo M = {0};
    int64_t work = 0;
    enum { KEEP = 4 };
    for (size_t g = 0; g < P->ngrp; g++) {
        int32_t r = P->grp[g].top_round, s = P->grp[g].top_square;
        double v = 1.0;
        uint64_t kv[KEEP + 1];
        int32_t kr[KEEP + 1], ks[KEEP + 1];
        int nk = 0;
        bool hit = false;
        for (int step = 0;; step++) {
            /* shared walks meet within the first steps (past the group's own
             * brackets); probing later would cost a cache miss per multiplication */
            const memo_slot *e = step <= 2 * KEEP ? memo_find(&M, bits(v), r, s) : NULL;
            if (e) {
                v = e->result;
                hit = true;
                break;
            }
            if (nk <= KEEP) {
                kv[nk] = bits(v);
                kr[nk] = r;
                ks[nk++] = s;
            }
            int64_t cr = r >= 0 ? br[r].close : NEVER;
            int64_t cs = s >= 0 ? br[s].close : NEVER;
            if (cr == NEVER && cs == NEVER) break;
            if (++work > WEIGHT_WORK_MAX) {
                free(M.slot);
                return fokus_fail(err, FOKUS_ERANGE,
                                  "prompt_parse: resolving the weights needs more than %lld multiplications "
                                  "(%zu groups of text under brackets nested up to %lld deep)",
                                  (long long)WEIGHT_WORK_MAX, P->ngrp, (long long)P->nbr);
            }
            int32_t *x = cr < cs ? &r : &s;
            int64_t other = cr < cs ? cs : cr;
            const bracket *b = &br[*x];
            if (b->run_close < other) {
                v = mul_run(cache, v, b->mult, b->run_len);
                *x = b->run_next;
            } else {
                v *= b->mult;
                *x = b->parent;
            }
        }
        if (!hit) {
            /* then the brackets never closed: all round ones (x1.1), then square ones */
            if (r >= 0) v = mul_run(cache, v, ROUND_MULT, br[r].depth);
            if (s >= 0) v = mul_run(cache, v, SQUARE_MULT, br[s].depth);
        }
        for (int i = 0; i < nk; i++) {
            if (!memo_put(&M, kv[i], kr[i], ks[i], v)) {
                free(M.slot);
                return fokus_fail(err, FOKUS_ENOMEM, "prompt_parse: out of memory");
            }
        }
        P->grp[g].weight = v;
    }
    free(M.slot);
    return FOKUS_OK;
}

/* Length of A1111's weight token ":([+-]?[.\d]+)\)" at s[0..n) (s[0] == ':'), or 0;
 * *num and *numlen get the number's bytes. */
static size_t weight_token(const char *s, size_t n, const char **num, size_t *numlen)
{
    size_t i = 1;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t d0 = i;
    while (i < n) {
        if (s[i] == '.') {
            i++;
            continue;
        }
        int32_t cp;
        size_t k = fokus_prompt_py_utf8((const unsigned char *)s + i, n - i, &cp);
        if (fokus_prompt_py_decimal(cp) < 0) break;
        i += k;
    }
    if (i == d0 || i >= n || s[i] != ')') return 0;
    *num = s + 1;
    *numlen = i - 1;
    return i + 1;
}

static bool is_special(char c)
{
    return c == '\\' || c == '(' || c == ')' || c == '[' || c == ']' || c == ':';
}

static void free_parser(parser *P)
{
    free(P->br);
    free(P->rstack);
    free(P->sstack);
    free(P->ent);
    free(P->grp);
    free(P->text.p);
}


fokus_status fokus_prompt_parse_a1111(const char *s, size_t n, fokus_segments *out, fokus_error *err)
{
    parser P;
    memset(&P, 0, sizeof P);
    fokus_status st = FOKUS_OK;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        bool ok = true;
        if (c == '\\') {
            /* \( \) \[ \] \\ are literal characters; a lone backslash vanishes */
            char d = i + 1 < n ? s[i + 1] : 0;
            if (d == '(' || d == ')' || d == '[' || d == ']' || d == '\\') {
                ok = add_entry(&P, s + i + 1, 1, false);
                i += 2;
            } else {
                ok = add_entry(&P, "", 0, false);
                i += 1;
            }
        } else if (c == '(') {
            ok = open_bracket(&P, true);
            i++;
        } else if (c == '[') {
            ok = open_bracket(&P, false);
            i++;
        } else if (c == ':') {
            const char *num;
            size_t numlen, k = weight_token(s + i, n - i, &num, &numlen);
            if (k && P.nr) {
                double w;
                if (!fokus_prompt_py_float(num, numlen, &w)) {
                    st = fokus_fail(err, FOKUS_EINVAL,
                                    "prompt_parse: ValueError: could not convert string to float: '%.*s'"
                                    " (A1111 raises on this weight)",
                                    (int)(numlen > 64 ? 64 : numlen), num);
                    goto done;
                }
                close_bracket(&P, true, w);
                i += k;
            } else if (k) {
                ok = add_text(&P, s + i, k);
                i += k;
            } else {
                ok = add_text(&P, ":", 1);
                i++;
            }
        } else if (c == ')' && P.nr) {
            close_bracket(&P, true, ROUND_MULT);
            i++;
        } else if (c == ']' && P.ns) {
            close_bracket(&P, false, SQUARE_MULT);
            i++;
        } else if (c == ')' || c == ']') {
            ok = add_text(&P, s + i, 1);
            i++;
        } else {
            size_t j = i + 1;
            while (j < n && !is_special(s[j])) j++;
            ok = add_text(&P, s + i, j - i);
            i = j;
        }
        if (!ok) {
            st = fokus_fail(err, FOKUS_ENOMEM, "prompt_parse: out of memory (%zu-byte prompt)", n);
            goto done;
        }
    }
    if ((st = resolve_weights(&P, err)) != FOKUS_OK) goto done;

    fokus_segments res = {0};
    if (P.nent == 0) {
        if (fokus_segments_push(&res, "", 0, 1.0) != FOKUS_OK) goto oom;
    } else {
        /* merge runs of identical weights (Python ==: 0.0 == -0.0, nan never equal);
         * the first entry's weight stays */
        size_t a = 0;
        while (a < P.nent) {
            double w = P.grp[P.ent[a].group].weight;
            if (P.ent[a].is_break) w = -w;
            size_t b = a + 1, len = P.ent[a].len;
            for (; b < P.nent; b++) {
                double x = P.grp[P.ent[b].group].weight;
                if (P.ent[b].is_break) x = -x;
                if (!(x == w)) break;
                len += P.ent[b].len;
            }
            if (res.n == res.cap) {
                size_t nc = res.cap ? res.cap * 2 : 8;
                fokus_segment *p = realloc(res.items, nc * sizeof *p);
                if (!p) goto oom;
                res.items = p;
                res.cap = nc;
            }
            char *t = malloc(len + 1);
            if (!t) goto oom;
            size_t o = 0;
            for (size_t e = a; e < b; e++) {
                memcpy(t + o, P.text.p + P.ent[e].off, P.ent[e].len);
                o += P.ent[e].len;
            }
            t[len] = 0;
            res.items[res.n++] = (fokus_segment){t, len, w};
            a = b;
        }
    }
    *out = res;
    goto done;
oom:
    fokus_segments_free(&res);
    st = fokus_fail(err, FOKUS_ENOMEM, "prompt_parse: out of memory (%zu-byte prompt)", n);
done:
    free_parser(&P);
    return st;
}
