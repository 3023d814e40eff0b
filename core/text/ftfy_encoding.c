/*
 * ftfy's mojibake repair, fix_encoding (ftfy 6.3), on span-carrying text.
 *
 * One step: if the text "looks bad" (badness.is_bad), try to re-encode it in each
 * single-byte encoding it fits (latin-1, sloppy windows-125x, iso-8859-2, macroman,
 * cp437) and decode the bytes as UTF-8 (after restoring spaces that were U+00A0 and
 * marking lossy sequences); else decode embedded UTF-8 mojibake piecewise; else read
 * Latin-1 as Windows-1252; else decode C1 controls as Windows-1252. Steps repeat until
 * the text stops changing. The character lists below are ftfy's own
 * (badness.MOJIBAKE_CATEGORIES, chardata.UTF8_CLUES), written as code points.
 */
#include <stdlib.h>
#include <string.h>

#include "codepages.h"
#include "textclean.h"

/* ---------------------------------------------------------------------------------
 * Encodings
 * ------------------------------------------------------------------------------- */

/* chardata.CHARMAP_ENCODINGS, in the order ftfy tries them */
typedef enum {
    ENC_LATIN1, ENC_SLOPPY_1252, ENC_SLOPPY_1251, ENC_SLOPPY_1250, ENC_SLOPPY_1253,
    ENC_SLOPPY_1254, ENC_SLOPPY_1257, ENC_ISO_8859_2, ENC_MACROMAN, ENC_CP437, ENC_COUNT
} encoding;

static const int enc_table[ENC_COUNT] = {
    -1, FOKUS_CP_WINDOWS_1252, FOKUS_CP_WINDOWS_1251, FOKUS_CP_WINDOWS_1250, FOKUS_CP_WINDOWS_1253,
    FOKUS_CP_WINDOWS_1254, FOKUS_CP_WINDOWS_1257, FOKUS_CP_ISO_8859_2, FOKUS_CP_MACROMAN, FOKUS_CP_CP437,
};

static bool enc_sloppy(encoding e) { return e >= ENC_SLOPPY_1252 && e <= ENC_SLOPPY_1257; }

/* The byte `c` encodes to, or -1. Sloppy codecs use byte 0x1A for U+FFFD (and so
 * cannot encode U+001A itself). */
