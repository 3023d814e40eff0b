/* Code-point strings with source spans (fokus_ustr) and UTF-8 in and out. */
#include <stdlib.h>
#include <string.h>

#include "textclean.h"

int fokus_ustr_reserve(fokus_ustr *s, size_t cap)
{
    if (cap <= s->cap) return 0;
    if (cap > SIZE_MAX / 4 / sizeof(uint32_t)) return -1;
    uint32_t *cp = realloc(s->cp, cap * sizeof *cp);
    if (!cp) return -1;
    s->cp = cp;
    uint32_t *b = realloc(s->b, cap * sizeof *b);
    if (!b) return -1;
    s->b = b;
    uint32_t *e = realloc(s->e, cap * sizeof *e);
    if (!e) return -1;
    s->e = e;
    s->cap = cap;
    return 0;
}

void fokus_ustr_free(fokus_ustr *s)
{
    free(s->cp);
    free(s->b);
    free(s->e);
    memset(s, 0, sizeof *s);
}

void fokus_ustr_swap(fokus_ustr *a, fokus_ustr *b)
{
    fokus_ustr t = *a;
    *a = *b;
    *b = t;
}

int fokus_ustr_append(fokus_ustr *out, const fokus_ustr *in, size_t i, size_t j)
{
    if (j <= i) return 0;
    size_t k = j - i;
    if (out->n + k > out->cap) {
        size_t cap = out->cap ? out->cap : 64;
        while (cap < out->n + k) cap *= 2;
        if (fokus_ustr_reserve(out, cap) != 0) return -1;
    }
    memcpy(out->cp + out->n, in->cp + i, k * sizeof(uint32_t));
    memcpy(out->b + out->n, in->b + i, k * sizeof(uint32_t));
    memcpy(out->e + out->n, in->e + i, k * sizeof(uint32_t));
    out->n += k;
    return 0;
}

int fokus_ustr_copy(fokus_ustr *dst, const fokus_ustr *src)
{
    dst->n = 0;
    return fokus_ustr_append(dst, src, 0, src->n);
}

bool fokus_ustr_equal(const fokus_ustr *a, const fokus_ustr *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->cp, b->cp, a->n * sizeof(uint32_t)) == 0);
}

/* Python's UTF-8 decoder with errors="replace" follows the Unicode "maximal subpart"
 * practice: a lead byte followed by valid continuation bytes that stop early gives ONE
 * U+FFFD for all of them; any other bad byte gives one U+FFFD each. */
int fokus_utf8_decode_spans(const unsigned char *p, size_t len, uint32_t base, fokus_ustr *out)
{
    size_t i = 0;
    if (fokus_ustr_reserve(out, out->n + len + 1) != 0) return -1;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            out->cp[out->n] = c;
            out->b[out->n] = base + (uint32_t)i;
            out->e[out->n] = base + (uint32_t)i + 1;
            out->n++;
            i++;
            continue;
        }
        int need;
        unsigned lo = 0x80, hi = 0xBF;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2; cp = c & 0x0F;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3; cp = c & 0x07;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            need = 0; cp = 0xFFFD;
        }
        size_t j = i + 1;
        int k;
        for (k = 0; k < need; k++, j++) {
            if (j >= len) break;
            unsigned d = p[j];
            if (d < lo || d > hi) break;
            lo = 0x80; hi = 0xBF;  /* only the second byte has a narrowed range */
            cp = (cp << 6) | (d & 0x3F);
        }
        if (k < need || need == 0) cp = 0xFFFD;
        out->cp[out->n] = cp;
        out->b[out->n] = base + (uint32_t)i;
        out->e[out->n] = base + (uint32_t)j;
        out->n++;
        i = j;
    }
    return 0;
}

int fokus_utf8_put(uint32_t c, unsigned char *d)
{
    if (c < 0x80) { d[0] = (unsigned char)c; return 1; }
    if (c < 0x800) {
        d[0] = (unsigned char)(0xC0 | (c >> 6));
        d[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (unsigned char)(0xE0 | (c >> 12));
        d[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        d[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    if (c > 0x10FFFF) { /* cannot happen for decoded text; keep the output valid */
        d[0] = 0xEF; d[1] = 0xBF; d[2] = 0xBD;
        return 3;
    }
    d[0] = (unsigned char)(0xF0 | (c >> 18));
    d[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    d[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}
