/* Python's and the `regex` module's notions of Unicode (whitespace, letters, word
 * characters, lower-casing, NFC), computed from utf8proc's tables so that no Unicode
 * data is copied here. */
#include <utf8proc.h>

#include "textclean.h"

static const utf8proc_property_t *prop(uint32_t c)
{
    return utf8proc_get_property((utf8proc_int32_t)(c > 0x10FFFF ? 0xFFFD : c));
}

/* CPython's _PyUnicode_IsWhitespace: general category Zs or bidirectional class WS, B
 * or S (this includes U+001C..U+001F, which the White_Space property does not). */
bool fokus_py_isspace(uint32_t c)
{
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    const utf8proc_property_t *p = prop(c);
    return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* The `regex` module's \s is the White_Space property: Python's whitespace without the
 * four information separators U+001C..U+001F. */
bool fokus_regex_isspace(uint32_t c)
{
    return fokus_py_isspace(c) && !(c >= 0x1C && c <= 0x1F);
}

bool fokus_is_letter(uint32_t c)
{
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    utf8proc_category_t k = (utf8proc_category_t)prop(c)->category;
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

bool fokus_is_number(uint32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = (utf8proc_category_t)prop(c)->category;
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

bool fokus_py_isalnum_ascii(uint32_t c)
{
    return c < 0x80 && (fokus_is_letter(c) || fokus_is_number(c));
}

/* Python `re` \w: str.isalnum() or "_"; isalnum is L* or a numeric character (N*). */
bool fokus_py_isword(uint32_t c)
{
    return c == '_' || fokus_is_letter(c) || fokus_is_number(c);
}

/* Case_Ignorable (Unicode 3.13): Mn, Me, Cf, Lm, Sk, or Word_Break MidLetter,
 * MidNumLet or Single_Quote. utf8proc has no Word_Break property, so the few
 * characters of those three classes are listed (UAX #29, WordBreakProperty.txt). */
static bool case_ignorable(uint32_t c)
{
    switch (c) {
    case 0x0027: case 0x002E: case 0x003A: case 0x00B7: case 0x0387: case 0x055F:
    case 0x05F4: case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13:
    case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return true;
    default: break;
    }
    switch (prop(c)->category) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
        return true;
    default:
        return false;
    }
}

/* Cased: Lu, Ll, Lt, or Other_Lowercase / Other_Uppercase. The Other_* characters that
 * are not Lm (those are case-ignorable, so Final_Sigma never asks) either have case
 * mappings (circled letters, Roman numerals) or are ª, º and the squared/circled/
 * negative Latin capitals U+1F130..U+1F189. */
static bool cased(uint32_t c)
{
    utf8proc_category_t k = (utf8proc_category_t)prop(c)->category;
    if (k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT)
        return true;
    if (c == 0xAA || c == 0xBA || (c >= 0x1F130 && c <= 0x1F149) ||
        (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189))
        return true;
    utf8proc_int32_t ci = (utf8proc_int32_t)c;
    return c <= 0x10FFFF && (utf8proc_tolower(ci) != ci || utf8proc_toupper(ci) != ci);
}

/* CPython's handle_capital_sigma: final when preceded by a cased letter and not followed
 * by one, case-ignorable characters skipped on both sides. */
static bool final_sigma(const uint32_t *s, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && case_ignorable(s[j - 1])) j--;
    if (j == 0 || !cased(s[j - 1])) return false;
    j = i + 1;
    while (j < n && case_ignorable(s[j])) j++;
    return j == n || !cased(s[j]);
}

int fokus_py_lower(const fokus_ustr *in, fokus_ustr *out)
{
    size_t i;
    for (i = 0; i < in->n; i++) {
        uint32_t c = in->cp[i];
        if (c >= 0x80 || (c >= 'A' && c <= 'Z')) break;
    }
    if (i == in->n) return 0;
    out->n = 0;
    if (fokus_ustr_reserve(out, in->n + 16) != 0) return -1;
    for (i = 0; i < in->n; i++) {
        uint32_t c = in->cp[i], l;
        if (c < 0x80) l = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        else if (c == 0x130) {
            /* SpecialCasing.txt: the only unconditional lower-case mapping that is
             * longer than one character. */
            if (fokus_ustr_push(out, 'i', in->b[i], in->e[i]) != 0) return -1;
            l = 0x307;
        } else if (c == 0x3A3) l = final_sigma(in->cp, in->n, i) ? 0x3C2 : 0x3C3;
        else if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) l = c;
        else l = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
        if (fokus_ustr_push(out, l, in->b[i], in->e[i]) != 0) return -1;
    }
    return 1;
}

