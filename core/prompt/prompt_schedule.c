/*
 * A1111 prompt editing and alternation (get_learned_conditioning_prompt_schedules) and
 * the AND split with weights (get_multicond_prompt_list), modules/prompt_parser.py.
 *
 * A1111 parses with a lark Earley grammar:
 *   start: (prompt | /[][():]/+)*           -- stray brackets and ':' allowed at top level
 *   prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
 *   emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
 *   scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
 *   alternate: "[" prompt ("|" [prompt])+ "]"
 *   plain: /([^\\\[\]():|]|\\.)+/
 * Inside a bracket the grammar is deterministic (no stray brackets there), so a
 * construct starting at a given '(' or '[' either parses one way or not at all. At the
 * top level this parser takes every construct that parses (scanning left to right) and
 * makes the other brackets strays. lark's own choice between "construct" and "strays"
 * when a scheduled span is immediately followed by a stray bracket or ':' depends on
 * Python's string-hash seed (it differs between runs of A1111 itself); this parser
 * always takes the construct there. Unparsable prompts (a '|' outside any alternation,
 * a backslash at the end or before a newline) are returned whole, as A1111 does.
 *
 * Constructs are found with an explicit stack and memoised per start position, so deep
 * or unbalanced nesting is linear in time and uses no C recursion.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompt/fokus_prompt.h"
#include "prompt_internal.h"

enum { C_UNKNOWN = 0, C_FAIL, C_GROUP, C_SCHED, C_ALT };

/* idx[] value of a '|' that the scanner took as an option separator. Only the scanner
 * knows which characters are escaped (plain's `\\.` takes a backslash together with the
 * next character, so in  [x\|y|z]  only the second '|' separates, as in A1111), so
 * render() splits alternations at these marks instead of re-reading the text. */
#define IDX_BAR (-2)

typedef struct cons {
    int kind;
    size_t end;      /* one past the closing bracket */
    size_t sep0;     /* first separator (':' or '|'), for C_SCHED */
    size_t sep1;     /* second ':' of [from:to:when], or 0 */
    int when;        /* resolved step of a C_SCHED */
    size_t nopt;     /* options of a C_ALT */
} cons;

typedef struct attempt {
    size_t start;
    size_t ncolon, nbar;
    size_t c0, c1;      /* positions of the first two ':' */
} attempt;

typedef struct sched {
    const char *s;
    size_t n;
    int32_t *idx;      /* construct index per position of '(' / '[', or -1 */
    cons *c;
    size_t nc, capc;
    attempt *st;
    size_t nst, capst;
} sched;

static int32_t new_cons(sched *S, size_t pos, int kind)
{
    if (!fokus_prompt_grow((void **)&S->c, &S->capc, S->nc + 1, sizeof *S->c)) return -1;
    S->c[S->nc] = (cons){.kind = kind};
    S->idx[pos] = (int32_t)S->nc;
    return (int32_t)S->nc++;
}

/* Length of one plain or whitespace character sequence at i (> 0), or 0 when the
 * character is a bracket, ':', '|', or a backslash that plain cannot take (at the end
 * or before a newline: lark's '.' does not match "\n"). */
static size_t plain_char(const char *s, size_t n, size_t i)
{
    char c = s[i];
    if (c == '[' || c == ']' || c == '(' || c == ')' || c == ':' || c == '|') return 0;
    if (c == '\\') {
        if (i + 1 >= n || s[i + 1] == '\n') return 0;
        int32_t cp;
        return 1 + fokus_prompt_py_utf8((const unsigned char *)s + i + 1, n - i - 1, &cp);
    }
    return 1;
}

