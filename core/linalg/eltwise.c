/* Element-wise arithmetic on f32 blocks: + - * / pow, the unary functions and clamp.
 * Memory-bound at tensor sizes, so each is one pass of 16-lane SIMDe vectors with the
 * ulp-accurate functions of simd_math.h; the ragged end of a block goes through the
 * same vector code on a padded copy, so an element's value never depends on where it
 * falls in a block. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <simde/x86/avx512.h>

#include "linalg/eltwise_internal.h"
#include "linalg/simd_math.h"

#define LOAD(p) simde_mm512_loadu_ps(p)
#define STORE(p, v) simde_mm512_storeu_ps((p), (v))
#define SET1(x) simde_mm512_set1_ps(x)

/* out[i] = EXPR(va, vb) with va, vb the vectors of a and b; tail on padded copies */
#define BINARY_LOOP(EXPR)                                                   \
    do {                                                                    \
        int64_t i = 0;                                                      \
        for (; i + 16 <= n; i += 16) {                                      \
            simde__m512 va = LOAD(a + i), vb = LOAD(b + i); (void)vb;       \
            STORE(out + i, (EXPR));                                         \
        }                                                                   \
        if (i < n) {                                                        \
            float ta[16] = {0}, tb[16] = {0}, to[16];                       \
            memcpy(ta, a + i, (size_t)(n - i) * 4);                         \
            memcpy(tb, b + i, (size_t)(n - i) * 4);                         \
            simde__m512 va = LOAD(ta), vb = LOAD(tb); (void)vb;             \
            STORE(to, (EXPR));                                              \
            memcpy(out + i, to, (size_t)(n - i) * 4);                       \
        }                                                                   \
    } while (0)

/* The unary functions spend 6-10 cycles of arithmetic per vector: the core then stops
 * asking for the next lines while it computes, the hardware prefetcher falls behind and
 * a large tensor ran at ~75% of the memory bandwidth. One software prefetch per vector,
 * PREFETCH_AHEAD bytes (32 lines) ahead, keeps that many reads in flight: 88-92% for exp
 * and gelu (bench_ops.lua, 2 threads). The address is formed as an integer because it
 * may lie past the input (a prefetch never faults). */
#define PREFETCH_AHEAD 2048
#define PREFETCH(p) __builtin_prefetch((const void *)((uintptr_t)(p) + PREFETCH_AHEAD), 0, 3)

#define UNARY_LOOP(EXPR)                                                    \
    do {                                                                    \
        int64_t i = 0;                                                      \
        for (; i + 16 <= n; i += 16) {                                      \
            PREFETCH(x + i);                                                \
            simde__m512 v = LOAD(x + i);                                    \
            STORE(out + i, (EXPR));                                         \
        }                                                                   \
        if (i < n) {                                                        \
            float tx[16] = {0}, to[16];                                     \
            memcpy(tx, x + i, (size_t)(n - i) * 4);                         \
            simde__m512 v = LOAD(tx);                                       \
            STORE(to, (EXPR));                                              \
            memcpy(out + i, to, (size_t)(n - i) * 4);                       \
        }                                                                   \
    } while (0)

/* ---------------------------------------------------------------- binary */

typedef struct bin_arg {
    fokus_ew_binop op;
    float exponent; /* pow with a scalar exponent: the fast cases */
    bool scalar_exponent;
} bin_arg;

static float pow_one(float x, float y)
{
    return powf(x, y);
}

static void binary_kernel(const void *argp, float *out, const float *const *in, int64_t n, int64_t pos)
{
    (void)pos;
    const bin_arg *arg = argp;
    const float *a = in[0], *b = in[1];
    switch (arg->op) {
    case FOKUS_EW_ADD: BINARY_LOOP(simde_mm512_add_ps(va, vb)); break;
    case FOKUS_EW_SUB: BINARY_LOOP(simde_mm512_sub_ps(va, vb)); break;
    case FOKUS_EW_MUL: BINARY_LOOP(simde_mm512_mul_ps(va, vb)); break;
    case FOKUS_EW_DIV: BINARY_LOOP(simde_mm512_div_ps(va, vb)); break;
    case FOKUS_EW_POW:
        /* x^2 as x*x is the correctly rounded square, as powf gives; everything else
         * is libm's powf (no vector pow of that accuracy here) */
        if (arg->scalar_exponent && arg->exponent == 2.0f) {
            BINARY_LOOP(simde_mm512_mul_ps(va, va));
        } else if (arg->scalar_exponent && arg->exponent == 1.0f) {
            if (out != a) memcpy(out, a, (size_t)n * 4);
        } else {
            for (int64_t i = 0; i < n; i++) out[i] = pow_one(a[i], b[i]);
        }
        break;
    default: break;
    }
}