static int encode_char(encoding e, uint32_t c)
{
    if (e == ENC_LATIN1) return c <= 0xFF ? (int)c : -1;
    if (c < 0x80) return (enc_sloppy(e) && c == 0x1A) ? -1 : (int)c;
    if (enc_sloppy(e) && c == 0xFFFD) return 0x1A;
    if (c > 0xFFFF) return -1;
    const uint32_t *t = fokus_codepage_inverse[enc_table[e]];
    size_t lo = 0, hi = 128;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t k = t[mid] >> 8;
        if (k == c) return (int)(t[mid] & 0xFF);
        if (k < c) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* sloppy-windows-1252 decoding of one byte 0x80..0x9F */
static uint32_t sloppy1252(uint32_t b)
{
    uint32_t u = fokus_codepage_high[FOKUS_CP_WINDOWS_1252][b - 0x80];
    return u ? u : b;
}

/* Strict UTF-8 (Python's "utf-8") or ftfy's "utf-8-variants" (also CESU-8 surrogate
 * pairs and the Java null C0 80) from bytes with spans. Returns 1 on success, 0 when
 * the bytes do not decode (UnicodeDecodeError), -1 without memory. */
static int decode_utf8(const fokus_ustr *in, bool variants, fokus_ustr *out)
{
    const uint32_t *s = in->cp;
    size_t n = in->n, i = 0;
    out->n = 0;
    if (fokus_ustr_reserve(out, n + 1) != 0) return -1;
    while (i < n) {
        uint32_t c = s[i], cp;
        size_t len;
        if (c < 0x80) {
            cp = c;
            len = 1;
        } else if (variants && c == 0xC0 && i + 1 < n && s[i + 1] == 0x80) {
            cp = 0;
            len = 2;
        } else if (variants && c == 0xED && i + 5 < n && s[i + 1] >= 0xA0 && s[i + 1] <= 0xAF &&
                   s[i + 2] >= 0x80 && s[i + 2] <= 0xBF && s[i + 3] == 0xED && s[i + 4] >= 0xB0 &&
                   s[i + 4] <= 0xBF && s[i + 5] >= 0x80 && s[i + 5] <= 0xBF) {
            cp = 0x10000 + ((s[i + 1] & 0x0F) << 16) + ((s[i + 2] & 0x3F) << 10) + ((s[i + 4] & 0x0F) << 6) +
                 (s[i + 5] & 0x3F);
            len = 6;
        } else {
            uint32_t lo = 0x80, hi = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
            else if (c >= 0xE0 && c <= 0xEF) {
                len = 3; cp = c & 0x0F;
                if (c == 0xE0) lo = 0xA0;
                if (c == 0xED) hi = 0x9F;
            } else if (c >= 0xF0 && c <= 0xF4) {
                len = 4; cp = c & 0x07;
                if (c == 0xF0) lo = 0x90;
                if (c == 0xF4) hi = 0x8F;
            } else {
                return 0;
            }
            if (i + len > n) return 0;
            for (size_t k = 1; k < len; k++) {
                uint32_t d = s[i + k];
                if (d < lo || d > hi) return 0;
                lo = 0x80;
                hi = 0xBF;
                cp = (cp << 6) | (d & 0x3F);
            }
        }
        uint32_t b = in->b[i], e = in->e[i];
        for (size_t k = 1; k < len; k++) {
            if (in->b[i + k] < b) b = in->b[i + k];
            if (in->e[i + k] > e) e = in->e[i + k];
        }
        out->cp[out->n] = cp;
        out->b[out->n] = b;
        out->e[out->n] = e;
        out->n++;
        i += len;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------
 * Byte transcoders
 * ------------------------------------------------------------------------------- */

static bool in_range(uint32_t c, uint32_t lo, uint32_t hi) { return c >= lo && c <= hi; }

/* [\x80-\x84\x86-\x9f\xa1-\xbf]: a continuation byte other than 0x85 and 0xA0 */
static bool cont_no85a0(uint32_t c) { return in_range(c, 0x80, 0xBF) && c != 0x85 && c != 0xA0; }

/* chardata.ALTERED_UTF8_RE at s[i]: length of the match or 0. */
static size_t altered_utf8_at(const uint32_t *s, size_t n, size_t i)
{
    uint32_t c = s[i];
    size_t left = n - i;
    if ((c == 0xC2 || c == 0xC3 || c == 0xC5 || c == 0xCE || c == 0xD0 || c == 0xD9) && left >= 2 &&
        s[i + 1] == ' ')
        return 2;
    if ((c == 0xE2 || c == 0xE3) && left >= 3 && s[i + 1] == ' ' && cont_no85a0(s[i + 2])) return 3;
    if (in_range(c, 0xE0, 0xE3) && left >= 3 && cont_no85a0(s[i + 1]) && s[i + 2] == ' ') return 3;
    if (c == 0xF0 && left >= 4) {
        uint32_t a = s[i + 1], b = s[i + 2], d = s[i + 3];
        if (a == ' ' && in_range(b, 0x80, 0xBF) && in_range(d, 0x80, 0xBF)) return 4;
        if (in_range(a, 0x80, 0xBF) && b == ' ' && in_range(d, 0x80, 0xBF)) return 4;
        if (in_range(a, 0x80, 0xBF) && in_range(b, 0x80, 0xBF) && d == ' ') return 4;
    }
    return 0;
}

static bool altered_utf8_search(const fokus_ustr *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (altered_utf8_at(s->cp, s->n, i)) return true;
    return false;
}

static bool starts_with(const uint32_t *s, size_t n, size_t i, const char *lit)
{
    size_t k = strlen(lit);
    if (n - i < k) return false;
    for (size_t j = 0; j < k; j++)
        if (s[i + j] != (unsigned char)lit[j]) return false;
    return true;
}

/* fixes.restore_byte_a0: "\xc3 " not followed by " ", "quele", "quela", "quilo" or "s "
 * becomes "\xc3\xa0 " (French "à la"); then the spaces inside ALTERED_UTF8_RE matches
 * become 0xA0. Returns 1 if the bytes changed. */
static int restore_byte_a0(const fokus_ustr *in, fokus_ustr *out)
{
    fokus_ustr a = {0};
    const uint32_t *s = in->cp;
    size_t n = in->n, start = 0;
    int rc = -1;
    bool changed = false;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != 0xC3 || s[i + 1] != ' ') continue;
        size_t j = i + 2;
        if (j < n && (s[j] == ' ' || starts_with(s, n, j, "quele") || starts_with(s, n, j, "quela") ||
                      starts_with(s, n, j, "quilo") || starts_with(s, n, j, "s ")))
            continue;
        if (fokus_ustr_append(&a, in, start, i + 1) != 0) goto done;
        /* the inserted 0xA0 stands where the space was */
        if (fokus_ustr_push(&a, 0xA0, in->b[i + 1], in->e[i + 1]) != 0) goto done;
        start = i + 1;
        i++;
        changed = true;
    }
    if (fokus_ustr_append(&a, in, start, n) != 0) goto done;
    out->n = 0;
    if (fokus_ustr_copy(out, &a) != 0) goto done;
    for (size_t i = 0; i < out->n;) {
        size_t k = altered_utf8_at(out->cp, out->n, i);
        if (!k) { i++; continue; }
        for (size_t j = i; j < i + k; j++)
            if (out->cp[j] == ' ') {
                out->cp[j] = 0xA0;
                changed = true;
            }
        i += k;
    }
    rc = changed ? 1 : 0;
done:
    fokus_ustr_free(&a);
    return rc;
}

/* chardata.LOSSY_UTF8_RE at s[i]: length or 0. 0x1A stands for a byte that was lost
 * (U+FFFD in the sloppy codecs); '?' is accepted once in some positions. */
static size_t lossy_at(const uint32_t *s, size_t n, size_t i)
{
    uint32_t c = s[i];
    size_t left = n - i;
#define SUB(x) ((x) == 0x1A)
#define SUBQ(x) ((x) == 0x1A || (x) == '?')
#define SUBC(x) ((x) == 0x1A || in_range((x), 0x80, 0xBF))
#define SUBQC(x) ((x) == 0x1A || (x) == '?' || in_range((x), 0x80, 0xBF))
    if (left >= 2 && in_range(c, 0xC2, 0xDF) && SUB(s[i + 1])) return 2;
    if (left >= 2 && in_range(c, 0xC2, 0xC3) && s[i + 1] == '?') return 2;
    if (left >= 6 && c == 0xED && in_range(s[i + 1], 0xA0, 0xAF) && SUBQ(s[i + 2]) && s[i + 3] == 0xED &&
        in_range(s[i + 4], 0xB0, 0xBF) && SUBQC(s[i + 5]))
        return 6;
    if (left >= 6 && c == 0xED && in_range(s[i + 1], 0xA0, 0xAF) && SUBQC(s[i + 2]) && s[i + 3] == 0xED &&
        in_range(s[i + 4], 0xB0, 0xBF) && SUBQ(s[i + 5]))
        return 6;
    if (left >= 3 && in_range(c, 0xE0, 0xEF) && SUBQ(s[i + 1]) && SUBC(s[i + 2])) return 3;
    if (left >= 3 && in_range(c, 0xE0, 0xEF) && SUBC(s[i + 1]) && SUBQ(s[i + 2])) return 3;
    if (left >= 4 && in_range(c, 0xF0, 0xF4)) {
        if (SUBQ(s[i + 1]) && SUBC(s[i + 2]) && SUBC(s[i + 3])) return 4;
        if (SUBC(s[i + 1]) && SUBQ(s[i + 2]) && SUBC(s[i + 3])) return 4;
        if (SUBC(s[i + 1]) && SUBC(s[i + 2]) && SUBQ(s[i + 3])) return 4;
    }
    if (SUB(c)) return 1;
#undef SUB
#undef SUBQ
#undef SUBC
#undef SUBQC
    return 0;
}

/* fixes.replace_lossy_sequences: each match becomes the UTF-8 of U+FFFD. */
static int replace_lossy(const fokus_ustr *in, fokus_ustr *out)
{
    size_t start = 0;
    bool changed = false;
    out->n = 0;
    for (size_t i = 0; i < in->n;) {
        size_t k = lossy_at(in->cp, in->n, i);
        if (!k) { i++; continue; }
        uint32_t b = in->b[i], e = in->e[i];
        for (size_t j = i + 1; j < i + k; j++) {
            if (in->b[j] < b) b = in->b[j];
            if (in->e[j] > e) e = in->e[j];
        }
        if (fokus_ustr_append(out, in, start, i) != 0) return -1;
        if (fokus_ustr_push(out, 0xEF, b, e) != 0 || fokus_ustr_push(out, 0xBF, b, e) != 0 ||
            fokus_ustr_push(out, 0xBD, b, e) != 0)
            return -1;
        /* the match may have been EF BF BD already: then nothing changed */
        if (!(k == 3 && in->cp[i] == 0xEF && in->cp[i + 1] == 0xBF && in->cp[i + 2] == 0xBD)) changed = true;
        i += k;
        start = i;
    }
    if (fokus_ustr_append(out, in, start, in->n) != 0) return -1;
    return changed ? 1 : 0;
}

/* ---------------------------------------------------------------------------------
 * badness.is_bad
 * ------------------------------------------------------------------------------- */

enum {
    K_COMMON = 1 << 0, K_C1 = 1 << 1, K_BAD = 1 << 2, K_LAW = 1 << 3, K_CURRENCY = 1 << 4,
    K_START = 1 << 5, K_END = 1 << 6, K_NUMERIC = 1 << 7, K_KAOMOJI = 1 << 8, K_UPPER_ACC = 1 << 9,
    K_LOWER_ACC = 1 << 10, K_UPPER_COM = 1 << 11, K_LOWER_COM = 1 << 12, K_BOX = 1 << 13,
};

/* badness.MOJIBAKE_CATEGORIES (ftfy 6.3) */
static unsigned category_mask(uint32_t c)
{
    if (c < 0x80) return 0;
    if (c <= 0x9F) return K_C1;
    unsigned m = 0;
    switch (c) {
    case 0xA0: case 0xAD: case 0xB7: case 0xB4: case 0x2013: case 0x2014: case 0x2015: case 0x2026:
    case 0x2019:
        m |= K_COMMON; break;
    case 0xA6: case 0xA4: case 0xA8: case 0xAC: case 0xAF: case 0xB8: case 0x192: case 0x2C6: case 0x2C7:
    case 0x2D8: case 0x2DB: case 0x2DC: case 0x2020: case 0x2021: case 0x2030: case 0x2310: case 0x25CA:
    case 0xFFFD: case 0xAA: case 0xBA:
        m |= K_BAD; break;
    case 0xB6: case 0xA7:
        m |= K_LAW; break;
    case 0xA2: case 0xA3: case 0xA5: case 0x20A7: case 0x20AC:
        m |= K_CURRENCY; break;
    case 0xA1: case 0xAB: case 0xBF: case 0xA9: case 0x384: case 0x385: case 0x2018: case 0x201A:
    case 0x201C: case 0x201E: case 0x2022: case 0x2039: case 0xF8FF:
        m |= K_START; break;
    case 0xAE: case 0xBB: case 0x2DD: case 0x201D: case 0x203A: case 0x2122:
        m |= K_END; break;
    case 0xB2: case 0xB3: case 0xB9: case 0xB1: case 0xBC: case 0xBD: case 0xBE: case 0xD7: case 0xB5:
    case 0xF7: case 0x2044: case 0x2202: case 0x2206: case 0x220F: case 0x2211: case 0x221A:
    case 0x221E: case 0x2229: case 0x222B: case 0x2248: case 0x2260: case 0x2261: case 0x2264:
    case 0x2265: case 0x2116:
        m |= K_NUMERIC; break;
    default: break;
    }
    /* kaomoji: Ò-Ö Ù-Ü ò-ö ø-ü Ő Ō Ū Ų ° */
    if (in_range(c, 0xD2, 0xD6) || in_range(c, 0xD9, 0xDC) || in_range(c, 0xF2, 0xF6) ||
        in_range(c, 0xF8, 0xFC) || c == 0x150 || c == 0x14C || c == 0x16A || c == 0x172 || c == 0xB0)
        m |= K_KAOMOJI;
    switch (c) {
    case 0xD8: case 0xDC: case 0xDD: case 0x102: case 0x100: case 0x104: case 0x106: case 0x10C:
    case 0x10E: case 0x110: case 0x118: case 0x11A: case 0x112: case 0x116: case 0x11E: case 0x122:
    case 0x130: case 0x12A: case 0x136: case 0x139: case 0x13D: case 0x141: case 0x13B: case 0x143:
    case 0x147: case 0x145: case 0x152: case 0x158: case 0x15A: case 0x15E: case 0x160: case 0x162:
    case 0x164: case 0x16E: case 0x170: case 0x178: case 0x179: case 0x17B: case 0x17D: case 0x490:
        m |= K_UPPER_ACC; break;
    case 0xDF: case 0x103: case 0x105: case 0x101: case 0x107: case 0x10D: case 0x10F: case 0x111:
    case 0x119: case 0x11B: case 0x113: case 0x117: case 0x11F: case 0x123: case 0x12F: case 0x12B:
    case 0x137: case 0x13A: case 0x13E: case 0x142: case 0x13C: case 0x153: case 0x155: case 0x15B:
    case 0x15F: case 0x161: case 0x165: case 0xFC: case 0x17A: case 0x17C: case 0x17E: case 0x491:
    case 0xFB01: case 0xFB02:
        m |= K_LOWER_ACC; break;
    default: break;
    }
    if (in_range(c, 0xC0, 0xD1)) m |= K_UPPER_ACC;
    if (in_range(c, 0xE0, 0xF1)) m |= K_LOWER_ACC;
    /* upper_common: Þ, Greek capitals (with tonos/dialytika), Cyrillic Ё..Я */
    if (c == 0xDE || in_range(c, 0x391, 0x3A9) || c == 0x386 || c == 0x388 || c == 0x389 || c == 0x38A ||
        c == 0x38C || c == 0x38E || c == 0x38F || c == 0x3AA || c == 0x3AB || in_range(c, 0x401, 0x42F))
        m |= K_UPPER_COM;
    /* lower_common: Greek small letters (with tonos), Cyrillic а..џ */
    if (in_range(c, 0x3B1, 0x3C9) || in_range(c, 0x3AC, 0x3B0) || in_range(c, 0x430, 0x45F))
        m |= K_LOWER_COM;
    /* box drawing and blocks, without the single horizontal line */
    if (c == 0x2502 || c == 0x250C || c == 0x2510 || c == 0x2518 || c == 0x251C || c == 0x2524 ||
        c == 0x252C || c == 0x253C || in_range(c, 0x2550, 0x256C) || c == 0x2580 || c == 0x2584 ||
        c == 0x2588 || c == 0x258C || in_range(c, 0x2590, 0x2593))
        m |= K_BOX;
    return m;
}

/* One element of a BADNESS_RE alternative: a character class made of category bits,
 * listed characters and a few special classes. */
enum {
    X_NONE = 0, X_AZaz, X_az, X_SPACE, X_WORD, X_ANY_BUT_NL, X_NOT_AZaz,
};
typedef struct elem {
    unsigned mask;
    const char *chars;   /* UTF-8 list of extra characters, or NULL */
    int special;
} elem;

static bool in_list(uint32_t c, const char *list)
{
    if (!list) return false;
    const unsigned char *p = (const unsigned char *)list;
    while (*p) {
        uint32_t x;
        if (*p < 0x80) x = *p++;
        else if (*p < 0xE0) { x = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F); p += 2; }
        else if (*p < 0xF0) { x = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F); p += 3; }
        else { x = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F); p += 4; }
        if (x == c) return true;
    }
    return false;
}