/* lark's SIGNED_NUMBER at s[i..e): returns the end of the match or i. */
static size_t number_end(const char *s, size_t i, size_t e)
{
    size_t j = i;
    if (j < e && (s[j] == '+' || s[j] == '-')) j++;
    size_t d = 0;
    while (j < e && s[j] >= '0' && s[j] <= '9') j++, d++;
    if (j < e && s[j] == '.') {
        size_t k = j + 1, d2 = 0;
        while (k < e && s[k] >= '0' && s[k] <= '9') k++, d2++;
        if (d + d2 == 0) return i;
        j = k;
        d += d2;
    }
    if (d == 0) return i;
    if (j < e && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1, d3 = 0;
        if (k < e && (s[k] == '+' || s[k] == '-')) k++;
        while (k < e && s[k] >= '0' && s[k] <= '9') k++, d3++;
        if (d3) j = k;
    }
    return j;
}

static size_t skip_ws(const char *s, size_t i, size_t e)
{
    while (i < e) {
        int32_t cp;
        size_t k = fokus_prompt_py_utf8((const unsigned char *)s + i, e - i, &cp);
        if (!fokus_py_isspace((uint32_t)cp)) break;
        i += k;
    }
    return i;
}

/* [WHITESPACE] NUMBER [WHITESPACE] filling s[a..e) exactly: number bounds or false. */
static bool when_part(const char *s, size_t a, size_t e, size_t *na, size_t *nb)
{
    size_t i = skip_ws(s, a, e);
    size_t j = number_end(s, i, e);
    if (j == i) return false;
    if (skip_ws(s, j, e) != e) return false;
    *na = i;
    *nb = j;
    return true;
}

/* Tries the construct at S->s[pos] (a '(' or '['): runs to its end with an explicit
 * stack, memoising every construct it meets. On failure every attempt still open fails
 * too, since no stray bracket may appear inside a construct. Returns false on ENOMEM. */
static bool try_construct(sched *S, size_t pos)
{
    const char *s = S->s;
    size_t n = S->n;
    S->nst = 0;
    size_t i = pos;
    for (;;) {
        /* open a new attempt at i */
        if (!fokus_prompt_grow((void **)&S->st, &S->capst, S->nst + 1, sizeof *S->st)) return false;
        S->st[S->nst++] = (attempt){.start = i};
        i++;
    scan:
        while (i < n) {
            char c = s[i];
            attempt *a = &S->st[S->nst - 1];
            if (c == '(' || c == '[') {
                int32_t k = S->idx[i];
                if (k >= 0 && S->c[k].kind == C_FAIL) goto fail;
                if (k >= 0) {
                    i = S->c[k].end;
                    continue;
                }
                break; /* new attempt */
            }
            if (c == ':') {
                if (a->ncolon == 0) a->c0 = i;
                else if (a->ncolon == 1) a->c1 = i;
                a->ncolon++;
                i++;
                continue;
            }
            if (c == '|') {
                a->nbar++;
                S->idx[i] = IDX_BAR;
                i++;
                continue;
            }
            if (c == ')' || c == ']') {
                char open = s[a->start];
                bool ok = (open == '(' && c == ')') || (open == '[' && c == ']');
                int kind = C_GROUP;
                size_t sep0 = 0, sep1 = 0;
                if (ok && open == '(') {
                    ok = a->nbar == 0 && a->ncolon <= 1;
                } else if (ok) {
                    if (a->nbar && a->ncolon) ok = false;
                    else if (a->nbar) kind = C_ALT;
                    else if (a->ncolon == 1 || a->ncolon == 2) {
                        size_t last = a->ncolon == 1 ? a->c0 : a->c1, na, nb;
                        /* the when-part must be plain text: no construct inside */
                        bool plain = true;
                        for (size_t j = last + 1; j < i && plain; j++)
                            if (s[j] == '(' || s[j] == '[') plain = false;
                        ok = plain && when_part(s, last + 1, i, &na, &nb);
                        kind = C_SCHED;
                        sep0 = a->c0;
                        sep1 = a->ncolon == 2 ? a->c1 : 0;
                    } else if (a->ncolon > 2) {
                        ok = false;
                    }
                }
                if (!ok) goto fail;
                int32_t k = new_cons(S, a->start, kind);
                if (k < 0) return false;
                S->c[k].end = i + 1;
                S->c[k].sep0 = sep0;
                S->c[k].sep1 = sep1;
                S->c[k].nopt = a->nbar + 1;
                S->nst--;
                i++;
                if (S->nst == 0) return true;
                goto scan;
            }
            size_t k = plain_char(s, n, i);
            if (!k) goto fail;
            i += k;
        }
        if (i >= n) goto fail;
    }
fail:
    for (size_t k = 0; k < S->nst; k++)
        if (new_cons(S, S->st[k].start, C_FAIL) < 0) return false;
    S->nst = 0;
    return true;
}