static const char *const binop_names[FOKUS_EW_NBINOPS] = {
    "add", "sub", "mul", "div", "pow", "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or",
};

const char *fokus_ew_binop_name(fokus_ew_binop op)
{
    return (unsigned)op < FOKUS_EW_NBINOPS ? binop_names[op] : "?";
}

fokus_status fokus_binary(fokus_ctx *ctx, fokus_ew_binop op, fokus_operand a, fokus_operand b,
                          const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    if ((unsigned)op > FOKUS_EW_POW)
        return fokus_fail(err, FOKUS_EINVAL, "binary: operation %d is not arithmetic (see fokus_compare)", (int)op);
    bin_arg arg = {op, 0.0f, false};
    if (op == FOKUS_EW_POW && !b.t) {
        arg.scalar_exponent = true;
        arg.exponent = (float)b.value;
    }
    fokus_operand ops[2] = {a, b};
    return fokus_ew_apply(ctx, binop_names[op], FOKUS_F32, 2, ops, binary_kernel, &arg, dst, out, err);
}

/* ---------------------------------------------------------------- unary */

typedef struct un_arg {
    fokus_ew_unop op;
    float lo, hi;      /* clamp */
    bool has_lo, has_hi;
    bool clamp;
} un_arg;

static inline simde__m512 v_relu(simde__m512 v)
{
    /* x > 0 or nan keeps x (relu(nan) = nan), the rest is +0 */
    simde__mmask16 keep = simde_mm512_cmp_ps_mask(v, simde_mm512_setzero_ps(), SIMDE_CMP_NLE_UQ);
    return simde_mm512_maskz_mov_ps(keep, v);
}

static inline simde__m512 v_abs(simde__m512 v)
{
    return simde_mm512_castsi512_ps(simde_mm512_and_si512(simde_mm512_castps_si512(v), simde_mm512_set1_epi32(0x7fffffff)));
}

static inline simde__m512 v_neg(simde__m512 v)
{
    return simde_mm512_castsi512_ps(simde_mm512_xor_si512(simde_mm512_castps_si512(v), simde_mm512_set1_epi32((int)0x80000000u)));
}

static inline simde__m512 v_silu(simde__m512 v)
{
    /* x sigmoid(x); the 2^64 scale of the sigmoid comes off after the product for
     * x < 0 so a subnormal result keeps its bits (see simd_math.h) */
    simde__m512 sg = fokus__v_sigmoid2(v, simde_mm512_setzero_ps()), down = SET1(FOKUS__SCALE_DOWN);
    simde__mmask16 pos = simde_mm512_cmp_ps_mask(v, simde_mm512_setzero_ps(), SIMDE_CMP_GE_OQ);
    simde__m512 y = simde_mm512_mul_ps(v, simde_mm512_mask_mul_ps(sg, pos, sg, down));
    y = simde_mm512_mask_mul_ps(y, (simde__mmask16)(pos ^ 0xffffu), y, down);
    simde__mmask16 ninf = simde_mm512_cmp_ps_mask(v, SET1(-INFINITY), SIMDE_CMP_EQ_OQ);
    return simde_mm512_mask_mov_ps(y, ninf, SET1(-0.0f));
}

static inline simde__m512 v_clamp(simde__m512 v, const un_arg *a)
{
    /* compares, not min/max: nan elements stay nan whatever the operand order */
    if (a->has_lo) v = simde_mm512_mask_mov_ps(v, simde_mm512_cmp_ps_mask(v, SET1(a->lo), SIMDE_CMP_LT_OQ), SET1(a->lo));
    if (a->has_hi) v = simde_mm512_mask_mov_ps(v, simde_mm512_cmp_ps_mask(v, SET1(a->hi), SIMDE_CMP_GT_OQ), SET1(a->hi));
    return v;
}

