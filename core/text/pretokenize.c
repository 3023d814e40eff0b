/*
 * CLIP's pre-tokenizer: regex.findall with the pattern
 *
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *
 * compiled with re.IGNORECASE by the `regex` module, written out as a scanner. At each
 * position the alternatives are tried in order; where none matches (whitespace) the
 * scan moves on by one character.
 */
#include <utf8proc.h>

#include "bpe_internal.h"
#include "textclean.h"

/* IGNORECASE literal: the `regex` module compares by simple case folding, so "s" also
 * matches U+017F LATIN SMALL LETTER LONG S (and "k" the Kelvin sign, absent here). */
static bool lit_eq(uint32_t c, char lit)
{
    uint32_t l = (uint32_t)(unsigned char)lit;
    if (c == l) return true;
    if (l >= 'a' && l <= 'z') return c == l - 32 || (l == 's' && c == 0x17F) || (l == 'k' && c == 0x212A);
    return false;
}

static bool match_lit(const uint32_t *s, size_t n, size_t p, const char *lit, size_t len)
{
    if (n - p < len) return false;
    for (size_t k = 0; k < len; k++)
        if (!lit_eq(s[p + k], lit[k])) return false;
    return true;
}

static bool letter_or_number(uint32_t c)
{
    return fokus_is_letter(c) || fokus_is_number(c);
}

/* [^\s\p{L}\p{N}] under IGNORECASE: the `regex` module tests a set against every case
 * variant of the character, so a mark whose upper-case form is a letter (U+0345
 * COMBINING GREEK YPOGEGRAMMENI, upper-case U+0399) is not in the negated set, while the
 * single-property [\p{L}] tests the character itself. Such a character matches no
 * alternative and is skipped like whitespace. */
static bool symbol(uint32_t c)
{
    if (c < 0x80) return !fokus_regex_isspace(c) && !letter_or_number(c);
    if (fokus_regex_isspace(c) || letter_or_number(c)) return false;
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return true;
    utf8proc_int32_t u = utf8proc_toupper((utf8proc_int32_t)c), l = utf8proc_tolower((utf8proc_int32_t)c);
    return !letter_or_number((uint32_t)u) && !letter_or_number((uint32_t)l);
}

bool fokus_clip_pretok_next(const uint32_t *s, size_t n, size_t *pos, size_t *mb, size_t *me,
                            int *special)
{
    static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    static const size_t contraction_len[] = {2, 2, 3, 3, 2, 3, 2};
    size_t p = *pos, k;
    *special = 0;
    while (p < n) {
        uint32_t c = s[p];
        if (c == '<') {
            if (match_lit(s, n, p, "<|startoftext|>", 15)) { k = p + 15; *special = 1; goto found; }
            if (match_lit(s, n, p, "<|endoftext|>", 13)) { k = p + 13; *special = 2; goto found; }
        } else if (c == '\'') {
            for (int t = 0; t < 7; t++)
                if (match_lit(s, n, p, contractions[t], contraction_len[t])) {
                    k = p + contraction_len[t];
                    goto found;
                }
        }
        if (fokus_is_letter(c)) {
            for (k = p + 1; k < n && fokus_is_letter(s[k]); k++) {}
            goto found;
        }
        if (fokus_is_number(c)) { k = p + 1; goto found; }
        if (symbol(c)) {
            for (k = p + 1; k < n && symbol(s[k]); k++) {}
            goto found;
        }
        p++;
    }
    *pos = n;
    return false;
found:
    *mb = p;
    *me = k;
    *pos = k;
    return true;
}