typedef struct outframe {
    size_t p, end;
    size_t raw_at; /* position whose bracket is output as text (the group itself) */
} outframe;

/* Text of the prompt at `step`: walks the tree with an explicit stack. */
static bool render(const sched *S, int step, fokus_sbuf *out, outframe **stk, size_t *cap)
{
    const char *s = S->s;
    size_t ns = 0;
    out->n = 0;
    if (!fokus_sbuf_put(out, "", 0)) return false;
    if (!fokus_prompt_grow((void **)stk, cap, 1, sizeof **stk)) return false;
    (*stk)[ns++] = (outframe){0, S->n, SIZE_MAX};
    while (ns) {
        outframe *f = &(*stk)[ns - 1];
        if (f->p >= f->end) {
            ns--;
            continue;
        }
        size_t p = f->p;
        int32_t k = (s[p] == '(' || s[p] == '[') && p != f->raw_at ? S->idx[p] : -1;
        if (k < 0 || S->c[k].kind == C_FAIL || S->c[k].kind == C_UNKNOWN) {
            size_t q = p + 1;
            while (q < f->end && s[q] != '(' && s[q] != '[') q++;
            if (!fokus_sbuf_put(out, s + p, q - p)) return false;
            f->p = q;
            continue;
        }
        const cons *c = &S->c[k];
        f->p = c->end;
        size_t a, b;
        if (c->kind == C_GROUP) {
            a = p;
            b = c->end;
        } else if (c->kind == C_SCHED) {
            /* before (or nothing) while step <= when, else after */
            bool first = step <= c->when;
            if (c->sep1) {
                a = first ? p + 1 : c->sep0 + 1;
                b = first ? c->sep0 : c->sep1;
            } else {
                a = first ? p + 1 : p + 1;
                b = first ? p + 1 : c->sep0;
            }
        } else {
            /* option (step-1) % options: between the separators the scanner marked
             * (nested constructs are skipped whole; an escaped '|' is never marked) */
            size_t j = (size_t)(step - 1) % c->nopt, q = p + 1;
            a = q;
            for (size_t bar = 0; q < c->end - 1; ) {
                int32_t kk = (s[q] == '(' || s[q] == '[') ? S->idx[q] : -1;
                if (kk >= 0) {
                    q = S->c[kk].end;
                    continue;
                }
                if (S->idx[q] == IDX_BAR) {
                    if (bar == j) break;
                    bar++;
                    a = q + 1;
                }
                q++;
            }
            b = q;
        }
        if (!fokus_prompt_grow((void **)stk, cap, ns + 1, sizeof **stk)) return false;
        (*stk)[ns++] = (outframe){a, b, c->kind == C_GROUP ? p : SIZE_MAX};
    }
    return true;
}

static void sched_free(sched *S)
{
    free(S->idx);
    free(S->c);
    free(S->st);
}

void fokus_schedule_free(fokus_schedule *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->items[i].prompt);
    free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}

static fokus_status sched_push(fokus_schedule *o, int until, const char *t, size_t n)
{
    if (!fokus_prompt_grow((void **)&o->items, &o->cap, o->n + 1, sizeof *o->items)) return FOKUS_ENOMEM;
    char *p = malloc(n + 1);
    if (!p) return FOKUS_ENOMEM;
    if (n) memcpy(p, t, n);
    p[n] = 0;
    o->items[o->n++] = (fokus_schedule_entry){until, p, n};
    return FOKUS_OK;
}