static void unary_kernel(const void *argp, float *out, const float *const *in, int64_t n, int64_t pos)
{
    (void)pos;
    const un_arg *a = argp;
    const float *x = in[0];
    if (a->clamp) {
        UNARY_LOOP(v_clamp(v, a));
        return;
    }
    switch (a->op) {
    case FOKUS_EW_EXP: UNARY_LOOP(fokus_v_exp_acc(v)); break;
    case FOKUS_EW_LOG: UNARY_LOOP(fokus_v_log(v)); break;
    case FOKUS_EW_SQRT: UNARY_LOOP(simde_mm512_sqrt_ps(v)); break;
    case FOKUS_EW_RSQRT: UNARY_LOOP(simde_mm512_div_ps(SET1(1.0f), simde_mm512_sqrt_ps(v))); break;
    case FOKUS_EW_ABS: UNARY_LOOP(v_abs(v)); break;
    case FOKUS_EW_TANH: UNARY_LOOP(fokus_v_tanh_acc(v)); break;
    case FOKUS_EW_SIGMOID: UNARY_LOOP(fokus_v_sigmoid_acc(v)); break;
    case FOKUS_EW_SILU: UNARY_LOOP(v_silu(v)); break;
    case FOKUS_EW_GELU: UNARY_LOOP(fokus_v_gelu_acc(v)); break;
    case FOKUS_EW_GELU_TANH: UNARY_LOOP(fokus_v_gelu_tanh_acc(v)); break;
    case FOKUS_EW_RELU: UNARY_LOOP(v_relu(v)); break;
    case FOKUS_EW_SIN: UNARY_LOOP(fokus_v_sin(v)); break;
    case FOKUS_EW_COS: UNARY_LOOP(fokus_v_cos(v)); break;
    case FOKUS_EW_FLOOR:
        UNARY_LOOP(simde_mm512_roundscale_ps(v, SIMDE_MM_FROUND_TO_NEG_INF | SIMDE_MM_FROUND_NO_EXC));
        break;
    case FOKUS_EW_NEG: UNARY_LOOP(v_neg(v)); break;
    case FOKUS_EW_NOT:
        /* 1 where x == 0 (stored as bool) */
        UNARY_LOOP(simde_mm512_maskz_mov_ps(simde_mm512_cmp_ps_mask(v, simde_mm512_setzero_ps(), SIMDE_CMP_EQ_OQ),
                                            SET1(1.0f)));
        break;
    default: break;
    }
}

static const char *const unop_names[FOKUS_EW_NUNOPS] = {
    "exp", "log", "sqrt", "rsqrt", "abs", "tanh", "sigmoid", "silu", "gelu", "gelu",
    "relu", "sin", "cos", "floor", "neg", "logical_not",
};

const char *fokus_ew_unop_name(fokus_ew_unop op)
{
    return (unsigned)op < FOKUS_EW_NUNOPS ? unop_names[op] : "?";
}

fokus_status fokus_unary(fokus_ctx *ctx, fokus_ew_unop op, const fokus_tensor *x, const fokus_tensor *dst,
                         fokus_tensor *out, fokus_error *err)
{
    if ((unsigned)op >= FOKUS_EW_NUNOPS) return fokus_fail(err, FOKUS_EINVAL, "unary: unknown operation %d", (int)op);
    un_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.op = op;
    fokus_operand ops[1] = {fokus_op_tensor(x)};
    return fokus_ew_apply(ctx, unop_names[op], op == FOKUS_EW_NOT ? FOKUS_BOOL : FOKUS_F32, 1, ops, unary_kernel,
                          &arg, dst, out, err);
}

fokus_status fokus_clamp(fokus_ctx *ctx, const fokus_tensor *x, double lo, double hi, const fokus_tensor *dst,
                         fokus_tensor *out, fokus_error *err)
{
    un_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.clamp = true;
    arg.has_lo = !isnan(lo);
    arg.has_hi = !isnan(hi);
    arg.lo = (float)lo;
    arg.hi = (float)hi;
    fokus_operand ops[1] = {fokus_op_tensor(x)};
    return fokus_ew_apply(ctx, "clamp", FOKUS_F32, 1, ops, unary_kernel, &arg, dst, out, err);
}
