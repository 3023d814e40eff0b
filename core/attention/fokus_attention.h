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

typedef struct fokus_mod_program fokus_mod_program;
typedef struct fokus_block_mask fokus_block_mask;

typedef struct fokus_attend_opts {
    double scale;               /* 0 = default 1/sqrt(d) */
    fokus_causal causal;
    const fokus_tensor *bias;   /* NULL or float, broadcastable to [B, H, Nq, Nk]; may hold -inf */
    const fokus_tensor *mask;   /* NULL or bool/u8, broadcastable to [B, H, Nq, Nk]; true = attend */
    bool want_lse;
    bool want_probs;
    /* Custom attention variants (see "Score and mask programs" below); NULL = none. */
    const fokus_mod_program *score_mod;  /* kind FOKUS_MOD_SCORE */
    const fokus_mod_program *mask_mod;   /* kind FOKUS_MOD_MASK */
    const fokus_block_mask *block_mask;  /* built for this Nq, Nk (and B, H unless the mask
                                            ignores b, h); supplies mask_mod if NULL */
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
 *   score_mod / mask_mod / block_mask (see "Score and mask programs" below): applied
 *   after scale and bias, before the softmax; a mask_mod without a block_mask gets a
 *   block mask built for the call (64 x 64 tiles); the kernel then tiles as the block
 *   mask does, skips its EMPTY tiles and evaluates no mask on FULL ones.
 * Outputs (new f32 tensors from ctx's caching allocator): out [.., H, Nq, dv]; lse [.., H, Nq] (natural log of the
 * sum of exp of the final logits) when opts->want_lse; probs [.., H, Nq, Nk] (0 where
 * masked) when opts->want_probs. A query row with no visible key gives out 0, lse -inf,
 * probs 0. lse/probs may be NULL when not wanted. opts NULL = defaults.
 * NaN / inf (as PyTorch): a query row whose final logits include a visible NaN or
 * +inf (NaN or inf in q or k, in the bias, or made by score_mod) gives out, lse and
 * the whole probs row NaN; a masked logit (causal, mask, -inf bias, mask_mod, block
 * mask) is replaced by -inf first and does not count; a -inf logit weighs 0. NaN in
 * v gives NaN in the rows that see that key (and possibly in rows of the same tile
 * that do not: 0 * NaN, as PyTorch's matmul). Finite inputs cost nothing extra.
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

/* ------------------------------------------------------------------------------------
 * Score and mask programs (custom attention variants)
 *
 * A program is a straight-line list of instructions in SSA form: instruction i reads
 * only instructions < i, the last one is the result. Values are numbers or booleans.
 * score programs map (score, b, h, q, k) to the new logit; mask programs map
 * (b, h, q, k) to true (attend) or false. b, h, q, k are 1-based; score is the scaled
 * logit (scale * q.k + bias, natural units). Tensors captured by the program are read
 * with GATHER (one index per dimension, 1..4 dims).
 *
 * Semantics, as in Lua: / is float division, % is floored (a - floor(a / b) * b),
 * ^ is pow; comparisons give booleans; AND/OR/NOT take booleans; WHERE(c, x, y).
 * Gather indices out of range are CLAMPED to 1..n of that dimension (never a read
 * outside the tensor); an index that is exactly b, h, q or k is checked before the
 * kernel runs instead ("attend: score_mod indexes captured tensor 1 (dim 1 of size 4)
 * with h up to 8").
 * Precision: the kernel evaluates in float32 on SIMD vectors (integer values, indices
 * and integer tensor elements are exact below 2^24); fokus_mod_eval_ref evaluates in
 * double. Inside attention a score that is already -inf (masked by causal, mask or a
 * -inf bias) stays -inf whatever score_mod says; mask_mod false gives -inf.
 * ---------------------------------------------------------------------------------- */

typedef enum fokus_mod_op {
    FOKUS_MOD_CONST = 0,   /* number k */
    FOKUS_MOD_BCONST,      /* boolean k != 0 */
    FOKUS_MOD_SCORE, FOKUS_MOD_B, FOKUS_MOD_H, FOKUS_MOD_Q, FOKUS_MOD_K,
    FOKUS_MOD_ADD, FOKUS_MOD_SUB, FOKUS_MOD_MUL, FOKUS_MOD_DIV, FOKUS_MOD_MOD, FOKUS_MOD_POW,
    FOKUS_MOD_MIN, FOKUS_MOD_MAX,                                   /* binary, numbers */
    FOKUS_MOD_NEG, FOKUS_MOD_ABS, FOKUS_MOD_EXP, FOKUS_MOD_LOG, FOKUS_MOD_TANH,
    FOKUS_MOD_SQRT,                                                 /* unary, numbers */
    FOKUS_MOD_LT, FOKUS_MOD_LE, FOKUS_MOD_GT, FOKUS_MOD_GE, FOKUS_MOD_EQ, FOKUS_MOD_NE,
    FOKUS_MOD_AND, FOKUS_MOD_OR, FOKUS_MOD_NOT,
    FOKUS_MOD_WHERE,       /* a ? b : c (b, c of the same kind) */
    FOKUS_MOD_GATHER,      /* tensors[tensor][idx[0]]...[idx[nidx-1]] */
    FOKUS_MOD_NOPS
} fokus_mod_op;

typedef enum fokus_mod_kind { FOKUS_MOD_KIND_SCORE = 0, FOKUS_MOD_KIND_MASK = 1 } fokus_mod_kind;

typedef struct fokus_mod_ins {
    int op;           /* fokus_mod_op */
    int a, b, c;      /* operands (instruction indices < this one); unused ones ignored */
    double k;         /* CONST / BCONST */
    int tensor;       /* GATHER: index into the program's tensors */
    int nidx;         /* GATHER: number of indices, = that tensor's rank */
    int idx[4];       /* GATHER: index operands */
} fokus_mod_ins;

#define FOKUS_MOD_MAX_INS 1024
#define FOKUS_MOD_MAX_TENSORS 32

struct fokus_mod_program {
    fokus_mod_kind kind;
    int n;                   /* instructions (1..FOKUS_MOD_MAX_INS) */
    fokus_mod_ins *ins;      /* owned */
    int ntensors;
    fokus_tensor *tensors;   /* owned references (storage refcount) */
    /* derived by fokus_mod_program_new: */
    int nreg;                /* registers the vector evaluator needs */
    int *reg;                /* register of each instruction */
    unsigned uses;           /* bit 1 << op for SCORE, B, H, Q, K when read */
};

/* Validates `ins` (operands in range and earlier, ops known, operand kinds: numbers
 * for arithmetic/comparisons, booleans for AND/OR/NOT and WHERE's condition, WHERE's
 * branches of one kind; GATHER: tensor in range, nidx = its rank (1..4), dimensions
 * of 1..2^22, integer-valued indices; division / modulo by a constant 0; the result
 * a number for FOKUS_MOD_KIND_SCORE, a boolean for FOKUS_MOD_KIND_MASK, which must
 * not read SCORE) and copies it into *out, retaining the tensors (any dtype and
 * strides; they are read at attention time, so later writes are seen). Errors:
 * FOKUS_EINVAL with "instruction 3: ..." messages, FOKUS_ENOMEM. */
fokus_status fokus_mod_program_new(fokus_mod_program *out, fokus_mod_kind kind, const fokus_mod_ins *ins, int n,
                                   const fokus_tensor *tensors, int ntensors, fokus_error *err);
/* A deep copy (tensors retained). */
fokus_status fokus_mod_program_copy(fokus_mod_program *out, const fokus_mod_program *p, fokus_error *err);
/* Frees the arrays and releases the tensors; leaves *p zeroed; NULL-safe, idempotent. */
void fokus_mod_program_free(fokus_mod_program *p);
/* Same instructions and the same captured tensors (data, dtype, shape, strides). */
bool fokus_mod_program_equal(const fokus_mod_program *a, const fokus_mod_program *b);

/* The scalar double-precision reference evaluator: the program's value at one point
 * (booleans as 1 / 0). b, h, q, k 1-based. For tests and the reference attention. */
double fokus_mod_eval_ref(const fokus_mod_program *p, double score, int64_t b, int64_t h, int64_t q, int64_t k);

/* Block sparsity of a mask program: every (query block, key block) tile of the
 * [B, H, Nq, Nk] logits classified by evaluating the mask on all its elements (the
 * same float32 evaluator as the kernel, so the classes are exact for it). Tiles are
 * bq x bk (multiples of 16, at most 64); the attention kernel then uses that tiling,
 * skips EMPTY tiles and evaluates no mask on FULL ones. When the program does not
 * read b (or h) the classes are stored once for all batches (heads). */
enum { FOKUS_BLOCK_EMPTY = 0, FOKUS_BLOCK_PARTIAL = 1, FOKUS_BLOCK_FULL = 2 };

struct fokus_block_mask {
    int64_t B, H, Nq, Nk;    /* the logits shape it was built for */
    int64_t Bm, Hm;          /* stored extents: B or 1, H or 1 */
    int bq, bk;
    int64_t nqb, nkb;        /* ceil(Nq / bq), ceil(Nk / bk) */
    uint8_t *cls;            /* [Bm][Hm][nqb][nkb] */
    int64_t counts[3];       /* tiles per class over [Bm, Hm, nqb, nkb] */
    fokus_mod_program mask;  /* a copy of the mask program */
};

/* Builds *out for `mask` (kind MASK) over [B, H, Nq, Nk] (B, H >= 1; Nq, Nk >= 0,
 * <= 2^24 so that indices stay exact in float32). Runs on ctx's pool (NULL: this
 * thread). Errors: FOKUS_EINVAL (kind, shape, block sizes, gather ranges as for
 * attention), FOKUS_ENOMEM, FOKUS_EINTERRUPT. */
fokus_status fokus_block_mask_build(fokus_ctx *ctx, const fokus_mod_program *mask, int64_t B, int64_t H,
                                    int64_t Nq, int64_t Nk, int bq, int bk, fokus_block_mask *out,
                                    fokus_error *err);
void fokus_block_mask_free(fokus_block_mask *m);   /* leaves *m zeroed; NULL-safe */

#ifdef __cplusplus
}
#endif

#endif /* FOKUS_ATTENTION_H */
