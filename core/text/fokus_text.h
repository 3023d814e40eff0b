/*
 * CLIP byte-level BPE tokenizer (part of the fokus core; included by fokus.h).
 *
 * Id for id identical to OpenAI CLIP's SimpleTokenizer (clip/simple_tokenizer.py):
 *   text = whitespace_clean(basic_clean(text)).lower()
 * where basic_clean is ftfy.fix_text (ftfy 6.3 defaults, mojibake repair included),
 * Python's html.unescape twice and str.strip(); whitespace_clean collapses runs of
 * White_Space to one space; lower() is Python's full lower-casing (U+0130, final sigma).
 * Then CLIP's pre-tokenizer pattern (the `regex` module, IGNORECASE), the
 * byte-to-unicode mapping, merges by lowest rank, and the special-token texts
 * <|startoftext|> / <|endoftext|> (in any letter case).
 * Unicode properties come from utf8proc (Unicode 15 in Debian 12); characters assigned
 * after the Unicode version of the reference Python can differ.
 */
#ifndef FOKUS_TEXT_H
#define FOKUS_TEXT_H

#include "base/fokus_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fokus_bpe fokus_bpe;

/* One token and the bytes of the ORIGINAL text (before clean-up) it came from:
 * [begin, end) byte offsets, never empty, inside the input. A cleaned character made
 * from several input characters (an HTML entity, a repaired mojibake sequence, a
 * composed accent, CRLF) spans all of them; tokens cut from one character (bytes of a
 * CJK character or an emoji) share its span. Pieces come in the order of the cleaned
 * text, which is the input order except where NFC reorders combining marks. */
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

/* Encodes `len` bytes of text (any bytes: invalid UTF-8 is decoded as Python's
 * errors="replace" would, NUL bytes allowed) into ids without BOS/EOS, written to
 * `out` (cleared first; no truncation: callers cut to 75 and add BOS/EOS for the
 * 77-slot context). text may be NULL when len is 0. One tokenizer may be used from
 * several threads at once: the word cache (bounded, words up to 64 bytes) is guarded
 * by a mutex. Time and memory are linear-ish in len on any input (about 1 s and
 * < 100 MB per MiB of hostile text); len must be below 4 GiB (else FOKUS_ERANGE).
 * Errors: FOKUS_EINVAL (NULL tok/out, or NULL text with len > 0), FOKUS_ENOMEM. */
fokus_status fokus_bpe_encode(fokus_bpe *tok, const char *text, size_t len, fokus_bpe_pieces *out,
                              fokus_error *err);

/* Decodes ids to UTF-8 text as CLIP's decode does (</w> becomes a space, byte symbols
 * back to bytes, invalid UTF-8 replaced by U+FFFD). *text is malloc'd (NUL-terminated;
 * it may hold NUL bytes before *len) and owned by the caller; len may be NULL.
 * An id outside the vocabulary is FOKUS_ERANGE ("ids[3] = 50000 is not a token id"). */
fokus_status fokus_bpe_decode(const fokus_bpe *tok, const int32_t *ids, size_t n, char **text,
                              size_t *len, fokus_error *err);

/* The token string of an id (byte-level unicode form, e.g. "cat</w>"), or NULL. */
const char *fokus_bpe_token(const fokus_bpe *tok, int32_t id);

#ifdef __cplusplus
}
#endif

#endif