static bool elem_match(const elem *e, uint32_t c, unsigned m)
{
    if (m & e->mask) return true;
    switch (e->special) {
    case X_AZaz: if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true; break;
    case X_az: if (c >= 'a' && c <= 'z') return true; break;
    case X_SPACE: if (fokus_py_isspace(c)) return true; break;
    case X_WORD: if (fokus_py_isword(c)) return true; break;
    case X_ANY_BUT_NL: if (c != '\n') return true; break;
    case X_NOT_AZaz: if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) return true; break;
    default: break;
    }
    return in_list(c, e->chars);
}

#define ACC (K_LOWER_ACC | K_UPPER_ACC)
#define MAXEL 5
enum { TAIL_NONE = 0, TAIL_ANY_AZSP, TAIL_OPT_SPACE };
typedef struct pattern {
    int n;
    bool anchored;     /* ^ */
    int tail;          /* TAIL_ANY_AZSP: then ".[A-Za-z ]"; TAIL_OPT_SPACE: element 1 is
                          an optional \s and "[ ]" follows */
    elem el[MAXEL];
} pattern;

/* badness.BADNESS_RE (ftfy 6.3), one alternative per entry */
static const pattern badness[] = {
    {1, false, 0, {{K_C1, NULL, 0}}},
    {2, false, 0, {{K_BAD | ACC | K_BOX | K_START | K_END | K_CURRENCY | K_NUMERIC | K_LAW, NULL, 0}, {K_BAD, NULL, 0}}},
    {3, false, 0, {{0, NULL, X_AZaz}, {K_LOWER_COM | K_UPPER_COM, NULL, 0}, {K_BAD, NULL, 0}}},
    {2, false, 0, {{K_BAD, NULL, 0}, {ACC | K_BOX | K_START | K_END | K_CURRENCY | K_NUMERIC | K_LAW, NULL, 0}}},
    {2, false, 0, {{K_LOWER_ACC | K_LOWER_COM | K_BOX | K_END | K_CURRENCY | K_NUMERIC, NULL, 0}, {K_UPPER_ACC, NULL, 0}}},
    {2, false, 0, {{K_BOX | K_END | K_CURRENCY | K_NUMERIC, NULL, 0}, {K_LOWER_ACC, NULL, 0}}},
    {2, false, 0, {{K_LOWER_ACC | K_BOX | K_END, NULL, 0}, {K_CURRENCY, NULL, 0}}},
    {3, false, 0, {{0, NULL, X_SPACE}, {K_UPPER_ACC, NULL, 0}, {K_CURRENCY, NULL, 0}}},
    {2, false, 0, {{K_UPPER_ACC | K_BOX, NULL, 0}, {K_NUMERIC | K_LAW, NULL, 0}}},
    {3, false, 0, {{ACC | K_BOX | K_CURRENCY | K_END, NULL, 0}, {K_START, NULL, 0}, {K_NUMERIC, NULL, 0}}},
    {3, false, 0, {{ACC | K_CURRENCY | K_NUMERIC | K_BOX | K_LAW, NULL, 0}, {K_END, NULL, 0}, {K_START, NULL, 0}}},
    {2, false, 0, {{K_CURRENCY | K_NUMERIC | K_BOX, NULL, 0}, {K_START, NULL, 0}}},
    {3, false, 0, {{0, NULL, X_az}, {K_UPPER_ACC, NULL, 0}, {K_START | K_CURRENCY, NULL, 0}}},
    {2, false, 0, {{K_BOX, NULL, 0}, {K_KAOMOJI, NULL, 0}}},
    {2, false, 0, {{ACC | K_CURRENCY | K_NUMERIC | K_START | K_END | K_LAW, NULL, 0}, {K_BOX, NULL, 0}}},
    {2, false, 0, {{K_BOX, NULL, 0}, {K_END, NULL, 0}}},
    {3, false, 0, {{ACC, NULL, 0}, {K_START | K_END, NULL, 0}, {0, NULL, X_WORD}}},
    /* the ligature œ when not followed by an unaccented Latin letter */
    {2, false, 0, {{0, "Œœ", 0}, {0, NULL, X_NOT_AZaz}}},
    /* degree signs after capital letters */
    {2, false, 0, {{K_UPPER_ACC, NULL, 0}, {0, "°", 0}}},
    /* common Windows-1252 2-character mojibake */
    {2, false, 0, {{0, "ÂÃÎÐ", 0}, {K_START | K_END, "€œŠš¢£Ÿž\xc2\xa0\xc2\xad®©°·»–—´", 0}}},
    {2, false, 0, {{0, "×", 0}, {0, "²³", 0}}},
    /* Windows-1252 mojibake of Arabic words: four characters */
    {4, false, 0, {{0, "ØÙ", 0}, {K_COMMON | K_CURRENCY | K_BAD | K_NUMERIC | K_START, "ŸŠ®°µ»", 0},
                    {0, "ØÙ", 0}, {K_COMMON | K_CURRENCY | K_BAD | K_NUMERIC | K_START, "ŸŠ®°µ»", 0}}},
    /* Windows-1252 mojibake that starts 3-character South Asian sequences */
    {2, false, 0, {{0, "à", 0}, {0, "²µ¹¼½¾", 0}}},
    /* MacRoman mojibake */
    {2, false, 0, {{0, "√", 0}, {0, "±∂†≠®™´≤≥¥µø", 0}}},
    {2, false, 0, {{0, "≈", 0}, {0, "°¢", 0}}},
    {3, false, 0, {{0, "‚", 0}, {0, "Ä", 0}, {0, "ìîïòôúùû†°¢π", 0}}},
    {3, false, 0, {{0, "‚", 0}, {0, "âó", 0}, {0, "àä°ê", 0}}},
    /* Windows-1251 mojibake of U+2000.. characters */
    {2, false, 0, {{0, "в", 0}, {0, "Ђ", 0}}},
    /* Windows-1251 mojibake of Latin-1 and/or Cyrillic: three characters */
    {3, false, 0, {{0, "ВГРС", 0}, {K_C1 | K_BAD | K_START | K_END | K_CURRENCY, "°µ", 0}, {0, "ВГРС", 0}}},
    {5, false, TAIL_ANY_AZSP, {{0, "Г", 0}, {0, "ў", 0}, {0, "В", 0}, {0, "Ђ", 0}, {0, "В", 0}}},
    /* Windows-1252 encodings of à and á, and of U+00A0 itself */
    {2, false, 0, {{0, "Ã", 0}, {0, "\xc2\xa0¡", 0}}},
    {3, false, TAIL_OPT_SPACE, {{0, NULL, X_az}, {0, NULL, X_SPACE}, {0, "ÃÂ", 0}}},
    {2, true, 0, {{0, "ÃÂ", 0}, {0, " ", 0}}},
    /* Â before a character it encodes as itself */
    {3, false, 0, {{K_END, ".,?!", X_az}, {0, "Â", 0}, {K_START | K_END, " ", 0}}},
    /* Windows-1253 mojibake of U+2000.. characters */
    {3, false, 0, {{0, "β", 0}, {0, "€", 0}, {0, "™\xc2\xa0Ά\xc2\xad®°", 0}}},
    /* Windows-1253 mojibake of Latin-1 and/or Greek: three characters */
    {3, false, 0, {{0, "ΒΓΞΟ", 0}, {K_C1 | K_BAD | K_START | K_END | K_CURRENCY, "°", 0}, {0, "ΒΓΞΟ", 0}}},
    /* Windows-1257 mojibake of U+2000.. characters */
    {2, false, 0, {{0, "ā", 0}, {0, "€", 0}}},
};
#define N_BADNESS (sizeof badness / sizeof badness[0])

