/*
 * Internal helpers shared by the prompt-syntax files (prompt_*.c, chunk.c): Python's
 * notions of whitespace, word characters and float(), which the A1111 and ComfyUI
 * parsers inherit from Python's str, re and float.
 */
#ifndef FOKUS_PROMPT_INTERNAL_H
#define FOKUS_PROMPT_INTERNAL_H

#include "prompt/fokus_prompt.h"
#include "text/unicode_py.h"

/* Decodes one UTF-8 character at s[0..n), n >= 1. Returns its byte length (>= 1) and
 * stores the code point, or U+FFFD with length 1 for an invalid or truncated sequence
 * (as Python's errors="replace" decoding sees such a byte). */
size_t fokus_prompt_py_utf8(const unsigned char *s, size_t n, int32_t *cp);

/* Value 0-9 of a Unicode decimal digit (category Nd), or -1. */
int fokus_prompt_py_decimal(int32_t cp);

/* Python's float(str) on UTF-8 bytes: Unicode digits and whitespace, underscores
 * between digits, inf/infinity/nan in any case with a sign, surrounding whitespace.
 * Returns true and the value, or false where Python raises ValueError. */
bool fokus_prompt_py_float(const char *s, size_t n, double *out);

/* Word boundary test of Python re (`\b`) at byte offset i of s[0..n). */
bool fokus_prompt_py_boundary(const char *s, size_t n, size_t i);

/* Grows the array *p (elements of `size` bytes, capacity *cap) to hold `need`,
 * doubling; false when memory (or size_t) runs out, leaving *p as it was. */
bool fokus_prompt_grow(void **p, size_t *cap, size_t need, size_t size);

/* Appends a segment (copying text) to a segment list. */
fokus_status fokus_segments_push(fokus_segments *s, const char *text, size_t len, double w);

/* Growable byte buffer. */
typedef struct fokus_sbuf {
    char *p;
    size_t n, cap;
} fokus_sbuf;
bool fokus_sbuf_put(fokus_sbuf *b, const char *s, size_t n);



fokus_status fokus_prompt_parse_a1111(const char *s, size_t n, fokus_segments *out, fokus_error *err);
fokus_status fokus_prompt_parse_comfy(const char *s, size_t n, fokus_segments *out, fokus_error *err);
#endif
