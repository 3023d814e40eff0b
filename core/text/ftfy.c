/*
 * ftfy.fix_text (ftfy 6.3, default TextFixerConfig) on span-carrying text.
 *
 * fix_text cuts the text after every "\n" (and every 1,000,000 characters) and fixes
 * each segment on its own: the fixers below run in ftfy's order, repeatedly, until the
 * segment stops changing. HTML entities are only decoded while no "<" has been seen (in
 * this or an earlier segment), as ftfy's unescape_html="auto" does.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "textclean.h"

#define FTFY_MAX_DECODE_LENGTH 1000000
/* ftfy repeats the fixers until nothing changes; nested entities such as
 * "&amp;amp;amp;..." take one round per level. Rounds are capped by a work budget so a
 * hostile megabyte cannot take minutes: ordinary text settles in 2-3 rounds. */
#define FTFY_MAX_ROUNDS 100
#define FTFY_ROUND_BUDGET (16u << 20)

/* Runs a code-point-for-code-point or one-to-many translation: map() writes up to 4
 * replacement code points and returns their count, or -1 to keep the character. */
typedef int (*map_fn)(uint32_t c, uint32_t *dst);

static int translate(const fokus_ustr *in, fokus_ustr *out, map_fn map)
{
    uint32_t rep[4];
    size_t i, start = 0;
    bool changed = false;
    out->n = 0;
    for (i = 0; i < in->n; i++) {
        int k = map(in->cp[i], rep);
        if (k < 0) continue;
        if (fokus_ustr_append(out, in, start, i) != 0) return -1;
        for (int t = 0; t < k; t++)
            if (fokus_ustr_push(out, rep[t], in->b[i], in->e[i]) != 0) return -1;
        start = i + 1;
        changed = true;
    }
    if (!changed) return 0;
    if (fokus_ustr_append(out, in, start, in->n) != 0) return -1;
    return 1;
}

/* chardata.LIGATURES: Latin ligatures and legacy digraphs, split into their letters
 * (the list ftfy defines; other scripts' ligatures are left alone). */
static int map_ligature(uint32_t c, uint32_t *d)
{
    if (c < 0x132) return -1;
    switch (c) {
    case 0x0132: d[0] = 'I'; d[1] = 'J'; return 2;
    case 0x0133: d[0] = 'i'; d[1] = 'j'; return 2;
    case 0x0149: d[0] = 0x02BC; d[1] = 'n'; return 2;
    case 0x01C4: d[0] = 'D'; d[1] = 0x017D; return 2;
    case 0x01C5: d[0] = 'D'; d[1] = 0x017E; return 2;
    case 0x01C6: d[0] = 'd'; d[1] = 0x017E; return 2;
    case 0x01C7: d[0] = 'L'; d[1] = 'J'; return 2;
    case 0x01C8: d[0] = 'L'; d[1] = 'j'; return 2;
    case 0x01C9: d[0] = 'l'; d[1] = 'j'; return 2;
    case 0x01CA: d[0] = 'N'; d[1] = 'J'; return 2;
    case 0x01CB: d[0] = 'N'; d[1] = 'j'; return 2;
    case 0x01CC: d[0] = 'n'; d[1] = 'j'; return 2;
    case 0x01F1: d[0] = 'D'; d[1] = 'Z'; return 2;
    case 0x01F2: d[0] = 'D'; d[1] = 'z'; return 2;
    case 0x01F3: d[0] = 'd'; d[1] = 'z'; return 2;
    case 0xFB00: d[0] = 'f'; d[1] = 'f'; return 2;
    case 0xFB01: d[0] = 'f'; d[1] = 'i'; return 2;
    case 0xFB02: d[0] = 'f'; d[1] = 'l'; return 2;
    case 0xFB03: d[0] = 'f'; d[1] = 'f'; d[2] = 'i'; return 3;
    case 0xFB04: d[0] = 'f'; d[1] = 'f'; d[2] = 'l'; return 3;
    case 0xFB05: d[0] = 0x017F; d[1] = 't'; return 2;
    case 0xFB06: d[0] = 's'; d[1] = 't'; return 2;
    default: return -1;
    }
}