static const elem el_any = {0, NULL, X_ANY_BUT_NL};
static const elem el_azsp = {0, " ", X_AZaz};
static const elem el_space_lit = {0, " ", 0};

static bool match_seq(const elem *const *el, int n, const uint32_t *cp, const unsigned *m, size_t len, size_t i)
{
    if (len - i < (size_t)n) return false;
    for (int k = 0; k < n; k++)
        if (!elem_match(el[k], cp[i + k], m[i + k])) return false;
    return true;
}

static bool pattern_at(size_t p, const uint32_t *cp, const unsigned *m, size_t len, size_t i)
{
    const pattern *pt = &badness[p];
    const elem *el[MAXEL + 2];
    int n = 0;
    if (pt->anchored && i != 0) return false;
    if (!elem_match(&pt->el[0], cp[i], m[i])) return false;
    if (pt->tail != TAIL_OPT_SPACE && (i + 1 >= len || !elem_match(&pt->el[1], cp[i + 1], m[i + 1])))
        return pt->n == 1;
    for (int k = 0; k < pt->n; k++) el[n++] = &pt->el[k];
    if (pt->tail == TAIL_ANY_AZSP) {
        el[n++] = &el_any;
        el[n++] = &el_azsp;
    }
    if (pt->tail == TAIL_OPT_SPACE) {
        el[n++] = &el_space_lit;
        /* [a-z]\s?[ÃÂ][ ]: with the \s, then without it */
        if (match_seq(el, n, cp, m, len, i)) return true;
        const elem *el2[4] = {el[0], el[2], el[3]};
        return match_seq(el2, 3, cp, m, len, i);
    }
    return match_seq(el, n, cp, m, len, i);
}