#define SCHEDULE_MAX_BYTES ((size_t)256 << 20)

fokus_status fokus_prompt_schedule(const char *text, size_t len, int steps, fokus_schedule *out,
                                   fokus_error *err)
{
    if (!out) return fokus_fail(err, FOKUS_EINVAL, "prompt_schedule: out is NULL");
    *out = (fokus_schedule){0};
    if (!text && len) return fokus_fail(err, FOKUS_EINVAL, "prompt_schedule: text is NULL with length %zu", len);
    if (!text) text = "";
    if (steps < 1 || steps > 1000000)
        return fokus_fail(err, FOKUS_EINVAL, "prompt_schedule: steps must be in [1, 1000000], got %d", steps);
    if (len >= (size_t)INT32_MAX - 2)
        return fokus_fail(err, FOKUS_ERANGE, "prompt_schedule: prompt of %zu bytes is too long", len);
    sched S;
    memset(&S, 0, sizeof S);
    S.s = text;
    S.n = len;
    fokus_status st = FOKUS_OK;
    fokus_schedule res = {0};
    fokus_sbuf buf = {0};
    outframe *stk = NULL;
    size_t capstk = 0;
    char *seen = NULL;
    S.idx = malloc((len + 1) * sizeof *S.idx);
    if (!S.idx) goto oom;
    for (size_t i = 0; i < len; i++) S.idx[i] = -1;

    /* top level: constructs where they parse, strays elsewhere; '|' or a bad backslash
     * outside every construct makes the whole prompt unparsable */
    bool parsed = true;
    for (size_t i = 0; i < len && parsed;) {
        char c = text[i];
        if (c == '(' || c == '[') {
            if (S.idx[i] < 0 && !try_construct(&S, i)) goto oom;
            const cons *k = &S.c[S.idx[i]];
            i = k->kind == C_FAIL ? i + 1 : k->end;
        } else if (c == ')' || c == ']' || c == ':') {
            i++;
        } else {
            size_t k = plain_char(text, len, i);
            if (!k) parsed = false;
            i += k;
        }
    }
    if (!parsed) {
        if (sched_push(&res, steps, text, len) != FOKUS_OK) goto oom;
        goto ok;
    }

    /* collect_steps: every construct that parsed is in the final tree */
    seen = calloc((size_t)steps + 1, 1);
    if (!seen) goto oom;
    seen[steps] = 1;
    for (size_t k = 0; k < S.nc; k++) {
        cons *c = &S.c[k];
        if (c->kind == C_ALT) {
            memset(seen + 1, 1, (size_t)steps);
        } else if (c->kind == C_SCHED) {
            size_t last = c->sep1 ? c->sep1 : c->sep0, na, nb;
            when_part(text, last + 1, c->end - 1, &na, &nb);
            double v = 0;
            bool dot = memchr(text + na, '.', nb - na) != NULL;
            fokus_prompt_py_float(text + na, nb - na, &v); /* SIGNED_NUMBER always converts */
            if (dot) v *= steps;
            if (isinf(v)) {
                st = fokus_fail(err, FOKUS_EINVAL,
                                "prompt_schedule: OverflowError: cannot convert float infinity to integer"
                                " (step number '%.*s'; A1111 raises here)",
                                (int)(nb - na > 40 ? 40 : nb - na), text + na);
                goto fail;
            }
            /* min(steps, int(v)): int() truncates toward zero */
            double t = trunc(v);
            c->when = t >= steps ? steps : (t < -1e9 ? -1000000000 : (int)t);
            if (c->when >= 1) seen[c->when] = 1;
        }
    }
    size_t total = 0;
    for (int t = 1; t <= steps; t++) {
        if (!seen[t]) continue;
        if (!render(&S, t, &buf, &stk, &capstk)) goto oom;
        total += buf.n + 1;
        if (total > SCHEDULE_MAX_BYTES) {
            st = fokus_fail(err, FOKUS_ERANGE,
                            "prompt_schedule: result exceeds %zu MiB (%d steps of a %zu-byte prompt)",
                            SCHEDULE_MAX_BYTES >> 20, steps, len);
            goto fail;
        }
        if (sched_push(&res, t, buf.p, buf.n) != FOKUS_OK) goto oom;
    }
ok:
    free(seen);
    free(buf.p);
    free(stk);
    sched_free(&S);
    *out = res;
    return FOKUS_OK;
oom:
    st = fokus_fail(err, FOKUS_ENOMEM, "prompt_schedule: out of memory (%zu-byte prompt)", len);
fail:
    free(seen);
    free(buf.p);
    free(stk);
    sched_free(&S);
    fokus_schedule_free(&res);
    return st;
}

