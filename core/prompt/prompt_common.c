/* Python semantics the prompt parsers inherit: whitespace, word characters, decimal
 * digits and float() on untrusted UTF-8; segment list helpers. */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "prompt/fokus_prompt.h"
#include "prompt_internal.h"

size_t fokus_prompt_py_utf8(const unsigned char *s, size_t n, int32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    utf8proc_int32_t c = -1;
    utf8proc_ssize_t k = utf8proc_iterate(s, n > 4 ? 4 : (utf8proc_ssize_t)n, &c);
    /* utf8proc accepts surrogates? It rejects them (returns an error), as Python's strict
     * decoder does; both end up as U+FFFD here. */
    if (k <= 0 || c < 0) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = c;
    return (size_t)k;
}

int fokus_prompt_py_decimal(int32_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c < 0x80 || utf8proc_category(c) != UTF8PROC_CATEGORY_ND) return -1;
    /* Nd characters come in runs of ten, 0 to 9, that may abut (U+1D7CE..1D7FF holds
     * five); the value is the offset from the run's start modulo 10. */
    int32_t start = c;
    while (start > 0 && c - start < 60 && utf8proc_category(start - 1) == UTF8PROC_CATEGORY_ND) start--;
    return (int)((c - start) % 10);
}

static bool is_ascii_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

bool fokus_prompt_py_float(const char *s, size_t n, double *out)
{
    /* Step 1 (CPython _PyUnicode_TransformDecimalAndSpaceToASCII): characters >= 127 that
     * are whitespace become ' ', decimal digits become '0'-'9', anything else fails.
     * Step 2 (_Py_string_to_number_with_underscores): '_' only between two digits, no
     * NUL. Step 3 (float_from_string_inner): strip ASCII whitespace, then the whole rest
     * must be one number as _Py_dg_strtod / _Py_parse_inf_or_nan read it. */
    char small[128];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) return false;
    size_t m = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 127) {
            if (c == 0) ok = false;
            buf[m++] = (char)c;
            i++;
            continue;
        }
        int32_t cp;
        size_t k = fokus_prompt_py_utf8((const unsigned char *)s + i, n - i, &cp);
        i += k;
        if (fokus_py_isspace((uint32_t)cp)) {
            buf[m++] = ' ';
        } else {
            int d = cp == 0xFFFD ? -1 : fokus_prompt_py_decimal(cp);
            if (d < 0) ok = false;
            else buf[m++] = (char)('0' + d);
        }
    }
    if (ok) {
        /* underscores: each one between two ASCII digits; removed afterwards */
        size_t w = 0;
        for (size_t i = 0; i < m && ok; i++) {
            if (buf[i] == '_') {
                if (i == 0 || i + 1 >= m || !(buf[i - 1] >= '0' && buf[i - 1] <= '9') ||
                    !(buf[i + 1] >= '0' && buf[i + 1] <= '9'))
                    ok = false;
            } else {
                buf[w++] = buf[i];
            }
        }
        m = w;
    }
    size_t a = 0, b = m;
    if (ok) {
        while (a < b && is_ascii_space(buf[a])) a++;
        while (b > a && is_ascii_space(buf[b - 1])) b--;
        if (a == b) ok = false;
    }
    if (ok) {
        size_t i = a;
        bool neg = false;
        if (buf[i] == '+' || buf[i] == '-') neg = buf[i++] == '-';
        size_t rest = b - i;
        if (rest == 3 && strncasecmp(buf + i, "inf", 3) == 0) {
            *out = neg ? -INFINITY : INFINITY;
        } else if (rest == 8 && strncasecmp(buf + i, "infinity", 8) == 0) {
            *out = neg ? -INFINITY : INFINITY;
        } else if (rest == 3 && strncasecmp(buf + i, "nan", 3) == 0) {
            *out = neg ? -NAN : NAN;
        } else {
            size_t digits = 0;
            while (i < b && buf[i] >= '0' && buf[i] <= '9') i++, digits++;
            if (i < b && buf[i] == '.') {
                i++;
                while (i < b && buf[i] >= '0' && buf[i] <= '9') i++, digits++;
            }
            if (digits == 0) ok = false;
            if (ok && i < b && (buf[i] == 'e' || buf[i] == 'E')) {
                size_t j = i + 1, ed = 0;
                if (j < b && (buf[j] == '+' || buf[j] == '-')) j++;
                while (j < b && buf[j] >= '0' && buf[j] <= '9') j++, ed++;
                if (ed) i = j;
            }
            if (ok && i != b) ok = false;
            if (ok) {
                /* strtod_l with the C locale: the host's LC_NUMERIC must not change
                 * the decimal point. glibc's strtod rounds correctly, like dtoa.c. */
                buf[b] = 0;
                locale_t c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
                if (!c_loc) ok = false;
                else {
                    *out = strtod_l(buf + a, NULL, c_loc);
                    freelocale(c_loc);
                }
            }
        }
    }
    if (buf != small) free(buf);
    return ok;
}

bool fokus_prompt_py_boundary(const char *s, size_t n, size_t i)
{
    const unsigned char *u = (const unsigned char *)s;
    bool after = false, before = false;
    int32_t cp;
    if (i < n) {
        fokus_prompt_py_utf8(u + i, n - i, &cp);
        after = fokus_py_isword((uint32_t)cp);
    }
    if (i > 0) {
        /* step back to the start of the previous character (at most 4 bytes) */
        size_t j = i - 1, lim = i >= 4 ? i - 4 : 0;
        while (j > lim && (u[j] & 0xC0) == 0x80) j--;
        size_t k = fokus_prompt_py_utf8(u + j, n - j, &cp);
        if (j + k != i) cp = 0xFFFD; /* the byte before i is a stray continuation byte */
        before = fokus_py_isword((uint32_t)cp);
    }
    return before != after;
}

fokus_status fokus_segments_push(fokus_segments *s, const char *text, size_t len, double w)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        fokus_segment *p = realloc(s->items, nc * sizeof *p);
        if (!p) return FOKUS_ENOMEM;
        s->items = p;
        s->cap = nc;
    }
    char *t = malloc(len + 1);
    if (!t) return FOKUS_ENOMEM;
    if (len) memcpy(t, text, len);
    t[len] = 0;
    s->items[s->n++] = (fokus_segment){t, len, w};
    return FOKUS_OK;
}

void fokus_segments_free(fokus_segments *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->items[i].text);
    free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}

bool fokus_sbuf_put(fokus_sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->n + n + 1) nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) return false;
        b->p = p;
        b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return true;
}

bool fokus_prompt_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / size) return false;
        nc *= 2;
    }
    void *q = realloc(*p, nc * size);
    if (!q) return false;
    *p = q;
    *cap = nc;
    return true;
}
