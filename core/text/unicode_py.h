/*
 * Python's view of Unicode code points (unicode_py.c), from utf8proc's tables: shared by
 * the tokenizer's clean-up and the prompt parsers, which both inherit Python's str, re
 * and regex semantics.
 */
#ifndef FOKUS_UNICODE_PY_H
#define FOKUS_UNICODE_PY_H

#include <stdbool.h>
#include <stdint.h>

bool fokus_py_isspace(uint32_t c);      /* str.isspace, str.strip(), re \s: Zs or bidi WS/B/S */
bool fokus_regex_isspace(uint32_t c);   /* `regex` module \s: the White_Space property */
bool fokus_is_letter(uint32_t c);       /* \p{L} */
bool fokus_is_number(uint32_t c);       /* \p{N} */
bool fokus_py_isword(uint32_t c);       /* Python `re` \w: \p{L}, \p{N} or '_' */
bool fokus_py_isalnum_ascii(uint32_t c);

#endif