/* ---------------------------------------------------------------------------------- */
/* AND: re.split(r"\bAND\b"), then each part through
 * re_weight = ^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$ */

static size_t ws_start_before(const char *s, size_t a, size_t i)
{
    /* start of the whitespace run that ends at i (not before a) */
    while (i > a) {
        size_t j = i - 1, lim = i - a >= 4 ? i - 4 : a;
        const unsigned char *u = (const unsigned char *)s;
        while (j > lim && (u[j] & 0xC0) == 0x80) j--;
        int32_t cp;
        size_t k = fokus_prompt_py_utf8(u + j, i - j, &cp);
        if (j + k != i || !fokus_py_isspace((uint32_t)cp)) break;
        i = j;
    }
    return i;
}

static fokus_status and_part(const char *s, size_t a, size_t b, fokus_segments *out)
{
    double w = 1.0;
    size_t end = ws_start_before(s, a, b); /* no weight: trailing whitespace dropped */
    const char *colon = NULL;
    for (size_t i = b; i > a; i--)
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    if (colon) {
        size_t c = (size_t)(colon - s);
        size_t i = skip_ws(s, c + 1, b), n0 = i;
        if (i < b && (s[i] == '+' || s[i] == '-')) i++;
        size_t digits = 0, dots = 0;
        while (i < b) {
            if (s[i] == '.') {
                dots++;
                i++;
                continue;
            }
            int32_t cp;
            size_t k = fokus_prompt_py_utf8((const unsigned char *)s + i, b - i, &cp);
            if (fokus_prompt_py_decimal(cp) < 0) break;
            digits++;
            i += k;
        }
        double v;
        if (digits && dots <= 1 && skip_ws(s, i, b) == b && fokus_prompt_py_float(s + n0, i - n0, &v)) {
            w = v;
            end = ws_start_before(s, a, c);
        }
    }
    return fokus_segments_push(out, s + a, end - a, w) == FOKUS_OK ? FOKUS_OK : FOKUS_ENOMEM;
}

fokus_status fokus_prompt_and(const char *text, size_t len, fokus_segments *out, fokus_error *err)
{
    if (!out) return fokus_fail(err, FOKUS_EINVAL, "prompt_and: out is NULL");
    *out = (fokus_segments){0};
    if (!text && len) return fokus_fail(err, FOKUS_EINVAL, "prompt_and: text is NULL with length %zu", len);
    if (!text) text = "";
    fokus_segments res = {0};
    size_t start = 0, i = 0;
    while (i + 3 <= len) {
        const char *hit = memmem(text + i, len - i, "AND", 3);
        if (!hit) break;
        size_t q = (size_t)(hit - text);
        if (fokus_prompt_py_boundary(text, len, q) && fokus_prompt_py_boundary(text, len, q + 3)) {
            if (and_part(text, start, q, &res) != FOKUS_OK) goto oom;
            start = i = q + 3;
        } else {
            i = q + 1;
        }
    }
    if (and_part(text, start, len, &res) != FOKUS_OK) goto oom;
    *out = res;
    return FOKUS_OK;
oom:
    fokus_segments_free(&res);
    return fokus_fail(err, FOKUS_ENOMEM, "prompt_and: out of memory (%zu-byte prompt)", len);
}
