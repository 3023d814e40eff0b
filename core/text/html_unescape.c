/* HTML character references: Python's html.unescape (which CLIP's basic_clean runs
 * twice) and ftfy's stricter unescape_html fixer. */
#include <stdlib.h>
#include <string.h>

#include "html_entities.h"
#include "textclean.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const fokus_html_entity *find_entity(const fokus_html_entity *t, size_t n, const char *name,
                                            size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = t[mid].name;
        size_t ml = strlen(m);
        int c = memcmp(m, name, ml < len ? ml : len);
        if (c == 0) c = (ml > len) - (ml < len);
        if (c == 0) return &t[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int put_entity(fokus_ustr *out, const fokus_html_entity *e, uint32_t b, uint32_t end)
{
    for (int k = 0; k < 3 && e->cp[k]; k++)
        if (fokus_ustr_push(out, e->cp[k], b, end) != 0) return -1;
    return 0;
}

/* WHATWG "numeric character reference end state" as Python implements it
 * (html._invalid_charrefs / _invalid_codepoints). Returns the replacement, or 0 for
 * "nothing" (the reference is deleted). */
static uint32_t numeric_ref(uint32_t num, int overflow)
{
    /* Windows-1252 meanings the HTML standard gives to references 0x80..0x9F; the five
     * bytes that are undefined there stay C1 controls. */
    static const uint16_t c1[32] = {
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    };
    if (overflow) return 0xFFFD;
    if (num == 0) return 0xFFFD;
    if (num == 0x0D) return 0x0D;
    if (num >= 0x80 && num <= 0x9F) return c1[num - 0x80];
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return 0xFFFD;
    /* _invalid_codepoints: controls, noncharacters */
    if ((num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) ||
        (num >= 0x7F && num <= 0x9F) || (num >= 0xFDD0 && num <= 0xFDEF) ||
        (num & 0xFFFE) == 0xFFFE)
        return 0;
    return num;
}

static bool is_hex(uint32_t c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static uint32_t hexval(uint32_t c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* One match of Python's html._charref at s[i] == '&':
 *   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * Appends the replacement to `out` and returns the index after the match, or returns
 * i when the pattern does not match (the caller copies the '&'). */
static size_t py_charref(const fokus_ustr *in, size_t i, fokus_ustr *out, int *err)
{
    const uint32_t *s = in->cp;
    size_t n = in->n, j = i + 1;
    if (j < n && s[j] == '#') {
        uint32_t num = 0;
        int overflow = 0;
        size_t k = j + 1;
        if (k < n && s[k] >= '0' && s[k] <= '9') {
            while (k < n && s[k] >= '0' && s[k] <= '9') {
                if (num > 0x10FFFF) overflow = 1;
                else num = num * 10 + (s[k] - '0');
                k++;
            }
        } else if (k + 1 < n && (s[k] == 'x' || s[k] == 'X') && is_hex(s[k + 1])) {
            k++;
            while (k < n && is_hex(s[k])) {
                if (num > 0x10FFFF) overflow = 1;
                else num = num * 16 + hexval(s[k]);
                k++;
            }
        } else {
            return i;
        }
        if (k < n && s[k] == ';') k++;
        uint32_t r = numeric_ref(num, overflow);
        if (r && fokus_ustr_push(out, r, in->b[i], in->e[k - 1]) != 0) *err = 1;
        return k;
    }
    /* named: up to 32 characters that are not \t \n \f space < & # ; */
    size_t k = j;
    while (k < n && k - j < 32) {
        uint32_t c = s[k];
        if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' ||
            c == ';')
            break;
        k++;
    }
    if (k == j) return i;
    if (k < n && s[k] == ';') k++;
    /* html5 names are ASCII: only the ASCII prefix of the match can name an entity */
    char name[40];
    size_t len = 0;
    while (j + len < k && s[j + len] < 0x80) {
        name[len] = (char)s[j + len];
        len++;
    }
    const fokus_html_entity *e = NULL;
    size_t x = len;
    if (len == k - j) e = find_entity(fokus_html5_entities, COUNT(fokus_html5_entities), name, len);
    if (!e) {
        /* longest prefix (at least 2 characters, shorter than the match) that is a
         * name; the rest of the match stays as text */
        for (x = (k - j) - 1 < len ? (k - j) - 1 : len; x >= 2; x--) {
            e = find_entity(fokus_html5_entities, COUNT(fokus_html5_entities), name, x);
            if (e) break;
        }
        if (!e) {
            if (fokus_ustr_append(out, in, i, k) != 0) *err = 1; /* '&' + s, unchanged */
            return k;
        }
    }
    if (put_entity(out, e, in->b[i], in->e[j + x - 1]) != 0) *err = 1;
    if (fokus_ustr_append(out, in, j + x, k) != 0) *err = 1;
    return k;
}

int fokus_html_unescape(const fokus_ustr *in, fokus_ustr *out)
{
    size_t i, start = 0;
    for (i = 0; i < in->n; i++)
        if (in->cp[i] == '&') break;
    if (i == in->n) return 0;
    out->n = 0;
    int err = 0;
    bool changed = false;
    while (i < in->n) {
        if (in->cp[i] != '&') { i++; continue; }
        if (fokus_ustr_append(out, in, start, i) != 0) return -1;
        size_t before = out->n;
        size_t k = py_charref(in, i, out, &err);
        if (err) return -1;
        if (k == i) {
            if (fokus_ustr_push(out, '&', in->b[i], in->e[i]) != 0) return -1;
            k = i + 1;
        } else if (!changed) {
            /* an unknown name is copied back unchanged */
            changed = (out->n - before) != (k - i) ||
                      memcmp(out->cp + before, in->cp + i, (k - i) * sizeof(uint32_t)) != 0;
        }
        i = start = k;
    }
    if (fokus_ustr_append(out, in, start, in->n) != 0) return -1;
    return changed ? 1 : 0;
}

/* ftfy.fixes.unescape_html: matches &#?[0-9A-Za-z]{1,24}; and replaces it only when the
 * whole reference (with its ';') is a known name (html5 names ending in ';', plus
 * ftfy's all-caps spellings), or when it is numeric and html.unescape consumes it whole
 * (the result has no ';' left). */
int fokus_ftfy_unescape_html(const fokus_ustr *in, fokus_ustr *out)
{
    size_t i, start = 0;
    for (i = 0; i < in->n; i++)
        if (in->cp[i] == '&') break;
    if (i == in->n) return 0;
    out->n = 0;
    bool changed = false;
    while (i < in->n) {
        if (in->cp[i] != '&') { i++; continue; }
        size_t j = i + 1, k;
        bool numeric = j < in->n && in->cp[j] == '#';
        if (numeric) j++;
        for (k = j; k < in->n && fokus_py_isalnum_ascii(in->cp[k]) && k - j <= 24; k++) {}
        if (k == j || k - j > 24 || k >= in->n || in->cp[k] != ';') { i++; continue; }
        k++; /* the ';' */
        if (fokus_ustr_append(out, in, start, i) != 0) return -1;
        size_t before = out->n;
        const fokus_html_entity *e = NULL;
        if (!numeric) {
            char name[32];
            size_t len = k - (i + 1);
            for (size_t t = 0; t < len; t++) name[t] = (char)in->cp[i + 1 + t];
            e = find_entity(fokus_html5_entities, COUNT(fokus_html5_entities), name, len);
            if (!e)
                e = find_entity(fokus_ftfy_upper_entities, COUNT(fokus_ftfy_upper_entities), name,
                                len);
            if (e) {
                if (put_entity(out, e, in->b[i], in->e[k - 1]) != 0) return -1;
                changed = true;
            } else if (fokus_ustr_append(out, in, i, k) != 0) {
                return -1;
            }
        } else {
            /* Python's html.unescape on just this reference */
            fokus_ustr one = {in->cp + i, in->b + i, in->e + i, k - i, k - i};
            int err = 0;
            size_t m = py_charref(&one, 0, out, &err);
            if (err) return -1;
            bool keep = m != k - i; /* the ';' (or more) was left over */
            for (size_t t = before; !keep && t < out->n; t++) keep = out->cp[t] == ';';
            if (keep) {
                /* ftfy: "if ';' in html.unescape(text): return text" */
                out->n = before;
                if (fokus_ustr_append(out, in, i, k) != 0) return -1;
            } else {
                bool same = out->n - before == k - i &&
                            memcmp(out->cp + before, in->cp + i, (k - i) * 4) == 0;
                if (!same) changed = true;
            }
        }
        i = start = k;
    }
    if (fokus_ustr_append(out, in, start, in->n) != 0) return -1;
    return changed ? 1 : 0;
}
