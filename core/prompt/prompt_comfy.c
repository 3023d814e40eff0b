/*
 * ComfyUI's token_weights (comfy/sd1_clip.py) with escape_important/unescape_important.
 *
 * ComfyUI splits the text into top-level items (parse_parentheses), and for every item
 * of the form "(...)" strips the parentheses, multiplies the weight by 1.1 or replaces
 * it by the number after the last ':' (when Python's float() accepts it), and recurses
 * on the inside. Taken literally that re-scans nested text once per level (O(n^2) on
 * "((((...))))") and recurses once per level. Here one pass matches every '(' to its ')'
 * and records the last ':' and the last parenthesis before each position; the recursion
 * then jumps from item to item with an explicit stack, so the whole parse is linear.
 *
 * Why the precomputed matching is the right one: every recursive call works on the
 * inside of an item that starts with '(' at nesting level 0, so within it the level
 * never drops below zero and each ')' closes the nearest open '(' -- the same pair a
 * global stack finds. Inside such a range a '(' whose partner lies at or beyond the end
 * of the range (or has none) starts the unclosed last item.
 */
#include <stdlib.h>
#include <string.h>

#include "prompt/fokus_prompt.h"
#include "prompt_internal.h"

typedef struct frame {
    size_t p, end;
    double w;
} frame;

typedef struct comfy {
    const char *s; /* escaped text: "\\)" -> "\0\1", "\\(" -> "\0\2" */
    size_t n;
    int32_t *match;      /* partner of each parenthesis, or -1 */
    int32_t *last_colon; /* last ':' before position i, or -1 */
    int32_t *last_paren; /* last '(' or ')' before position i, or -1 */
    int32_t *next_open;  /* first '(' at or after position i, or n */
    frame *stack;
    size_t nstack, capstack;
    fokus_segments *out;
    fokus_sbuf tmp;
} comfy;

/* unescape_important: "\0\1" -> ")", then "\0\2" -> "(" (two passes, as Python does) */
static fokus_status emit(comfy *C, size_t a, size_t b, double w)
{
    C->tmp.n = 0;
    for (size_t i = a; i < b; i++) {
        char c = C->s[i];
        if (c == 0 && i + 1 < b && C->s[i + 1] == 1) {
            c = ')';
            i++;
        }
        if (!fokus_sbuf_put(&C->tmp, &c, 1)) return FOKUS_ENOMEM;
    }
    size_t w2 = 0;
    char *t = C->tmp.p;
    for (size_t i = 0; i < C->tmp.n; i++) {
        if (t[i] == 0 && i + 1 < C->tmp.n && t[i + 1] == 2) {
            t[w2++] = '(';
            i++;
        } else {
            t[w2++] = t[i];
        }
    }
    return fokus_segments_push(C->out, t ? t : "", w2, w);
}

static fokus_status push(comfy *C, size_t p, size_t end, double w)
{
    if (C->nstack == C->capstack) {
        size_t nc = C->capstack ? C->capstack * 2 : 64;
        frame *f = realloc(C->stack, nc * sizeof *f);
        if (!f) return FOKUS_ENOMEM;
        C->stack = f;
        C->capstack = nc;
    }
    C->stack[C->nstack++] = (frame){p, end, w};
    return FOKUS_OK;
}

/* One item [a, b) seen by token_weights with weight w: either a weighted group to
 * descend into (pushed) or plain text (emitted). */
static fokus_status item(comfy *C, size_t a, size_t b, double w)
{
    const char *s = C->s;
    if (!(b - a >= 2 && s[a] == '(' && s[b - 1] == ')')) return emit(C, a, b, w);
    size_t ca = a + 1, cb = b - 1; /* x = x[1:-1] */
    double w2 = w * 1.1;
    int32_t xx = C->last_colon[cb];
    if (xx > (int32_t)ca && C->last_paren[cb] < xx) {
        /* x.rfind(":") > 0 and float(x[xx+1:]) succeeds (a number has no parentheses) */
        double v;
        if (fokus_prompt_py_float(s + xx + 1, cb - (size_t)xx - 1, &v)) {
            w2 = v;
            cb = (size_t)xx;
        }
    }
    return push(C, ca, cb, w2);
}