/* ---- NFC with spans ----
 * Canonical decomposition (utf8proc), canonical reordering and the standard composition
 * pass of UAX #15, done here so each character keeps its span; pairs are composed by
 * asking utf8proc to compose a two-character buffer, which applies its composition and
 * exclusion tables. */

static uint32_t compose_pair(uint32_t a, uint32_t b)
{
    /* nothing below U+0300 is ever the second character of a composition */
    if (b < 0x300 || a > 0x10FFFF || b > 0x10FFFF) return 0;
    const utf8proc_property_t *pb = prop(b);
    if (pb->comb_index == UINT16_MAX && !(b >= 0x1161 && b <= 0x11C2)) return 0;
    utf8proc_int32_t buf[2] = {(utf8proc_int32_t)a, (utf8proc_int32_t)b};
    if (utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE) == 1) return (uint32_t)buf[0];
    return 0;
}

static int ccc(uint32_t c)
{
    return c < 0x300 ? 0 : prop(c)->combining_class;
}

int fokus_nfc(const fokus_ustr *in, fokus_ustr *out)
{
    size_t i;
    for (i = 0; i < in->n; i++)
        if (in->cp[i] >= 0x300) break;
    /* Below U+0300 there are no combining marks and NFC maps everything to itself. */
    if (i == in->n) return 0;

    fokus_ustr d = {0};
    if (fokus_ustr_reserve(&d, in->n + 16) != 0) return -1;
    for (i = 0; i < in->n; i++) {
        uint32_t c = in->cp[i];
        utf8proc_int32_t buf[8];
        utf8proc_ssize_t k = 1;
        if (c >= 0xC0 && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF))
            k = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 8, UTF8PROC_DECOMPOSE, NULL);
        if (k < 1 || k > 8 || c < 0xC0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
            buf[0] = (utf8proc_int32_t)c; /* no canonical decomposition */
            k = 1;
        }
        for (utf8proc_ssize_t j = 0; j < k; j++) {
            /* canonical ordering: insertion sort of marks by combining class (stable) */
            uint32_t x = (uint32_t)buf[j];
            int cx = ccc(x);
            if (fokus_ustr_push(&d, x, in->b[i], in->e[i]) != 0) goto nomem;
            size_t p = d.n - 1;
            while (cx != 0 && p > 0 && ccc(d.cp[p - 1]) > cx) {
                uint32_t t;
                t = d.cp[p]; d.cp[p] = d.cp[p - 1]; d.cp[p - 1] = t;
                t = d.b[p]; d.b[p] = d.b[p - 1]; d.b[p - 1] = t;
                t = d.e[p]; d.e[p] = d.e[p - 1]; d.e[p - 1] = t;
                p--;
            }
        }
    }

    out->n = 0;
    if (fokus_ustr_reserve(out, d.n + 1) != 0) goto nomem;
    size_t starter = SIZE_MAX;
    int last_ccc = 0;
    for (i = 0; i < d.n; i++) {
        uint32_t c = d.cp[i];
        int cc = ccc(c);
        if (starter != SIZE_MAX) {
            bool adjacent = starter == out->n - 1;
            bool blocked = !adjacent && (last_ccc == 0 || last_ccc >= cc);
            uint32_t comp = blocked ? 0 : compose_pair(out->cp[starter], c);
            if (comp) {
                out->cp[starter] = comp;
                if (d.b[i] < out->b[starter]) out->b[starter] = d.b[i];
                if (d.e[i] > out->e[starter]) out->e[starter] = d.e[i];
                continue;
            }
        }
        if (cc == 0) starter = out->n;
        last_ccc = cc;
        out->cp[out->n] = c;
        out->b[out->n] = d.b[i];
        out->e[out->n] = d.e[i];
        out->n++;
    }
    fokus_ustr_free(&d);
    return fokus_ustr_equal(in, out) ? 0 : 1;
nomem:
    fokus_ustr_free(&d);
    return -1;
}
