/*
 * CLIP byte-level BPE tokenizer (part of the fokus core; included by fokus.h).
 *
 * Id for id identical to OpenAI CLIP's SimpleTokenizer: text clean-up (ftfy-style
 * fixes, HTML unescape twice, whitespace collapse, Python's full Unicode lower-casing),
 * CLIP's pre-tokenizer pattern, byte-to-unicode mapping, merges by lowest rank, and the
 * special-token texts <|startoftext|> / <|endoftext|>.
 */
#ifndef FOKUS_BPE_H
#define FOKUS_BPE_H

#include "fokus.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fokus_bpe fokus_bpe;

/* One token and the bytes of the ORIGINAL text (before clean-up) it came from:
 * [begin, end) byte offsets. Tokens that come from the same cleaned character share
 * its span; a span is never empty for a token that came from text. */
typedef struct fokus_bpe_piece {
    int32_t id;
    size_t begin, end;
} fokus_bpe_piece;

/* A growable result buffer; zero-initialise, reuse across calls, free with
 * fokus_bpe_pieces_free. */
typedef struct fokus_bpe_pieces {
    fokus_bpe_piece *items;
    size_t n, cap;
} fokus_bpe_pieces;
void fokus_bpe_pieces_free(fokus_bpe_pieces *p);

/* Loads a vocabulary. `path` is one of (NULL or "" means $FOKUS_CLIP_VOCAB):
 *   - OpenAI's bpe_simple_vocab_16e6.txt or .txt.gz (merges; the vocabulary is derived:
 *     256 byte symbols, the same with </w>, the first 48,894 merges, then
 *     <|startoftext|> 49406 and <|endoftext|> 49407),
 *   - a Hugging Face vocab.json or merges.txt (the other file is found beside it), or a
 *     folder holding both,
 *   - a Hugging Face tokenizer.json.
 * A .json file is a tokenizer.json when it has a "model" key, else a vocab.json. Gzip is
 * recognised by its magic bytes. Missing or corrupt files give FOKUS_EIO / FOKUS_EFORMAT
 * with a message that starts with the path; no path and no FOKUS_CLIP_VOCAB gives
 * FOKUS_EINVAL. Every format yields the same tokenizer (the encoding rules are always
 * OpenAI's); the vocabulary must hold the 512 byte symbols, every merge result and both
 * special tokens. */
fokus_status fokus_bpe_load(fokus_bpe **out, const char *path, fokus_error *err);

/* The same from memory; `name` (may be NULL) starts error messages. */
fokus_status fokus_bpe_load_openai_mem(fokus_bpe **out, const char *data, size_t len,
                                       const char *name, fokus_error *err); /* .txt or .txt.gz */
fokus_status fokus_bpe_load_hf_mem(fokus_bpe **out, const char *vocab_json, size_t vocab_len,
                                   const char *merges_txt, size_t merges_len, const char *name,
                                   fokus_error *err);
fokus_status fokus_bpe_load_tokenizer_json_mem(fokus_bpe **out, const char *json, size_t len,
                                               const char *name, fokus_error *err);
void fokus_bpe_free(fokus_bpe *tok);

int32_t fokus_bpe_vocab_size(const fokus_bpe *tok);
int32_t fokus_bpe_bos(const fokus_bpe *tok);   /* 49406 for CLIP */
int32_t fokus_bpe_eos(const fokus_bpe *tok);   /* 49407 for CLIP */

/* Encodes `len` bytes of text (any bytes: invalid UTF-8 is handled as Python's
 * errors="replace" decoding would be, NUL bytes allowed) into ids without BOS/EOS,
 * appending to `out` (cleared first). Thread-safe: the word cache is guarded. */
fokus_status fokus_bpe_encode(fokus_bpe *tok, const char *text, size_t len, fokus_bpe_pieces *out,
                              fokus_error *err);

/* Decodes ids to UTF-8 text as CLIP's decode does (</w> becomes a space, byte symbols
 * back to bytes, invalid UTF-8 replaced). *text is malloc'd (NUL-terminated) and owned
 * by the caller. Ids out of range are an error. */
fokus_status fokus_bpe_decode(const fokus_bpe *tok, const int32_t *ids, size_t n, char **text,
                              size_t *len, fokus_error *err);

/* The token string of an id (byte-level unicode form, e.g. "cat</w>"), or NULL. */
const char *fokus_bpe_token(const fokus_bpe *tok, int32_t id);

#ifdef __cplusplus
}
#endif

#endif