static bool list_has_ascii(const char *list)
{
    for (const char *c = list; c && *c; c++)
        if ((unsigned char)*c < 0x80) return true;
    return false;
}

bool fokus_ftfy_is_bad(const uint32_t *cp, size_t n)
{
    unsigned stackm[256], *m = n <= 256 ? stackm : malloc(n * sizeof *m);
    bool bad = false, any = false;
    if (!m) return false;
    for (size_t i = 0; i < n; i++) {
        m[i] = category_mask(cp[i]);
        any |= cp[i] >= 0x80;
    }
    /* Most alternatives start with a non-ASCII class: at an ASCII position only the few
     * that can start there are tried (prompts are mostly ASCII). */
    size_t ascii_start[N_BADNESS], n_ascii = 0;
    for (size_t p = 0; p < N_BADNESS; p++)
        if (badness[p].el[0].special != X_NONE || list_has_ascii(badness[p].el[0].chars)) ascii_start[n_ascii++] = p;
    /* Every alternative has an element that only non-ASCII characters match, at most two
     * characters after its start: positions further than that from the next non-ASCII
     * character cannot start a match. */
    size_t nx = 0;
    for (size_t i = 0; any && i < n && !bad; i++) {
        if (nx < i) nx = i;
        while (nx < n && cp[nx] < 0x80) nx++;
        if (nx > i + 2) {
            if (nx >= n) break;
            i = nx - 3; /* the loop's i++ lands two before the next non-ASCII character */
            continue;
        }
        if (cp[i] < 0x80) {
            for (size_t k = 0; k < n_ascii && !bad; k++) bad = pattern_at(ascii_start[k], cp, m, n, i);
        } else {
            for (size_t p = 0; p < N_BADNESS && !bad; p++) bad = pattern_at(p, cp, m, n, i);
        }
    }
    if (m != stackm) free(m);
    return bad;
}

