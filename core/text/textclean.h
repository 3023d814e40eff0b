/*
 * Internal to the tokenizer (not part of the public API): text as code points that
 * remember where they came from, and the clean-up steps OpenAI's CLIP tokenizer runs
 * before BPE (ftfy.fix_text, html.unescape twice, strip, whitespace collapse, lower).
 *
 * Every step maps a fokus_ustr to a new one. A character that a step produces from
 * several input characters gets the union of their spans, so after the whole pipeline
 * each character still knows the [b, e) byte range of the caller's ORIGINAL text it
 * stems from. Steps return 1 when they changed the text (result in `out`), 0 when the
 * text is unchanged (`out` is then undefined) and -1 when memory ran out.
 */
#ifndef FOKUS_TEXTCLEAN_H
#define FOKUS_TEXTCLEAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/fokus_text.h"

typedef struct fokus_ustr {
    uint32_t *cp;      /* code points; UTF-16 surrogate values may occur in between steps */
    uint32_t *b, *e;   /* byte span [b, e) in the original text */
    size_t n, cap;
} fokus_ustr;

int fokus_ustr_reserve(fokus_ustr *s, size_t cap);
void fokus_ustr_free(fokus_ustr *s);
void fokus_ustr_swap(fokus_ustr *a, fokus_ustr *b);
int fokus_ustr_copy(fokus_ustr *dst, const fokus_ustr *src);
bool fokus_ustr_equal(const fokus_ustr *a, const fokus_ustr *b); /* same code points */

static inline int fokus_ustr_push(fokus_ustr *s, uint32_t cp, uint32_t b, uint32_t e)
{
    if (s->n == s->cap && fokus_ustr_reserve(s, s->cap ? s->cap * 2 : 64) != 0) return -1;
    s->cp[s->n] = cp;
    s->b[s->n] = b;
    s->e[s->n] = e;
    s->n++;
    return 0;
}

/* Appends in[i, j) unchanged. */
int fokus_ustr_append(fokus_ustr *out, const fokus_ustr *in, size_t i, size_t j);

/* Decodes bytes as Python's bytes.decode("utf-8", errors="replace") does: each maximal
 * invalid subpart becomes one U+FFFD spanning those bytes. `base` is added to spans. */
int fokus_utf8_decode_spans(const unsigned char *p, size_t len, uint32_t base, fokus_ustr *out);

/* Encodes one code point as UTF-8 (surrogates are encoded as 3 bytes, like Python's
 * "surrogatepass"); returns the byte count (1..4). */
int fokus_utf8_put(uint32_t c, unsigned char *dst);

/* ---- Python's view of Unicode, from utf8proc's tables (unicode_py.c) ---- */

#include "unicode_py.h"

/* str.lower(): full lower-case mapping (U+0130 -> "i\u0307") with the Final_Sigma rule. */
int fokus_py_lower(const fokus_ustr *in, fokus_ustr *out);

/* unicodedata.normalize("NFC"), carrying spans (a composed character spans all of its
 * parts). */
int fokus_nfc(const fokus_ustr *in, fokus_ustr *out);

/* ---- HTML (html_unescape.c) ---- */

/* Python's html.unescape. */
int fokus_html_unescape(const fokus_ustr *in, fokus_ustr *out);
/* ftfy.fixes.unescape_html: only complete "&name;" / "&#...;" references. */
int fokus_ftfy_unescape_html(const fokus_ustr *in, fokus_ustr *out);

/* ---- ftfy (ftfy.c, ftfy_encoding.c) ---- */

/* ftfy.fix_text with its default TextFixerConfig (ftfy 6.3). `tmp` is scratch. */
int fokus_ftfy_fix_text(fokus_ustr *s, fokus_ustr *tmp);

/* ftfy.fix_encoding (mojibake repair), ftfy 6.3. */
int fokus_ftfy_fix_encoding(const fokus_ustr *in, fokus_ustr *out);
/* ftfy.badness.is_bad on in[i, j). */
bool fokus_ftfy_is_bad(const uint32_t *cp, size_t n);
/* ftfy.fixes.fix_c1_controls (C1 controls decoded as sloppy Windows-1252). */
int fokus_ftfy_fix_c1_controls(const fokus_ustr *in, fokus_ustr *out);

/* ---- The whole CLIP clean-up (textclean.c) ---- */

/* whitespace_clean(basic_clean(text)).lower() of SimpleTokenizer.encode. */
fokus_status fokus_clip_clean(const char *text, size_t len, fokus_ustr *out, fokus_error *err);
/* The same with FOKUS_CLEAN_NO_FTFY: skips ftfy.fix_text (for differential tests of the
 * remaining steps against Python without ftfy installed). */
enum { FOKUS_CLEAN_NO_FTFY = 1 };
fokus_status fokus_clip_clean_ex(const char *text, size_t len, int flags, fokus_ustr *out,
                                 fokus_error *err);

#endif
