/* Internal to the tokenizer: what the loaders (vocab_load.c) hand to the core
 * (bpe.c), and the pre-tokenizer (pretokenize.c). */
#ifndef FOKUS_BPE_INTERNAL_H
#define FOKUS_BPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/fokus_text.h"
#include "fokus_text.h"

/* A string that is not NUL-terminated (it points into a loader's buffer). */
typedef struct fokus_bpe_str {
    const char *p;
    size_t n;
} fokus_bpe_str;

typedef struct fokus_bpe_spec {
    /* Token strings by id; n_vocab entries, an entry with p == NULL is a hole (an id
     * no token has). When two ids carry the same string, the string encodes to the
     * LATER id, as Python's dict(zip(vocab, range(len(vocab)))) does. */
    const fokus_bpe_str *vocab;
    size_t n_vocab;
    /* Merges in priority order (a repeated pair keeps its LAST rank, like
     * dict(zip(merges, range(len(merges))))). Merges whose parts are not in the
     * vocabulary can never apply and are skipped. */
    const fokus_bpe_str (*merges)[2];
    size_t n_merges;
    /* Hugging Face files must list every merge result in the vocabulary; OpenAI's
     * vocabulary is made from the merges, so this holds by construction. */
    bool require_merge_results;
} fokus_bpe_spec;

/* Builds a tokenizer (copies everything it keeps). Errors start with `name`. */
fokus_status fokus_bpe_build(fokus_bpe **out, const fokus_bpe_spec *spec, const char *name,
                             fokus_error *err);

/* The 256 byte symbols of CLIP's bytes_to_unicode(): byte b is written as this code
 * point in token strings. */
uint32_t fokus_bpe_byte_char(unsigned b);

/* Next pre-token of cleaned text s[*pos, n): [*mb, *me), advancing *pos. *special is 1
 * or 2 when the match is the <|startoftext|> / <|endoftext|> alternative. */
bool fokus_clip_pretok_next(const uint32_t *s, size_t n, size_t *pos, size_t *mb, size_t *me,
                            int *special);

/* fokus_bpe_encode with fokus_clip_clean_ex flags (FOKUS_CLEAN_NO_FTFY). */
fokus_status fokus_bpe_encode_ex(fokus_bpe *tok, const char *text, size_t len, int flags,
                                 fokus_bpe_pieces *out, fokus_error *err);

#endif