/* ---------------------------------------------------------------------------------
 * chardata.UTF8_DETECTOR_RE
 * ------------------------------------------------------------------------------- */

/* chardata.UTF8_CLUES (ftfy 6.3): letters that decode to UTF-8 lead bytes in a
 * Latin-1-like encoding, and the continuation-byte look-alikes. */
static const char clue_first2[] =
    "ĂÂÄĀÅÃÆĆČÇĎĐÉĚÊËĖÈĒĘÐĞĢÍÎÏİÌĪĶĹĻŁŃŇŅÑÓÔÖŐÒŌØÕŘŚŠŞŢÞÚÛÜŰÙŪŲŮÝŹŽŻß×"
    "ΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΪΫάέήί"
    "ВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ";
static const char clue_first3[] =
    "áăâäàāąåãæćčçďéěêëėèēęģíîïìīįķĺļŕź"
    "ΰαβγδεζηθικλμνξο"
    "абвгдежзийклмноп";
static const char clue_first4[] = "đðğóšπσру";
/* continuation look-alikes besides U+0080..U+00BF; the strict set omits space, dashes,
 * quotation marks, bullet and ellipsis */
static const char clue_cont_strict[] =
    "ĄÆĽŁØŖŚŠŞŤŸŹŽŻŒąæƒľłøŗśšşťźžżœˆˇ˘˛˜˝΄΅ΆΈΉΊΌΎΏ"
    "ЁЂЃЄЅІЇЈЉЊЋЌЎЏёђѓєѕіїјљњћќўџҐґ"
    "†‡‰‹›€№™";