/* chardata.WIDTH_MAP: U+3000 becomes a space, and every character of U+FF01..U+FFEF
 * whose NFKC form differs becomes that form. */
static int map_width(uint32_t c, uint32_t *d)
{
    if (c == 0x3000) { d[0] = ' '; return 1; }
    if (c < 0xFF01 || c > 0xFFEF) return -1;
    utf8proc_int32_t buf[8];
    utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 8,
                                                 UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, NULL);
    if (k < 1 || k > 4) return -1;
    k = utf8proc_normalize_utf32(buf, k, UTF8PROC_COMPOSE);
    if (k < 1 || k > 4 || (k == 1 && (uint32_t)buf[0] == c)) return -1;
    for (utf8proc_ssize_t t = 0; t < k; t++) d[t] = (uint32_t)buf[t];
    return (int)k;
}

/* chardata.SINGLE_QUOTE_RE / DOUBLE_QUOTE_RE */
static int map_quote(uint32_t c, uint32_t *d)
{
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) { d[0] = '\''; return 1; }
    if (c >= 0x201C && c <= 0x201F) { d[0] = '"'; return 1; }
    return -1;
}

/* chardata.CONTROL_CHARS: removed. Tab, LF, FF, CR, bidi and joiner controls and tag
 * characters are kept; C1 controls are fix_c1_controls' business. */
static int map_control(uint32_t c, uint32_t *d)
{
    (void)d;
    if (c < 0x09 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
        (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC))
        return 0;
    return -1;
}

/* fixes.fix_line_breaks: CRLF, CR, U+2028, U+2029 and U+0085 become "\n". */
static int fix_line_breaks(const fokus_ustr *in, fokus_ustr *out)
{
    size_t i, start = 0;
    bool changed = false;
    out->n = 0;
    for (i = 0; i < in->n; i++) {
        uint32_t c = in->cp[i];
        if (c != '\r' && c != 0x2028 && c != 0x2029 && c != 0x85) continue;
        if (fokus_ustr_append(out, in, start, i) != 0) return -1;
        uint32_t b = in->b[i], e = in->e[i];
        if (c == '\r' && i + 1 < in->n && in->cp[i + 1] == '\n') e = in->e[++i];
        if (fokus_ustr_push(out, '\n', b, e) != 0) return -1;
        start = i + 1;
        changed = true;
    }
    if (!changed) return 0;
    if (fokus_ustr_append(out, in, start, in->n) != 0) return -1;
    return 1;
}

/* fixes.fix_surrogates: a high+low pair becomes its character, a lone half U+FFFD. */
static int fix_surrogates(const fokus_ustr *in, fokus_ustr *out)
{
    size_t i, start = 0;
    bool changed = false;
    out->n = 0;
    for (i = 0; i < in->n; i++) {
        uint32_t c = in->cp[i];
        if (c < 0xD800 || c > 0xDFFF) continue;
        if (fokus_ustr_append(out, in, start, i) != 0) return -1;
        if (c <= 0xDBFF && i + 1 < in->n && in->cp[i + 1] >= 0xDC00 && in->cp[i + 1] <= 0xDFFF) {
            uint32_t cp = 0x10000 + ((c - 0xD800) << 10) + (in->cp[i + 1] - 0xDC00);
            if (fokus_ustr_push(out, cp, in->b[i], in->e[i + 1]) != 0) return -1;
            i++;
        } else if (fokus_ustr_push(out, 0xFFFD, in->b[i], in->e[i]) != 0) {
            return -1;
        }
        start = i + 1;
        changed = true;
    }
    if (!changed) return 0;
    if (fokus_ustr_append(out, in, start, in->n) != 0) return -1;
    return 1;
}

