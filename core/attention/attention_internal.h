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
    const fokus_mod_program *score_mod, *mask_mod;  /* NULL = none */
    const fokus_block_mask *block_mask;             /* NULL = none (then mask_mod NULL too
                                                       in the kernels: attention.c builds one) */
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
    const struct fokus_mod_bound *score, *mask;  /* bound mods or NULL (mod_eval.c) */
    const fokus_block_mask *bm;     /* tile classes (with mask), or NULL */
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

/* ---------------------------------------------------------------------------------
 * Score / mask programs inside the kernels (mod_program.c, mod_eval.c, block_mask.c)
 * ------------------------------------------------------------------------------- */

/* A program bound to one call: its captured tensors as dense f32 copies (from ctx's
 * allocator), so the vector evaluator gathers from one layout. */
typedef struct fokus_mod_bound {
    const fokus_mod_program *p;
    fokus_tensor f32[FOKUS_MOD_MAX_TENSORS];
    const float *data[FOKUS_MOD_MAX_TENSORS];
    int32_t dim[FOKUS_MOD_MAX_TENSORS][4];      /* sizes */
    int32_t stride[FOKUS_MOD_MAX_TENSORS][4];   /* element strides of the dense copy */
    /* uni[i]: instruction i depends on b, h and constants only, so it is one number
     * per tile (fokus_mod_uniforms); vec[i]: its value is needed in vector registers
     * (read by a non-uniform instruction, or the result) */
    uint8_t uni[FOKUS_MOD_MAX_INS], vec[FOKUS_MOD_MAX_INS];
    /* score programs of the form score + x (a bias: ALiBi, token weights): the index
     * of x, else -1; fokus_mod_apply_tile then adds x to the tile in one pass. And
     * whether x itself reads the score. */
    int add_x;
    bool add_x_reads_score;
} fokus_mod_bound;

/* One operation of the reference semantics (booleans as 1 / 0), shared by the double
 * evaluator and the per-tile uniforms. */
double fokus_mod_op_ref(int op, double a, double b, double c);
/* Operands an op reads from a, b, c (0..3; GATHER reads idx[] instead: 0). */
int fokus_mod_arity(int op);

/* Binds p for logits [B, H, Nq, Nk]: checks the shape limits (2^24) and every gather
 * index that is exactly b, h, q or k against the size of its dimension ("what" names
 * the option in messages), then converts the tensors. */
fokus_status fokus_mod_bind(fokus_ctx *ctx, const fokus_mod_program *p, const char *what, int64_t B, int64_t H,
                            int64_t Nq, int64_t Nk, fokus_mod_bound *out, fokus_error *err);
void fokus_mod_unbind(fokus_mod_bound *m);

/* Rows of keys the vector evaluator handles per pass (registers hold MOD_ROWS x ld lanes). */
#define FOKUS_MOD_ROWS 16
/* Floats of register scratch the evaluator needs for tiles of up to 64 lanes (the
 * uniform values come first, then the registers). */
size_t fokus_mod_scratch_floats(const fokus_mod_bound *m);

/* Computes the uniform instructions of m for batch b, head h (0-based) into the head
 * of regs; fokus_mod_eval_rows then broadcasts them instead of recomputing them per
 * vector (a slope[h] gather becomes one load per tile). */
void fokus_mod_uniforms(const fokus_mod_bound *m, int64_t b, int64_t h, float *regs);

/* Evaluates m on rows j0 .. j0 + rows - 1 (0-based keys, rows <= FOKUS_MOD_ROWS) of a
 * tile of R query vectors (lanes = queries i0 + 0 .. 16 R - 1, 0-based) for batch b,
 * head h (0-based). S: the S^T tile rows in log2 units (read for SCORE; NULL when m
 * does not read it), row stride ld. regs must hold this (b, h)'s uniforms
 * (fokus_mod_uniforms). Returns the result registers [rows][16 R] (a pointer into regs). */
const float *fokus_mod_eval_rows(const fokus_mod_bound *m, const float *S, int ld, int R, int rows, int64_t b,
                                 int64_t h, int64_t i0, int64_t j0, float *regs);

/* Applies score (NULL = none) then mask (NULL = none) to the S^T tile [jn][ld] in
 * place: S = S == -inf ? -inf : score(S ln 2) log2 e; S = mask ? S : -inf. When tmax
 * is not NULL it is raised to the per-lane max of the tile. may_inf: S may hold -inf
 * on entry (causal diagonal, mask or bias); false skips that check. */
void fokus_mod_apply_tile(const fokus_mod_bound *score, const fokus_mod_bound *mask, float *S, int ld, int R,
                          int jn, int64_t b, int64_t h, int64_t i0, int64_t j0, float *regs, float *tmax,
                          bool may_inf);

/* Class of tile (b, h, query block qb, key block kb) (0-based). */
static inline int fokus_block_class(const fokus_block_mask *bm, int64_t b, int64_t h, int64_t qb, int64_t kb)
{
    const int64_t bb = bm->Bm == 1 ? 0 : b, hh = bm->Hm == 1 ? 0 : h;
    return bm->cls[((bb * bm->Hm + hh) * bm->nqb + qb) * bm->nkb + kb];
}

#endif /* FOKUS_ATTENTION_INTERNAL_H */
