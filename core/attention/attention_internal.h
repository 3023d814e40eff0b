/*
 * Internal interface between the attention files (not part of the public API):
 *   attention.c         argument checks, broadcasting, f32 copies, scratch, threading
 *   attention_kernel.c  the tile kernels that compute one (batch, head, query block)
 *   attention_ref.c     the double-precision reference (reuses the argument checks)
 * Tests may include this header to drive the scalar kernel directly.
 */
#ifndef FOKUS_ATTENTION_INTERNAL_H
#define FOKUS_ATTENTION_INTERNAL_H

#include "attention/fokus_attention.h"

/* A tensor seen as 4-d [B, heads, rows, cols] with element strides (0 = broadcast). */
typedef struct fokus_attn_src {
    const char *data;
    fokus_dtype dtype;
    int64_t s[4];
} fokus_attn_src;

/* Checked, broadcast-resolved arguments of one attend call. */
typedef struct fokus_attn_args {
    int64_t B, H, Hkv, Nq, Nk, d, dv;
    int rank;                       /* 3 or 4: rank of q, k, v and of the outputs */
    double scale;                   /* resolved (never 0) */
    fokus_causal causal;
    int64_t causal_off;             /* causal: key j visible to query i iff j <= i + off */
    fokus_attn_src q, k, v;         /* [B, H, Nq, d], [B, Hkv, Nk, d], [B, Hkv, Nk, dv] */
    bool has_bias, has_mask;
    fokus_attn_src bias, mask;      /* [B, H, Nq, Nk] broadcast views */
    bool want_lse, want_probs;
} fokus_attn_args;

/* Validates q, k, v and opts (NULL = defaults) and fills *a. Outputs are only checked
 * for presence (out always, lse/probs when wanted). */
fokus_status fokus_attn_parse(const fokus_tensor *q, const fokus_tensor *k, const fokus_tensor *v,
                              const fokus_attend_opts *opts, const fokus_tensor *out,
                              const fokus_tensor *lse, const fokus_tensor *probs,
                              fokus_attn_args *a, fokus_error *err);

/* Allocates the f32 outputs of *a (out uninitialised, probs zero-filled; out NULL:
 * the caller provides it). On failure nothing is left allocated. */
fokus_status fokus_attn_alloc_outputs(fokus_ctx *ctx, const fokus_attn_args *a, fokus_tensor *out,
                                      fokus_tensor *lse, fokus_tensor *probs, fokus_error *err);

/* Everything the kernels need for one call; read-only during the parallel region. */
typedef struct fokus_attn_job {
    const fokus_attn_args *a;
    const float *k, *v;             /* f32, unit stride along d / dv */
    int64_t ks[3], vs[3];           /* element strides of batch, kv head, row */
    float *out;                     /* [B, H, Nq, dv] through os */
    int64_t os[4];                  /* element strides of out (batch, head, row, column) */
    float *lse;                     /* [B, H, Nq] or NULL */
    float *probs;                   /* [B, H, Nq, Nk] or NULL */
    float qscale;                   /* scale * log2(e): the kernels work in base 2 */
    int br, bc;                     /* query block (multiple of 16) and key tile sizes */
    int64_t nqb;                    /* query blocks per head */
    const fokus_ctx *ctx;           /* for the interrupt flag */
} fokus_attn_job;

/* Kernel variants: AUTO picks SIMD when AVX-512 is native, else scalar. */
enum { FOKUS_ATTN_AUTO = 0, FOKUS_ATTN_SIMD, FOKUS_ATTN_SCALAR };

/* Per-worker scratch bytes for one item of this job (both variants fit in it). */
size_t fokus_attn_scratch_bytes(const fokus_attn_job *job);

/* Computes work item `item` = (b * H + h) * nqb + block (block order is reversed for
 * causal jobs, so the longest rows start first). scratch: fokus_attn_scratch_bytes,
 * 64-byte aligned. */
void fokus_attn_item_simd(const fokus_attn_job *job, int64_t item, float *scratch);
void fokus_attn_item_scalar(const fokus_attn_job *job, int64_t item, float *scratch);

/* Whether the SIMD kernel runs on native AVX-512 (otherwise SIMDe would emulate it
 * and the scalar kernel is faster). */
bool fokus_attn_simd_native(void);

/* fokus_attend (into = false) or fokus_attend_into (into = true) with a forced
 * kernel variant (tests). */
fokus_status fokus_attend_variant(fokus_ctx *ctx, const fokus_tensor *q, const fokus_tensor *k,
                                  const fokus_tensor *v, const fokus_attend_opts *opts,
                                  fokus_tensor *out, fokus_tensor *lse, fokus_tensor *probs,
                                  int variant, bool into, fokus_error *err);

/* Reads element `i` (flat within a row) of a float row in any of f32/f16/bf16. */
static inline float fokus_attn_loadf(const char *p, fokus_dtype dt, int64_t i)
{
    switch (dt) {
    case FOKUS_F16: return fokus_f16_to_f32(((const uint16_t *)p)[i]);
    case FOKUS_BF16: return fokus_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

#endif /* FOKUS_ATTENTION_INTERNAL_H */
