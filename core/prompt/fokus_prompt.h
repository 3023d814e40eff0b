/*
 * Prompt syntax: A1111 / ComfyUI emphasis parsing, A1111 prompt scheduling, and the
 * 77-token chunking both front ends do (part of the fokus core; included by fokus.h).
 * Prompts are untrusted: any byte string gives a result or an error in bounded time
 * and memory.
 */
#ifndef FOKUS_PROMPT_H
#define FOKUS_PROMPT_H

#include "base/fokus_base.h"
#include "text/fokus_text.h"
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

/* A1111's parse_prompt_attention or ComfyUI's token_weights, segment for segment.
 *
 * A1111: weights as Python computes them (same multiplication order, so merging of
 * equal neighbours matches bit for bit): (x) x1.1, [x] x(1/1.1), (x:w), escapes
 * \( \) \[ \] \\, unclosed brackets multiplied at the end (round first), BREAK outside
 * brackets -> ("BREAK", -1), equal-weight neighbours merged, empty -> [("", 1.0)].
 * The weight syntax is A1111's regex ":([+-]?[.\d]+)\)" (no spaces around the number,
 * as in the reference data). Where A1111 raises ("(x:1.2.3)": float() ValueError)
 * this returns FOKUS_EINVAL, message "... could not convert string to float: '1.2.3'".
 * ComfyUI: only \( and \) are escapes, nested explicit weights replace, Python float()
 * syntax for weights, no [ ], no BREAK, no merging, empty -> no segments.
 *
 * Linear time and memory on any input (no recursion). Exception: A1111 weights of
 * inputs built to defeat sharing (tens of thousands of distinct weights under tens of
 * thousands of alternating brackets) stop after 2^29 multiplications (~2 s) with
 * FOKUS_ERANGE; A1111 itself needs hours on those. Prompts >= 2 GiB: FOKUS_ERANGE. */
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
/* As current A1111 (no hires pass): a step number written with '.' is a fraction of
 * `steps` ("0.5", "1.0"), without '.' a step count ("3", "1e1"); int() truncates and
 * the result is capped at `steps`; values < 1 never switch (the "to" text is used from
 * step 1). Alternation [a|b|] picks option (step-1) % n. A backslash and the character
 * after it are text in every construct: they never separate or close one ("[x\\|y|z]"
 * has the options "x\\|y" and "z") and the backslash stays, for the emphasis parser.
 * steps must be in [1, 1000000]. A prompt A1111 cannot parse (a '|' outside any
 * alternation, a backslash at the end or before a newline) gives one entry holding the
 * whole prompt. A step number that overflows to infinity ("[a:b:1e999]") makes A1111
 * raise OverflowError: FOKUS_EINVAL here. Where lark's Earley parser resolves an
 * ambiguity differently from run to run (a [from:to:when] directly followed by a stray
 * bracket or ':'), the construct is taken. AND is not handled here: split with
 * fokus_prompt_and first and schedule each part, as A1111 does. Results larger than
 * 256 MiB (many steps of alternation on a huge prompt) give FOKUS_ERANGE. */
fokus_status fokus_prompt_schedule(const char *text, size_t len, int steps, fokus_schedule *out,
                                   fokus_error *err);

/* A1111's get_multicond_prompt_list for one prompt: splits on the word AND
 * (re.split(r"\bAND\b")) and reads an optional trailing ":weight" of each part
 * ("a AND b :1.2" -> ("a", 1.0), (" b", 1.2)); trailing whitespace is dropped, leading
 * whitespace kept, as A1111's re_weight does. Weights without a number are 1.0. */
fokus_status fokus_prompt_and(const char *text, size_t len, fokus_segments *out, fokus_error *err);

/* 77-slot chunks (BOS + 75 tokens + EOS, padded) with per-slot weights, as A1111
 * (each parsed segment tokenized whole; BREAK closes the chunk; comma backtracking
 * within 20 tokens) or current ComfyUI (each parsed segment tokenized whole; a segment
 * of < 8 tokens that does not fit moves whole to the next chunk, a longer one is split)
 * build them. Start/end/pad slots weigh 1.0; pad id is the EOS id. Parse errors are
 * returned as fokus_prompt_parse gives them. */
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

/* Applying prompt weights to encoder output (the "weight" node). */
typedef enum fokus_weight_mode {
    FOKUS_WEIGHT_NONE = 0,
    FOKUS_WEIGHT_A1111,         /* z *= w, then restore each chunk's mean (A1111 "Original") */
    FOKUS_WEIGHT_A1111_NONORM,  /* z *= w only (A1111 "No norm") */
    FOKUS_WEIGHT_COMFY          /* z = (z - z_empty) * w + z_empty where w != 1 (ComfyUI) */
} fokus_weight_mode;
bool fokus_weight_mode_parse(const char *name, fokus_weight_mode *out);
/* hidden [..., T, D] (T = n tokens, whole chunks of `chunk`, e.g. [1, 77*C, D]); w[n]
 * per-token weights; empty [chunk, D] (any leading 1s) is the empty prompt's encoding,
 * needed by FOKUS_WEIGHT_COMFY. out: a new f32 tensor shaped like hidden. */
fokus_status fokus_weight_tokens(const fokus_tensor *hidden, const double *w, int64_t n, int64_t chunk,
                                 fokus_weight_mode mode, const fokus_tensor *empty, fokus_tensor *out,
                                 fokus_error *err);

#ifdef __cplusplus
}
#endif

#endif