static const char clue_cont_loose[] = " –—―‘’‚“”„•…";

/* all clue characters lie in U+0080..U+2122: anything else is rejected at once */
static bool clue_range(uint32_t c) { return c >= 0xC0 && c <= 0x2122; }
static bool is_cont_strict(uint32_t c)
{
    return in_range(c, 0x80, 0xBF) || (clue_range(c) && in_list(c, clue_cont_strict));
}
static bool is_cont(uint32_t c) { return is_cont_strict(c) || (c == ' ' || (clue_range(c) && in_list(c, clue_cont_loose))); }
static bool is_first2(uint32_t c) { return clue_range(c) && in_list(c, clue_first2); }
static bool is_first3(uint32_t c) { return clue_range(c) && in_list(c, clue_first3); }
static bool is_first4(uint32_t c) { return clue_range(c) && in_list(c, clue_first4); }

/* Length of a UTF8_DETECTOR_RE match at s[i] (0 if none). */
static size_t detector_at(const uint32_t *s, size_t n, size_t i)
{
    if (i > 0 && is_cont_strict(s[i - 1])) return 0;
    size_t j = i;
    for (;;) {
        uint32_t c;
        if (j >= n) break;
        c = s[j];
        if (is_first2(c) && j + 1 < n && is_cont(s[j + 1])) { j += 2; continue; }
        if (is_first3(c) && j + 2 < n && is_cont(s[j + 1]) && is_cont(s[j + 2])) { j += 3; continue; }
        if (is_first4(c) && j + 3 < n && is_cont(s[j + 1]) && is_cont(s[j + 2]) && is_cont(s[j + 3])) {
            j += 4;
            continue;
        }
        break;
    }
    return j - i;
}

/* ---------------------------------------------------------------------------------
 * fix_encoding
 * ------------------------------------------------------------------------------- */

static int fix_encoding_depth(const fokus_ustr *in, fokus_ustr *out, int depth);

static bool all_ascii(const fokus_ustr *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->cp[i] >= 0x80) return false;
    return true;
}

/* Encodes `in` in `e` into bytes (with spans); false if some character does not fit. */
static int encode_text(const fokus_ustr *in, encoding e, fokus_ustr *bytes)
{
    bytes->n = 0;
    if (fokus_ustr_reserve(bytes, in->n + 1) != 0) return -1;
    for (size_t i = 0; i < in->n; i++) {
        int b = encode_char(e, in->cp[i]);
        if (b < 0) return 0;
        bytes->cp[i] = (uint32_t)b;
        bytes->b[i] = in->b[i];
        bytes->e[i] = in->e[i];
    }
    bytes->n = in->n;
    return 1;
}

/* fixes.decode_inconsistent_utf8: every detector match that is shorter than the text
 * and looks bad on its own is fixed with fix_encoding. */