/* fixes.remove_terminal_escapes: \033\[((?:\d|;)*)([a-zA-Z]), where \d is any Unicode
 * decimal digit (Python `re` on str). */
static bool is_decimal(uint32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    return c <= 0x10FFFF && utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ND;
}

static int remove_terminal_escapes(const fokus_ustr *in, fokus_ustr *out)
{
    size_t i, start = 0;
    bool changed = false;
    out->n = 0;
    for (i = 0; i + 1 < in->n; i++) {
        if (in->cp[i] != 0x1B || in->cp[i + 1] != '[') continue;
        size_t k = i + 2;
        while (k < in->n && (in->cp[k] == ';' || is_decimal(in->cp[k]))) k++;
        if (k >= in->n || !(((in->cp[k] | 0x20) >= 'a') && ((in->cp[k] | 0x20) <= 'z'))) continue;
        if (fokus_ustr_append(out, in, start, i) != 0) return -1;
        start = k + 1;
        i = k;
        changed = true;
    }
    if (!changed) return 0;
    if (fokus_ustr_append(out, in, start, in->n) != 0) return -1;
    return 1;
}

static bool has(const fokus_ustr *s, uint32_t c)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->cp[i] == c) return true;
    return false;
}

/* A fixer step: returns 1 and swaps the result into *s when it changed the text. */
#define STEP(call)                          \
    do {                                    \
        int r_ = (call);                    \
        if (r_ < 0) return -1;              \
        if (r_ > 0) fokus_ustr_swap(s, tmp); \
    } while (0)

/* ftfy.fix_and_explain on one segment (explanations off). */
static int fix_segment(fokus_ustr *s, fokus_ustr *tmp, fokus_ustr *orig, bool unescape)
{
    size_t budget = FTFY_ROUND_BUDGET;
    for (int round = 0; round < FTFY_MAX_ROUNDS; round++) {
        if (fokus_ustr_copy(orig, s) != 0) return -1;
        if (unescape) STEP(fokus_ftfy_unescape_html(s, tmp));
        STEP(fokus_ftfy_fix_encoding(s, tmp));
        STEP(fokus_ftfy_fix_c1_controls(s, tmp));
        STEP(translate(s, tmp, map_ligature));
        STEP(translate(s, tmp, map_width));
        STEP(translate(s, tmp, map_quote));
        STEP(fix_line_breaks(s, tmp));
        STEP(fix_surrogates(s, tmp));
        STEP(remove_terminal_escapes(s, tmp));
        STEP(translate(s, tmp, map_control));
        STEP(fokus_nfc(s, tmp));
        if (fokus_ustr_equal(s, orig)) return 0;
        size_t cost = s->n + 1;
        if (cost >= budget) break;
        budget -= cost;
    }
    return 0;
}

int fokus_ftfy_fix_text(fokus_ustr *s, fokus_ustr *tmp)
{
    fokus_ustr seg = {0}, out = {0}, orig = {0};
    int rc = -1;
    bool unescape = true;
    size_t pos = 0;
    if (s->n == 0) return 0;
    while (pos < s->n) {
        size_t end = pos;
        while (end < s->n && s->cp[end] != '\n') end++;
        end = end < s->n ? end + 1 : s->n;
        if (end - pos > FTFY_MAX_DECODE_LENGTH) end = pos + FTFY_MAX_DECODE_LENGTH;
        seg.n = 0;
        if (fokus_ustr_append(&seg, s, pos, end) != 0) goto done;
        if (unescape && has(&seg, '<')) unescape = false;
        if (fix_segment(&seg, tmp, &orig, unescape) != 0) goto done;
        if (fokus_ustr_append(&out, &seg, 0, seg.n) != 0) goto done;
        pos = end;
    }
    rc = fokus_ustr_equal(s, &out) ? 0 : 1;
    fokus_ustr_swap(s, &out);
done:
    fokus_ustr_free(&seg);
    fokus_ustr_free(&out);
    fokus_ustr_free(&orig);
    return rc;
}
