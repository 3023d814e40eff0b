/*
 * Flash attention (part of the fokus core; included by fokus.h): tiled, online softmax,
 * masks, biases, GQA, probabilities for maps; and its double-precision reference.
 */
#ifndef FOKUS_ATTENTION_H
#define FOKUS_ATTENTION_H

#include "base/fokus_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------
 * Attention
 * ---------------------------------------------------------------------------------- */

typedef enum fokus_causal {
    FOKUS_CAUSAL_NONE = 0,
    FOKUS_CAUSAL_TOP_LEFT,      /* key j visible to query i iff j <= i */
    FOKUS_CAUSAL_BOTTOM_RIGHT   /* iff j <= i + Nk - Nq */
} fokus_causal;

typedef struct fokus_attend_opts {
    double scale;               /* 0 = default 1/sqrt(d) */
    fokus_causal causal;
    const fokus_tensor *bias;   /* NULL or float, broadcastable to [B, H, Nq, Nk]; may hold -inf */
    const fokus_tensor *mask;   /* NULL or bool/u8, broadcastable to [B, H, Nq, Nk]; true = attend */
    bool want_lse;
    bool want_probs;
} fokus_attend_opts;

/* softmax(scale * q k^T + bias, masked) v, computed flash-style: tiles of q against
 * tiles of k/v with an online softmax; memory O(N d), never B*H*Nq*Nk (unless probs
 * are asked for).
 *   q [H, Nq, d] or [B, H, Nq, d]; k [.., Hkv, Nk, d]; v [.., Hkv, Nk, dv]; q, k and v
 *   have the same rank and the same B; H % Hkv == 0, query head h reads kv head
 *   h / (H / Hkv); 1 <= d, dv <= 256; Nq, Nk <= 2^30 (0 is allowed).
 *   Any float dtype and strides (f16/bf16 widened to f32; K/V that are not f32 rows
 *   with unit stride are copied once per call into the context's scratch).
 *   bias: f32/f16/bf16; mask: bool or u8 (nonzero = attend). Both broadcast to
 *   [B, H, Nq, Nk] (or [H, Nq, Nk] for 3-d q) by numpy rules, read through stride-0
 *   views; extra leading dims must be 1.
 * Outputs (new f32 tensors from ctx's caching allocator): out [.., H, Nq, dv]; lse [.., H, Nq] (natural log of the
 * sum of exp of the final logits) when opts->want_lse; probs [.., H, Nq, Nk] (0 where
 * masked) when opts->want_probs. A query row with no visible key gives out 0, lse -inf,
 * probs 0. lse/probs may be NULL when not wanted. opts NULL = defaults.
 * Accuracy: float32 accumulation with a vector exp2 of relative error <= 2.5e-7;
 * weights below 2^-125 of the row maximum count as 0. Against the double reference
 * max|err| / max|ref| is ~1e-7..6e-7 on the attention oracles, 5.7e-6 at logits of
 * +-100; on random shapes below 2e-5 at ordinary logits and up to ~6e-5 at logits
 * of ~40 with d = 256 (float32 rounding of the logits themselves; the scalar path
 * shows the same).
 * Threads: work items (batch, head, block of <= 64 queries) on ctx's pool; ctx NULL
 * runs on the calling thread. Scratch lives in ctx (slots FOKUS_SCRATCH_ATTN and
 * FOKUS_SCRATCH_ATTN2), so repeated calls do not allocate beyond their outputs.
 * Errors: FOKUS_EINVAL (shapes, dtypes, options: "attend: k has head dim 32, q has
 * 64"), FOKUS_ENOMEM, FOKUS_EINTERRUPT when ctx's interrupt flag is set. */
fokus_status fokus_attend(fokus_ctx *ctx, const fokus_tensor *q, const fokus_tensor *k,
                          const fokus_tensor *v, const fokus_attend_opts *opts, fokus_tensor *out,
                          fokus_tensor *lse, fokus_tensor *probs, fokus_error *err);

/* fokus_attend writing into the caller's `out`: an f32 tensor of shape
 * [.., H, Nq, dv] with any strides whose elements are distinct, e.g. a [B, H, N, dh]
 * view of a [B, N, H*dh] buffer, so the heads come out merged without a copy; the
 * kernel writes through the strides directly. out must not overlap q, k or v (the
 * contract of fokus_out_check: "attend: out must be f32 2x77x64, got ...",
 * "attend: out overlaps input 1"). lse/probs are new tensors as above. On failure out is left
 * unchanged, except after FOKUS_EINTERRUPT, when its contents are unspecified. */
fokus_status fokus_attend_into(fokus_ctx *ctx, const fokus_tensor *q, const fokus_tensor *k,
                               const fokus_tensor *v, const fokus_attend_opts *opts, fokus_tensor *out,
                               fokus_tensor *lse, fokus_tensor *probs, fokus_error *err);

/* Naive double-precision reference of fokus_attend (same contract, materialises the
 * logits row by row). For tests and benchmarks. */
fokus_status fokus_attend_ref(const fokus_tensor *q, const fokus_tensor *k, const fokus_tensor *v,
                              const fokus_attend_opts *opts, fokus_tensor *out, fokus_tensor *lse,
                              fokus_tensor *probs, fokus_error *err);

#ifdef __cplusplus
}
#endif

#endif /* FOKUS_ATTENTION_H */