static int decode_inconsistent(const fokus_ustr *in, fokus_ustr *out, int depth)
{
    fokus_ustr sub = {0}, fixed = {0};
    size_t start = 0;
    int rc = -1;
    bool changed = false;
    out->n = 0;
    for (size_t i = 0; i < in->n;) {
        size_t k = detector_at(in->cp, in->n, i);
        if (!k) { i++; continue; }
        if (k < in->n && fokus_ftfy_is_bad(in->cp + i, k)) {
            sub.n = 0;
            if (fokus_ustr_append(&sub, in, i, i + k) != 0) goto done;
            int r = fix_encoding_depth(&sub, &fixed, depth + 1);
            if (r < 0) goto done;
            if (r > 0) {
                if (fokus_ustr_append(out, in, start, i) != 0) goto done;
                if (fokus_ustr_append(out, &fixed, 0, fixed.n) != 0) goto done;
                start = i + k;
                changed = true;
            }
        }
        i += k;
    }
    if (fokus_ustr_append(out, in, start, in->n) != 0) goto done;
    rc = changed && !fokus_ustr_equal(in, out) ? 1 : 0;
done:
    fokus_ustr_free(&sub);
    fokus_ustr_free(&fixed);
    return rc;
}

/* ftfy._fix_encoding_one_step_and_explain */
static int one_step(const fokus_ustr *in, fokus_ustr *out, int depth)
{
    if (in->n == 0 || all_ascii(in) || !fokus_ftfy_is_bad(in->cp, in->n)) return 0;
    fokus_ustr bytes = {0}, tmp = {0};
    int rc = -1;
    bool latin1_possible = false;
    for (int e = 0; e < ENC_COUNT; e++) {
        int r = encode_text(in, (encoding)e, &bytes);
        if (r < 0) goto done;
        if (r == 0) continue;
        if (e == ENC_LATIN1) latin1_possible = true;
        if (e != ENC_MACROMAN && altered_utf8_search(&bytes)) {
            r = restore_byte_a0(&bytes, &tmp);
            if (r < 0) goto done;
            if (r > 0) fokus_ustr_swap(&bytes, &tmp);
        }
        if (enc_sloppy((encoding)e)) {
            r = replace_lossy(&bytes, &tmp);
            if (r < 0) goto done;
            if (r > 0) fokus_ustr_swap(&bytes, &tmp);
        }
        bool variants = false;
        for (size_t i = 0; i < bytes.n && !variants; i++) variants = bytes.cp[i] == 0xED || bytes.cp[i] == 0xC0;
        r = decode_utf8(&bytes, variants, out);
        if (r < 0) goto done;
        if (r > 0) {
            rc = fokus_ustr_equal(in, out) ? 0 : 1;
            goto done;
        }
    }
    /* a-hat-euro sequences that remain: fix them in isolation */
    for (size_t i = 0; i < in->n; i++) {
        if (!detector_at(in->cp, in->n, i)) continue;
        int r = decode_inconsistent(in, out, depth);
        if (r != 0) {
            rc = r;
            goto done;
        }
        break;
    }
    /* Latin-1 meant as Windows-1252 (strict: its five undefined bytes fail) */
    if (latin1_possible) {
        bool ok = true, changed = false;
        if (fokus_ustr_copy(out, in) != 0) goto done;
        for (size_t i = 0; i < out->n && ok; i++) {
            uint32_t c = out->cp[i];
            if (c < 0x80 || c > 0x9F) continue;
            uint32_t u = fokus_codepage_high[FOKUS_CP_WINDOWS_1252][c - 0x80];
            if (!u) ok = false;
            else {
                out->cp[i] = u;
                changed = true;
            }
        }
        if (ok && changed) {
            rc = 1;
            goto done;
        }
    }
    /* C1 controls, individually */
    rc = fokus_ftfy_fix_c1_controls(in, out);
done:
    fokus_ustr_free(&bytes);
    fokus_ustr_free(&tmp);
    return rc;
}

/* ftfy.fix_encoding: one step at a time until nothing changes. Decoding shrinks the
 * text and the other steps run out of work, so few rounds are needed; the caps only
 * bound hostile input. */
static int fix_encoding_depth(const fokus_ustr *in, fokus_ustr *out, int depth)
{
    if (depth > 8) return 0;
    fokus_ustr cur = {0}, next = {0};
    int rc = -1;
    bool changed = false;
    if (fokus_ustr_copy(&cur, in) != 0) goto done;
    for (int round = 0; round < 64; round++) {
        int r = one_step(&cur, &next, depth);
        if (r < 0) goto done;
        if (r == 0) break;
        fokus_ustr_swap(&cur, &next);
        changed = true;
    }
    rc = 0;
    if (changed && !fokus_ustr_equal(in, &cur)) {
        fokus_ustr_swap(out, &cur);
        rc = 1;
    }
done:
    fokus_ustr_free(&cur);
    fokus_ustr_free(&next);
    return rc;
}

int fokus_ftfy_fix_encoding(const fokus_ustr *in, fokus_ustr *out)
{
    return fix_encoding_depth(in, out, 0);
}

int fokus_ftfy_fix_c1_controls(const fokus_ustr *in, fokus_ustr *out)
{
    size_t i;
    for (i = 0; i < in->n; i++)
        if (in->cp[i] >= 0x80 && in->cp[i] <= 0x9F) break;
    if (i == in->n) return 0;
    if (fokus_ustr_copy(out, in) != 0) return -1;
    bool changed = false;
    for (; i < out->n; i++) {
        uint32_t c = out->cp[i];
        if (c >= 0x80 && c <= 0x9F) {
            out->cp[i] = sloppy1252(c);
            changed |= out->cp[i] != c;
        }
    }
    return changed ? 1 : 0;
}
