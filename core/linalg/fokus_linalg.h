/*
 * Linear algebra (part of the fokus core; included by fokus.h): a packed, cache-blocked
 * SGEMM with a SIMD micro-kernel, threaded on the context's pool, through which every
 * linear layer of the models goes; batched matmul; the row kernels of the models
 * (LayerNorm, RMSNorm, activations).
 */
#ifndef FOKUS_LINALG_H
#define FOKUS_LINALG_H

#include "base/fokus_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* C[M,N] = A[M,K] · op(B) (+ bias[N] broadcast over rows) (+ C when accumulate).
 *   A: f32, row-major with leading dimension lda (>= K).
 *   B: f32, f16 or bf16 (b_dtype). b_trans = false: B is [K,N] with row stride ldb
 *      (>= N), as in a·b. b_trans = true: B is [N,K] with row stride ldb (>= K), the
 *      PyTorch Linear weight layout, so C = A·Bᵀ. f16/bf16 are widened while packing,
 *      so no f32 copy of B is ever made.
 *   bias: NULL or N f32 values. accumulate: C += result instead of C = result.
 *   C: f32, row-major, ldc >= N; must not overlap A, B or bias. Columns past N of
 *      each row (up to ldc) are not touched.
 *   M, N, K >= 0 (K = 0 gives bias or zeros; M = 0 or N = 0 touches nothing, and then
 *   the pointers may be NULL).
 * Sums are f32 (FMA chains over k blocks of <= 512, then added into C), so each
 * element is within about K·2⁻²⁴·Σ|a·b| of the exact result.
 * Threads: the context's pool (columns are split between workers). ctx may be NULL:
 * one thread, and the packing buffers are allocated for the call. Packing buffers are
 * otherwise the context's scratch slots FOKUS_SCRATCH_GEMM_A/B, so do not call this
 * from inside a fokus_parallel task of the same context while another task may too.
 * Errors: FOKUS_EINVAL (negative size, lda/ldb/ldc too small, NULL operand, B dtype
 * not float), FOKUS_ERANGE (extent overflows int64), FOKUS_ENOMEM (scratch). */
fokus_status fokus_gemm(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb,
                        const float *bias, bool accumulate, float *C, int64_t ldc, fokus_error *err);

/* Double-precision reference of fokus_gemm (same contract; sums in double, one
 * rounding per element), for tests and benchmarks. Single-threaded and slow. */
fokus_status fokus_gemm_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                            const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb,
                            const float *bias, bool accumulate, float *C, int64_t ldc,
                            fokus_error *err);

/* Tensor forms: new contiguous f32 outputs; inputs of any float dtype and strides.
 * matmul: a [..., M, K] · b [..., K, N] → [..., M, N]; the leading (batch) dims
 *   broadcast as in numpy (aligned from the right, size 1 stretches); 1-d operands are
 *   not promoted: both need >= 2 dims. b is used in place in its own dtype whatever
 *   its strides: [K, N] row-contiguous, a transposed [N, K] view (w:transpose) and any
 *   other strides all go to the same packed GEMM (no copy, no slower path; views with
 *   no unit stride are packed element by element). a is used in place when f32 with
 *   unit-stride rows (else an f32 copy). When b is the same matrix for every batch
 *   entry and a's rows are evenly spaced, the batch is one taller GEMM.
 * linear: x [..., K] · wᵀ (+ b) with w [N, K] (f32/f16/bf16, used in place with any
 *   strides, e.g. a transposed or narrowed view) and b NULL or [N] (any float dtype)
 *   → [..., N]. x is used in place when f32 with evenly spaced unit-stride rows, else
 *   an f32 copy.
 * Errors: FOKUS_EINVAL with both shapes in the message (inner dims differ, batch dims
 * do not broadcast, wrong rank, non-float dtype); FOKUS_ENOMEM. On failure *out is
 * left unchanged. */
fokus_status fokus_matmul(fokus_ctx *ctx, const fokus_tensor *a, const fokus_tensor *b,
                          fokus_tensor *out, fokus_error *err);
