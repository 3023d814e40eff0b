/*
 * Prompt syntax: A1111 / ComfyUI emphasis parsing, A1111 prompt scheduling, and the
 * 77-token chunking both front ends do (part of the fokus core; included by fokus.h).
 * Prompts are untrusted: any byte string gives a result or an error in bounded time
 * and memory.
 */
#ifndef FOKUS_PROMPT_H
#define FOKUS_PROMPT_H

#include "fokus.h"
typedef struct fokus_bpe fokus_bpe;  /* fokus_bpe.h */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fokus_syntax {
    FOKUS_SYNTAX_A1111 = 0,
    FOKUS_SYNTAX_COMFY
} fokus_syntax;

typedef struct fokus_segment {
    char *text;     /* NUL-terminated UTF-8 (malloc'd); may contain any bytes of the input */
    size_t len;     /* byte length (text may hold NUL bytes) */
    double weight;  /* A1111: BREAK outside brackets is ("BREAK", -1) */
} fokus_segment;

typedef struct fokus_segments {
    fokus_segment *items;
    size_t n, cap;
} fokus_segments;
void fokus_segments_free(fokus_segments *s);

/* A1111's parse_prompt_attention (segment for segment, weight for weight, same
 * multiplication order, equal-weight merging) or ComfyUI's token_weights (escapes
 * resolved). Where A1111 raises (e.g. "(x:1.2.3)"), returns FOKUS_EINVAL with a message. */
fokus_status fokus_prompt_parse(const char *text, size_t len, fokus_syntax syntax,
                                fokus_segments *out, fokus_error *err);

/* A1111 prompt editing and alternation ([from:to:when], [to:when], [from::when], [a|b])
 * resolved for `steps` sampling steps: one entry per step range, `until_step` the last
 * step (1-based, inclusive) that uses `prompt`, as A1111's
 * get_learned_conditioning_prompt_schedules returns it. */
typedef struct fokus_schedule_entry {
    int until_step;
    char *prompt;
    size_t len;
} fokus_schedule_entry;
typedef struct fokus_schedule {
    fokus_schedule_entry *items;
    size_t n, cap;
} fokus_schedule;
void fokus_schedule_free(fokus_schedule *s);
fokus_status fokus_prompt_schedule(const char *text, size_t len, int steps, fokus_schedule *out,
                                   fokus_error *err);

/* 77-slot chunks (BOS + 75 tokens + EOS, padded) with per-slot weights, as A1111
 * (BREAK, comma backtracking within 20 tokens) or ComfyUI (segments of < 8 tokens that
 * do not fit move whole to the next chunk) build them. Start/end/pad slots weigh 1.0;
 * pad id is the EOS id. */
typedef struct fokus_chunk {
    int32_t ids[77];
    double weights[77];
} fokus_chunk;
typedef struct fokus_chunks {
    fokus_chunk *items;
    size_t n, cap;
} fokus_chunks;
void fokus_chunks_free(fokus_chunks *c);
fokus_status fokus_prompt_chunks(fokus_bpe *tok, const char *text, size_t len, fokus_syntax syntax,
                                 fokus_chunks *out, fokus_error *err);

#ifdef __cplusplus
}
#endif

#endif