static fokus_status run(comfy *C)
{
    const char *s = C->s;
    while (C->nstack) {
        frame *f = &C->stack[C->nstack - 1];
        if (f->p >= f->end) {
            C->nstack--;
            continue;
        }
        size_t p = f->p, end = f->end;
        double w = f->w;
        fokus_status st;
        if (s[p] == '(') {
            int32_t m = C->match[p];
            size_t q = (m >= 0 && (size_t)m < end) ? (size_t)m + 1 : end;
            f->p = q; /* f may move when item() grows the stack */
            st = item(C, p, q, w);
        } else {
            size_t q = (size_t)C->next_open[p];
            if (q > end) q = end;
            f->p = q;
            st = emit(C, p, q, w);
        }
        if (st != FOKUS_OK) return st;
    }
    return FOKUS_OK;
}


fokus_status fokus_prompt_parse_comfy(const char *text, size_t n, fokus_segments *out, fokus_error *err)
{
    if (n >= (size_t)INT32_MAX - 2)
        return fokus_fail(err, FOKUS_ERANGE, "prompt_parse: prompt of %zu bytes is too long (max 2 GiB)", n);
    comfy C;
    memset(&C, 0, sizeof C);
    fokus_segments res = {0};
    C.out = &res;
    fokus_status st = FOKUS_ENOMEM;
    char *s = malloc(n + 1);
    C.match = malloc((n + 1) * sizeof *C.match);
    C.last_colon = malloc((n + 1) * sizeof *C.last_colon);
    C.last_paren = malloc((n + 1) * sizeof *C.last_paren);
    C.next_open = malloc((n + 1) * sizeof *C.next_open);
    int32_t *stk = malloc((n + 1) * sizeof *stk);
    if (!s || !C.match || !C.last_colon || !C.last_paren || !C.next_open || !stk) goto done;
    /* escape_important (both replacements keep the length) */
    memcpy(s, text, n);
    s[n] = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == '\\' && (s[i + 1] == ')' || s[i + 1] == '(')) {
            s[i + 1] = s[i + 1] == ')' ? 1 : 2;
            s[i] = 0;
            i++;
        }
    }
    C.s = s;
    C.n = n;
    size_t ns = 0;
    int32_t lc = -1, lp = -1;
    for (size_t i = 0; i < n; i++) {
        C.last_colon[i] = lc;
        C.last_paren[i] = lp;
        C.match[i] = -1;
        if (s[i] == '(') {
            stk[ns++] = (int32_t)i;
            lp = (int32_t)i;
        } else if (s[i] == ')') {
            if (ns) {
                int32_t o = stk[--ns];
                C.match[o] = (int32_t)i;
                C.match[i] = o;
            }
            lp = (int32_t)i;
        } else if (s[i] == ':') {
            lc = (int32_t)i;
        }
    }
    C.last_colon[n] = lc;
    C.last_paren[n] = lp;
    int32_t nx = (int32_t)n;
    C.next_open[n] = nx;
    for (size_t i = n; i-- > 0;) {
        if (s[i] == '(') nx = (int32_t)i;
        C.next_open[i] = nx;
    }
    /* Top level: parse_parentheses literally, because outside any group the level may
     * go negative (a stray ')'), after which '(' and ')' are plain text until the level
     * is back at zero. */
    size_t cur = 0; /* start of current_item */
    long level = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '(') {
            if (level == 0 && i > cur) {
                if ((st = item(&C, cur, i, 1.0)) != FOKUS_OK || (st = run(&C)) != FOKUS_OK) goto done;
            }
            if (level == 0) cur = i;
            level++;
        } else if (c == ')') {
            level--;
            if (level == 0) {
                if ((st = item(&C, cur, i + 1, 1.0)) != FOKUS_OK || (st = run(&C)) != FOKUS_OK) goto done;
                cur = i + 1;
            }
        }
    }
    if (cur < n) {
        if ((st = item(&C, cur, n, 1.0)) != FOKUS_OK || (st = run(&C)) != FOKUS_OK) goto done;
    }
    st = FOKUS_OK;
done:
    free(s);
    free(C.match);
    free(C.last_colon);
    free(C.last_paren);
    free(C.next_open);
    free(stk);
    free(C.stack);
    free(C.tmp.p);
    if (st != FOKUS_OK) {
        fokus_segments_free(&res);
        return fokus_fail(err, st, "prompt_parse: out of memory (%zu-byte prompt)", n);
    }
    *out = res;
    return FOKUS_OK;
}