fokus_status fokus_linear(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *w,
                          const fokus_tensor *b, fokus_tensor *out, fokus_error *err);
/* The same written into the caller's `out` (f32, the result's shape, any strides with
 * distinct elements, not overlapping the inputs: the contract of fokus_out_check).
 * Contiguous outputs are written by the GEMM directly; others through a temporary from
 * ctx's allocator and a copy. New outputs of the forms above, and the f32 copies of
 * operands, come from ctx's allocator. */
fokus_status fokus_matmul_into(fokus_ctx *ctx, const fokus_tensor *a, const fokus_tensor *b,
                               const fokus_tensor *out, fokus_error *err);
fokus_status fokus_linear_into(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *w,
                               const fokus_tensor *b, const fokus_tensor *out, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Reductions, softmax and norms of the tensor API (reduce.c, softmax.c, norm.c)
 *
 * Inputs: any dtype and strides; f32, f16 and bf16 are read in place (widened), other
 * dtypes (integers, bool) are converted to f32 first, so sums of integer tensors are
 * f32 sums (exact up to 2^24). Results are new f32 tensors (indices: i64, 1-based, as
 * Torch7's), from ctx's allocator, or written into the caller's destinations under the
 * contract of fokus_out_check (any strides with distinct elements, no overlap with the
 * input). Threads: ctx's pool (ctx may be NULL: one thread).
 * ---------------------------------------------------------------------------------- */

typedef enum fokus_reduce_op {
    FOKUS_REDUCE_SUM = 0,
    FOKUS_REDUCE_MEAN,
    FOKUS_REDUCE_MAX,     /* values and (optionally) the position of the first maximum */
    FOKUS_REDUCE_MIN,
    FOKUS_REDUCE_ARGMAX,  /* positions only (i64) */
    FOKUS_REDUCE_ARGMIN,
    FOKUS_REDUCE_VAR,     /* sum (x - mean)^2 / (n - correction) */
    FOKUS_REDUCE_NORM     /* (sum |x|^p)^(1/p); p = inf: max |x|, -inf: min |x|, 0: count of x != 0 */
} fokus_reduce_op;

/* `dim` of fokus_reduce meaning every dimension: the result is 0-d (keepdim: all
 * sizes 1) and positions are row-major flat indices. */
#define FOKUS_ALL_DIMS (-1000)

typedef struct fokus_reduce_opts {
    bool keepdim;                     /* keep the reduced dim(s) with size 1 */
    double correction;                /* var: divisor n - correction (torch's default: 1) */
    double p;                         /* norm: the order (2: Euclidean) */
    const fokus_tensor *out_values;   /* NULL, or the destination of the f32 values */
    const fokus_tensor *out_indices;  /* NULL, or the destination of the i64 positions */
} fokus_reduce_opts;

/* Reduces x over dimension `dim` (0-based; -1 is the last, as in Python) or over all
 * of them (FOKUS_ALL_DIMS). The result has x's shape without dim (keepdim: with size
 * 1 there). opts NULL: keepdim false, correction 1, p 2 (a given struct is used as is).
 *   values: receives the new f32 values (unless opts->out_values; NULL: not wanted;
 *           unused by ARGMAX / ARGMIN).
 *   indices: MAX, MIN, ARGMAX, ARGMIN: receives the new i64 positions along dim,
 *           1-based (unless opts->out_indices; NULL: MAX/MIN compute no positions).
 * Semantics follow PyTorch: NaN propagates (max/min give NaN and the position of the
 * first NaN); ties give the first position; empty reductions give sum 0, mean and var
 * NaN, norm 0, and max/min/argmax fail; var divides by max(0, n - correction).
 * Accuracy: sums add f32 lanes over blocks of <= 2048 elements and the blocks in
 * double (error ~ 40 ulp of sum |x| at any length); var takes two passes (mean, then
 * the deviations with a correction term); norm p = 1, 2 are vectorised, other p go
 * through pow() in double.
 * Speed: one read of x (var: two), SIMD along the unit-stride dim (the reduced one, or
 * else the innermost kept one); views with neither are copied once.
 * Errors: FOKUS_EINVAL ("sum: dim 4 out of range for a 3-d tensor", an empty max, a
 * bad destination), FOKUS_ENOMEM. */
fokus_status fokus_reduce(fokus_ctx *ctx, fokus_reduce_op op, const fokus_tensor *x, int dim,
                          const fokus_reduce_opts *opts, fokus_tensor *values, fokus_tensor *indices,
                          fokus_error *err);

/* softmax (take_log false) or log_softmax (take_log true) of x along `dim` (0-based,
 * -1 the last), as PyTorch computes them: y = exp(x - max) / sum exp(x - max), and
 * x - max - log(sum exp(x - max)). A row holding a NaN or +inf, or only -inf, gives
 * NaN everywhere (as torch's x - max does); -inf entries give exactly 0 (log: -inf).
 * exp is Cody-Waite reduced with a degree-7 polynomial (within 2 ulp; results below
 * 2^-125 flush to 0); sums are added in double per block of 2048.
 * x: any dtype and strides. dst NULL: *out receives a new f32 tensor of x's shape;
 * else the result goes into dst (fokus_out_check's contract) and *out is untouched.
 * f32 input is read in place when the dims after `dim` form one unit-stride run (or
 * dim itself has unit stride, for the last dim); anything else is first copied into
 * the result and transformed there. Along the last dim: three passes over each row
 * in cache; outputs over 8 MiB are written with streaming stores. Along another dim:
 * an online pass (running maxima, rescaled sums) over blocks of 1024 columns, then
 * the writing pass, both reading rows in order. */
fokus_status fokus_softmax(fokus_ctx *ctx, const fokus_tensor *x, int dim, bool take_log, const fokus_tensor *dst,
                           fokus_tensor *out, fokus_error *err);

/* LayerNorm / RMSNorm of x over its last dim (n), through the row kernels below
 * (fokus_layernorm, fokus_rmsnorm):
 * weight and bias NULL or [n] of any float dtype; eps >= 0. x: any dtype and strides
 * (read in place when f32 with unit-stride, evenly spaced rows, else copied into the
 * result first). dst / out as fokus_softmax. Errors: FOKUS_EINVAL naming the argument
 * ("layer_norm: weight must be a float tensor [768], got f32 2x768"). */
fokus_status fokus_layer_norm(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *weight,
                              const fokus_tensor *bias, double eps, const fokus_tensor *dst, fokus_tensor *out,
                              fokus_error *err);
fokus_status fokus_rms_norm(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *weight, double eps,
                            const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);

/* index_select: the entries idx[0..n) (0-based, each checked against x's size along
 * dim: "index_select: index 7 (entry 3) out of range 1..5") of x along `dim`
 * (0-based, -1 the last), in order, repeats allowed, into a new tensor of x's dtype
 * and shape with size n along dim (index.c). dst / out as fokus_softmax. */
fokus_status fokus_index_select(fokus_ctx *ctx, const fokus_tensor *x, int dim, const int64_t *idx, int64_t n,
                                const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Model building blocks (float32 rows; x and y may be the same buffer)
 * ---------------------------------------------------------------------------------- */

typedef enum fokus_act {
    FOKUS_ACT_NONE = 0,
    FOKUS_ACT_QUICK_GELU,   /* x * sigmoid(1.702 x)   (OpenAI CLIP) */
    FOKUS_ACT_GELU,         /* 0.5 x (1 + erf(x / sqrt 2))   (OpenCLIP ViT-H/bigG) */
    FOKUS_ACT_GELU_TANH,    /* tanh approximation   (DiT, MMDiT) */
    FOKUS_ACT_SILU          /* x * sigmoid(x) */
} fokus_act;

const char *fokus_act_name(fokus_act act);
/* Accepts HF's names too ("gelu_pytorch_tanh", "gelu_new", "swish"). */
bool fokus_act_parse(const char *name, fokus_act *out);

/* LayerNorm over rows of n floats: y = (x - mean) / sqrt(var + eps) * gamma + beta, with
 * the biased variance; gamma/beta NULL = no affine. ldx/ldy are row strides. */
void fokus_layernorm(fokus_ctx *ctx, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows,
                     int64_t n, const float *gamma, const float *beta, float eps);
/* RMSNorm: y = x / sqrt(mean(x^2) + eps) * gamma (gamma may be NULL). */
void fokus_rmsnorm(fokus_ctx *ctx, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows,
                   int64_t n, const float *gamma, float eps);
/* In-place activation over n contiguous floats. */
void fokus_activate(fokus_ctx *ctx, float *x, int64_t n, fokus_act act);

/* One product of fokus_gemm_group / fokus_gemm_mlp, for a Linear weight W [n, K]:
 *   c[M, n] = act(A · Wᵀ + bias)        (accumulate = false)
 *   c[M, n] += act(A · Wᵀ + bias)       (accumulate = true)
 * w: [n, K] with row stride ldw >= K, f32/f16/bf16, used in place. bias: NULL or n f32
 * values. act: applied to the product plus bias (FOKUS_ACT_NONE: none). c: f32, row
 * stride ldc >= n, must not overlap A, w or another part's c. */
typedef struct fokus_gemm_part {
    const void *w;
    fokus_dtype dtype;
    int64_t n, ldw;
    const float *bias;
    fokus_act act;
    bool accumulate;
    float *c;
    int64_t ldc;
} fokus_gemm_part;

/* Up to 4 products that share A [M, K] (f32, row stride lda): the q, k and v
 * projections of an attention layer, or any single Linear with a fused activation.
 * Same result as one fokus_gemm per part (b_trans = true) followed by fokus_activate,
 * bit for bit when act is none or the product has 33..96 rows and f32 weights; then
 * all parts run in one parallel region with A packed once per worker. Threads and
 * scratch as fokus_gemm (do not call from a task of the same context).
 * Errors: FOKUS_EINVAL ("gemm_group: part 2: c must be non-NULL with ldc >= n = 768,
 * got ldc 512", nparts outside 1..4, bad dtype or act), FOKUS_ENOMEM. */
fokus_status fokus_gemm_group(fokus_ctx *ctx, int64_t M, int64_t K, const float *A, int64_t lda, int nparts,
                              const fokus_gemm_part *parts, fokus_error *err);

/* A two-layer MLP: fc2.c (+)= act2(act1(A · W1ᵀ + b1) · W2ᵀ + b2), with fc1 = {W1 [I, K],
 * b1, act1} (its accumulate, c and ldc are ignored) and fc2 = {W2 [N, I] (ldw >= I), b2,
 * act2, accumulate, c}. The hidden layer [M, I] never goes to memory in row-major
 * form: with 33..96 rows and f32 weights it stays transposed between the two products
 * (fc1 writes it as the packed operand fc2 reads), in the context's scratch; otherwise
 * it is a temporary buffer. Same result as two fokus_gemm_group calls, bit for bit.
 * Errors as fokus_gemm_group ("gemm_mlp: part 2: ..."). */
fokus_status fokus_gemm_mlp(fokus_ctx *ctx, int64_t M, int64_t K, const float *A, int64_t lda,
                            const fokus_gemm_part *fc1, const fokus_gemm_part *fc2, fokus_error *err);

/* Row `row` of a 2-d float table (any float dtype, e.g. an f16 embedding) as f32. */
fokus_status fokus_rows_f32(float *dst, const fokus_tensor *table, int64_t row, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Element-wise tensor arithmetic (broadcast.c, eltwise.c, compare.c, copy.c, create.c)
 *
 * Broadcasting (NumPy): shapes are aligned from the right; in each dimension the sizes
 * must be equal or one of them 1 (it stretches); missing leading dims count as 1. A
 * scalar operand is a 0-d tensor. Two shapes that do not broadcast give FOKUS_EINVAL
 * with "add: shapes 2x3 and 4x3 do not broadcast (dim 1: 2 vs 4)" (dim numbered
 * 1-based in the broadcast result).
 * Inputs: any dtype and any strides (views are read in place, no copies); f16, bf16,
 * integers and bool are read as f32 (integers beyond 2^24 round). Compute is f32;
 * results are f32 (comparisons and logical ops: bool, 0/1 bytes).
 * Destinations: dst NULL gives a new contiguous tensor from ctx's allocator in *out;
 * otherwise dst must have exactly the result's dtype and shape, distinct elements
 * (any positive strides) and is written in place (*out untouched). Unlike the
 * matmul family, dst MAY alias an input: the same view is updated in place; any other
 * overlap goes through a temporary, so the result is always as if computed first.
 * Large tensors are split over ctx's workers (ctx NULL: one thread).
 * Accuracy (f32 results against double precision of the same f32 inputs): + - * /
 * sqrt abs neg floor relu clamp and comparisons are exact or correctly rounded; rsqrt
 * < 1.5 ulp (1 / sqrt); pow is libm's powf (< 1 ulp); exp < 1.5 ulp, log < 1 ulp, sin/cos < 2
 * ulp, sigmoid, silu, tanh < 3 ulp, gelu < 4 ulp, gelu_tanh < 5 ulp (bounds from
 * simd_math.h, checked by tests/c/test_simd_math.c and test_eltwise.c).
 * ---------------------------------------------------------------------------------- */

/* A tensor or a scalar: t NULL means the number `value` (a 0-d operand, rounded to
 * f32 like PyTorch's wrapped numbers). */
typedef struct fokus_operand {
    const fokus_tensor *t;
    double value;
} fokus_operand;

static inline fokus_operand fokus_op_tensor(const fokus_tensor *t)
{
    fokus_operand o = {t, 0.0};
    return o;
}

static inline fokus_operand fokus_op_scalar(double v)
{
    fokus_operand o = {NULL, v};
    return o;
}

typedef enum fokus_ew_binop {
    FOKUS_EW_ADD = 0, FOKUS_EW_SUB, FOKUS_EW_MUL, FOKUS_EW_DIV, FOKUS_EW_POW,   /* -> f32 */
    FOKUS_EW_LT, FOKUS_EW_LE, FOKUS_EW_GT, FOKUS_EW_GE, FOKUS_EW_EQ, FOKUS_EW_NE, /* -> bool */
    FOKUS_EW_AND, FOKUS_EW_OR,  /* -> bool; an operand is true when nonzero (nan too) */
    FOKUS_EW_NBINOPS
} fokus_ew_binop;

typedef enum fokus_ew_unop {
    FOKUS_EW_EXP = 0, FOKUS_EW_LOG, FOKUS_EW_SQRT, FOKUS_EW_RSQRT, FOKUS_EW_ABS, FOKUS_EW_TANH,
    FOKUS_EW_SIGMOID, FOKUS_EW_SILU,
    FOKUS_EW_GELU,       /* x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) */
    FOKUS_EW_GELU_TANH,  /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    FOKUS_EW_RELU, FOKUS_EW_SIN, FOKUS_EW_COS, FOKUS_EW_FLOOR, FOKUS_EW_NEG,
    FOKUS_EW_NOT,        /* -> bool: x == 0 */
    FOKUS_EW_NUNOPS
} fokus_ew_unop;

/* "add", "lt", "logical_and", ... and "exp", "gelu", "logical_not", ... */
const char *fokus_ew_binop_name(fokus_ew_binop op);
const char *fokus_ew_unop_name(fokus_ew_unop op);

/* The broadcast shape of n tensors (NULL entries are scalars) into ndim/shape, or
 * FOKUS_EINVAL with the message above, prefixed by fn. */
fokus_status fokus_broadcast_shape(const char *fn, int n, const fokus_tensor *const *ts, int *ndim,
                                   int64_t shape[FOKUS_MAX_DIMS], fokus_error *err);

/* a op b, broadcast, for the arithmetic ops (FOKUS_EW_ADD .. FOKUS_EW_POW) -> f32.
 * pow: powf (0^0 = 1, a negative base with a fractional exponent gives nan).
 * Division by zero gives +-inf or nan (IEEE). Errors: FOKUS_EINVAL (shapes, dst, op),
 * FOKUS_ENOMEM. */
fokus_status fokus_binary(fokus_ctx *ctx, fokus_ew_binop op, fokus_operand a, fokus_operand b,
                          const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);

/* The same for comparisons and logical ops (FOKUS_EW_LT .. FOKUS_EW_OR) -> bool.
 * Comparisons with nan are false except ne. */
fokus_status fokus_compare(fokus_ctx *ctx, fokus_ew_binop op, fokus_operand a, fokus_operand b,
                           const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);

/* f(x) element-wise, same shape. Special values follow C99 Annex F (log(0) = -inf,
 * log(-1) = nan, sqrt(-1) = nan, rsqrt(0) = inf, ...); gelu(-inf) = silu(-inf) = -0
 * (the limits); relu(nan) = nan. */
fokus_status fokus_unary(fokus_ctx *ctx, fokus_ew_unop op, const fokus_tensor *x, const fokus_tensor *dst,
                         fokus_tensor *out, fokus_error *err);

/* min(max(x, lo), hi) (as torch.clamp: lo > hi gives hi everywhere); a nan bound is
 * absent (clamp only the other side); nan elements stay nan. */
fokus_status fokus_clamp(fokus_ctx *ctx, const fokus_tensor *x, double lo, double hi, const fokus_tensor *dst,
                         fokus_tensor *out, fokus_error *err);

/* cond ? a : b element-wise, all three broadcast together; cond is true where nonzero
 * (any dtype; nan is true). Result f32. */
fokus_status fokus_where(fokus_ctx *ctx, fokus_operand cond, fokus_operand a, fokus_operand b,
                         const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);

/* dst[...] = src[...] with src broadcast to dst's shape (src may be a scalar) and
 * converted to dst's dtype (f16/bf16 round to nearest even; to integers as
 * fokus_tensor_copy: truncation, FOKUS_ERANGE for nan/inf/out of range; integer to
 * integer exact). dst needs distinct elements; src may overlap dst in any way. */
fokus_status fokus_copy(fokus_ctx *ctx, const fokus_tensor *dst, fokus_operand src, fokus_error *err);

/* Creation. Every one writes into dst (checked as above) or a new tensor in *out.
 * arange: start, start + step, ... while < end (step > 0) or > end (step < 0), as
 *   torch.arange: n = ceil((end - start) / step) elements, value i = start + i step
 *   computed in double; dt any dtype (FOKUS_ERANGE when a value does not fit it).
 *   step 0, or a count above 2^40, is FOKUS_EINVAL.
 * linspace: n >= 0 points from a to b inclusive (f32); as torch.linspace, the first
 *   half counts up from a and the second down from b, so both ends are exact.
 * full: every element v (dt any dtype; FOKUS_ERANGE when v is not a value of it).
 * rand: uniform in [0, 1) with 24 random bits per value (multiples of 2^-24, exact in
 *   f32): element i (row-major) is word i of the Philox stream of `seed` (the
 *   generator of fokus_rng), so a seed gives the same values on every machine, for
 *   any thread count and any dtype conversion afterwards (dt float). */
fokus_status fokus_arange(fokus_ctx *ctx, double start, double end, double step, fokus_dtype dt,
                          const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);
fokus_status fokus_linspace(fokus_ctx *ctx, double a, double b, int64_t n, const fokus_tensor *dst,
                            fokus_tensor *out, fokus_error *err);
fokus_status fokus_full(fokus_ctx *ctx, int ndim, const int64_t *shape, double v, fokus_dtype dt,
                        const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);
fokus_status fokus_rand(fokus_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed, fokus_dtype dt,
                        const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);

#ifdef __cplusplus
}
#endif

#endif
