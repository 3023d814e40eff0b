/*
 * The vector evaluator of score / mask programs, run by the attention kernel on the
 * S^T tile (lanes = queries, rows = keys) right after QK^T, before the online softmax.
 *
 * An interpreter, but one whose dispatch is amortised: each instruction runs over a
 * whole block of FOKUS_MOD_ROWS key rows x R query vectors (up to 16 vectors of 16
 * lanes), so the switch costs one branch per 256 scores and the loops inside are
 * plain SIMD arithmetic. Registers are [rows][16 R] float blocks in scratch (one per
 * live value, see assign_registers in mod_program.c), so they stay in L1.
 *
 * Every value is a float32 lane: numbers as themselves, booleans as 0 / 1. Integer
 * values (indices, integer tensors) are exact below 2^24, which fokus_mod_bind
 * enforces for b, h, q and k.
 */
#include <math.h>
#include <string.h>

#include "attention_internal.h"
#include "linalg/simd_math.h"

#define LN2F 0.693147180559945309f
#define LOG2EF 1.44269504088896341f

/* SIMDe has no 512-bit int <-> float conversions or gathers: the two conversions
 * through the 2^23 magic number (exact for |x| < 2^22, which is what they are used
 * for: exponents, and gather indices clamped to dimensions <= 2^22), the gather
 * natively or lane by lane. */
static inline simde__m512 small_int_to_float(simde__m512i e)
{
    simde__m512i biased = simde_mm512_add_epi32(e, simde_mm512_set1_epi32(0x4B400000));
    return simde_mm512_sub_ps(simde_mm512_castsi512_ps(biased), simde_mm512_set1_ps(12582912.0f));
}

static inline simde__m512i small_float_to_int(simde__m512 x) /* x integral, 0 <= x < 2^22 */
{
    simde__m512 biased = simde_mm512_add_ps(x, simde_mm512_set1_ps(8388608.0f));
    return simde_mm512_sub_epi32(simde_mm512_castps_si512(biased), simde_mm512_set1_epi32(0x4B000000));
}

static inline simde__m512 gather16(const float *base, simde__m512i off)
{
#if defined(SIMDE_X86_AVX512F_NATIVE)
    return _mm512_i32gather_ps(off, base, 4);
#else
    int32_t o[16];
    float r[16];
    simde_mm512_storeu_si512(o, off);
    for (int l = 0; l < 16; l++) r[l] = base[o[l]];
    return simde_mm512_loadu_ps(r);
#endif
}

/* Natural log of 16 floats: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
 * log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716, by its odd series to s^11
 * (truncation < 1e-10). Relative error about 2 ulp; log 0 = -inf, log of a negative
 * number or NaN = NaN, log inf = inf; subnormal inputs are scaled by 2^23 first. */
static inline simde__m512 v_log(simde__m512 x)
{
    const simde__m512 one = simde_mm512_set1_ps(1.0f);
    simde__mmask16 sub = simde_mm512_cmp_ps_mask(x, simde_mm512_set1_ps(1.17549435e-38f), SIMDE_CMP_LT_OQ) &
                         simde_mm512_cmp_ps_mask(x, simde_mm512_setzero_ps(), SIMDE_CMP_GT_OQ);
    simde__m512 xs = simde_mm512_mask_mul_ps(x, sub, x, simde_mm512_set1_ps(8388608.0f));
    simde__m512i bits = simde_mm512_castps_si512(xs);
    simde__m512i e = simde_mm512_sub_epi32(simde_mm512_srli_epi32(bits, 23), simde_mm512_set1_epi32(127));
    e = simde_mm512_mask_sub_epi32(e, sub, e, simde_mm512_set1_epi32(23));
    simde__m512 m = simde_mm512_castsi512_ps(simde_mm512_or_si512(
        simde_mm512_and_si512(bits, simde_mm512_set1_epi32(0x7fffff)), simde_mm512_set1_epi32(0x3f800000)));
    simde__mmask16 big = simde_mm512_cmp_ps_mask(m, simde_mm512_set1_ps(1.41421356f), SIMDE_CMP_GT_OQ);
    m = simde_mm512_mask_mul_ps(m, big, m, simde_mm512_set1_ps(0.5f));
    e = simde_mm512_mask_add_epi32(e, big, e, simde_mm512_set1_epi32(1));
    simde__m512 s = simde_mm512_div_ps(simde_mm512_sub_ps(m, one), simde_mm512_add_ps(m, one));
    simde__m512 s2 = simde_mm512_mul_ps(s, s);
    simde__m512 p = simde_mm512_set1_ps(1.0f / 11);
    p = simde_mm512_fmadd_ps(p, s2, simde_mm512_set1_ps(1.0f / 9));
    p = simde_mm512_fmadd_ps(p, s2, simde_mm512_set1_ps(1.0f / 7));
    p = simde_mm512_fmadd_ps(p, s2, simde_mm512_set1_ps(1.0f / 5));
    p = simde_mm512_fmadd_ps(p, s2, simde_mm512_set1_ps(1.0f / 3));
    simde__m512 s2s = simde_mm512_add_ps(s, s);
    simde__m512 logm = simde_mm512_fmadd_ps(simde_mm512_mul_ps(s2s, s2), p, s2s);
    simde__m512 ef = small_int_to_float(e);
    /* ln 2 split in two so e ln 2 adds no rounding of its own */
    simde__m512 r = simde_mm512_fmadd_ps(ef, simde_mm512_set1_ps(-2.12194440e-4f), logm);
    r = simde_mm512_fmadd_ps(ef, simde_mm512_set1_ps(0.693359375f), r);
    r = simde_mm512_mask_mov_ps(r, simde_mm512_cmp_ps_mask(x, simde_mm512_setzero_ps(), SIMDE_CMP_EQ_OQ),
                                simde_mm512_set1_ps(-INFINITY));
    r = simde_mm512_mask_mov_ps(r, simde_mm512_cmp_ps_mask(x, simde_mm512_set1_ps(INFINITY), SIMDE_CMP_EQ_OQ),
                                simde_mm512_set1_ps(INFINITY));
    /* negative or NaN */
    r = simde_mm512_mask_mov_ps(r, simde_mm512_cmp_ps_mask(x, simde_mm512_setzero_ps(), SIMDE_CMP_NGE_UQ),
                                simde_mm512_set1_ps(NAN));
    return r;
}

/* Lua's floored modulo: a - floor(a / b) b, then one correction step each way for the
 * rounding of a / b (so integer operands below 2^24 give the exact result). */
static inline simde__m512 v_mod(simde__m512 a, simde__m512 b)
{
    const simde__m512 z = simde_mm512_setzero_ps();
    simde__m512 q = simde_mm512_roundscale_ps(simde_mm512_div_ps(a, b), SIMDE_MM_FROUND_TO_NEG_INF);
    simde__m512 r = simde_mm512_fnmadd_ps(q, b, a);
    simde__mmask16 bpos = simde_mm512_cmp_ps_mask(b, z, SIMDE_CMP_GT_OQ);
    simde__mmask16 bneg = simde_mm512_cmp_ps_mask(b, z, SIMDE_CMP_LT_OQ);
    simde__mmask16 rneg = simde_mm512_cmp_ps_mask(r, z, SIMDE_CMP_LT_OQ);
    simde__mmask16 rpos = simde_mm512_cmp_ps_mask(r, z, SIMDE_CMP_GT_OQ);
    r = simde_mm512_mask_add_ps(r, (simde__mmask16)((bpos & rneg) | (bneg & rpos)), r, b);
    simde__mmask16 over = (simde__mmask16)((bpos & simde_mm512_cmp_ps_mask(r, b, SIMDE_CMP_GE_OQ)) |
                                           (bneg & simde_mm512_cmp_ps_mask(r, b, SIMDE_CMP_LE_OQ)));
    return simde_mm512_mask_sub_ps(r, over, r, b);
}

size_t fokus_mod_scratch_floats(const fokus_mod_bound *m)
{
    return m ? (size_t)m->p->nreg * FOKUS_MOD_ROWS * 64 : 0;
}

#define LOOP(expr)                                                          \
    for (int v = 0; v < nv; v++) {                                          \
        simde__m512 A = simde_mm512_load_ps(ra + 16 * v);                   \
        simde__m512 Bv = nb ? simde_mm512_load_ps(rb + 16 * v) : A;         \
        (void)Bv;                                                           \
        simde_mm512_store_ps(rd + 16 * v, (expr));                          \
    }

#define CMP(pred) LOOP(simde_mm512_maskz_mov_ps(simde_mm512_cmp_ps_mask(A, Bv, pred), one))

const float *fokus_mod_eval_rows(const fokus_mod_bound *m, const float *S, int ld, int R, int rows, int64_t b,
                                 int64_t h, int64_t i0, int64_t j0, float *regs)
{
    const fokus_mod_program *p = m->p;
    const int nv = rows * R, rs = FOKUS_MOD_ROWS * 64;
    const simde__m512 one = simde_mm512_set1_ps(1.0f);
    const simde__m512 iota = simde_mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int i = 0; i < p->n; i++) {
        const fokus_mod_ins *x = &p->ins[i];
        float *rd = regs + (size_t)p->reg[i] * rs;
        const float *ra = NULL, *rb = NULL, *rc = NULL;
        int nb = 0;
        switch (x->op) {
        case FOKUS_MOD_ADD: case FOKUS_MOD_SUB: case FOKUS_MOD_MUL: case FOKUS_MOD_DIV: case FOKUS_MOD_MOD:
        case FOKUS_MOD_POW: case FOKUS_MOD_MIN: case FOKUS_MOD_MAX: case FOKUS_MOD_LT: case FOKUS_MOD_LE:
        case FOKUS_MOD_GT: case FOKUS_MOD_GE: case FOKUS_MOD_EQ: case FOKUS_MOD_NE: case FOKUS_MOD_AND:
        case FOKUS_MOD_OR:
            rb = regs + (size_t)p->reg[x->b] * rs;
            nb = 1;
            ra = regs + (size_t)p->reg[x->a] * rs;
            break;
        case FOKUS_MOD_WHERE:
            rc = regs + (size_t)p->reg[x->c] * rs;
            rb = regs + (size_t)p->reg[x->b] * rs;
            nb = 1;
            ra = regs + (size_t)p->reg[x->a] * rs;
            break;
        case FOKUS_MOD_NEG: case FOKUS_MOD_ABS: case FOKUS_MOD_EXP: case FOKUS_MOD_LOG: case FOKUS_MOD_TANH:
        case FOKUS_MOD_SQRT: case FOKUS_MOD_NOT:
            ra = regs + (size_t)p->reg[x->a] * rs;
            break;
        default: break;
        }
        switch (x->op) {
        case FOKUS_MOD_CONST:
        case FOKUS_MOD_BCONST:
        case FOKUS_MOD_B:
        case FOKUS_MOD_H: {
            float c = x->op == FOKUS_MOD_CONST ? (float)x->k
                      : x->op == FOKUS_MOD_BCONST ? (x->k != 0 ? 1.0f : 0.0f)
                      : x->op == FOKUS_MOD_B ? (float)(b + 1) : (float)(h + 1);
            simde__m512 cv = simde_mm512_set1_ps(c);
            for (int v = 0; v < nv; v++) simde_mm512_store_ps(rd + 16 * v, cv);
            break;
        }
        case FOKUS_MOD_SCORE:
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++)
                    simde_mm512_store_ps(rd + 16 * (t * R + r),
                                         simde_mm512_mul_ps(simde_mm512_load_ps(S + (size_t)t * ld + 16 * r),
                                                            simde_mm512_set1_ps(LN2F)));
            break;
        case FOKUS_MOD_Q:
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++)
                    simde_mm512_store_ps(rd + 16 * (t * R + r),
                                         simde_mm512_add_ps(iota, simde_mm512_set1_ps((float)(i0 + 16 * r + 1))));
            break;
        case FOKUS_MOD_K:
            for (int t = 0; t < rows; t++) {
                simde__m512 kv = simde_mm512_set1_ps((float)(j0 + t + 1));
                for (int r = 0; r < R; r++) simde_mm512_store_ps(rd + 16 * (t * R + r), kv);
            }
            break;
        case FOKUS_MOD_ADD: LOOP(simde_mm512_add_ps(A, Bv)); break;
        case FOKUS_MOD_SUB: LOOP(simde_mm512_sub_ps(A, Bv)); break;
        case FOKUS_MOD_MUL: LOOP(simde_mm512_mul_ps(A, Bv)); break;
        case FOKUS_MOD_DIV: LOOP(simde_mm512_div_ps(A, Bv)); break;
        case FOKUS_MOD_MOD: LOOP(v_mod(A, Bv)); break;
        case FOKUS_MOD_MIN: LOOP(simde_mm512_min_ps(A, Bv)); break;
        case FOKUS_MOD_MAX: LOOP(simde_mm512_max_ps(A, Bv)); break;
        case FOKUS_MOD_POW:
            /* rare (x^2 is traced as x * x): libm per lane keeps Lua's edge cases */
            for (int l = 0; l < 16 * nv; l++) rd[l] = powf(ra[l], rb[l]);
            break;
        case FOKUS_MOD_NEG: LOOP(simde_mm512_sub_ps(simde_mm512_setzero_ps(), A)); break;
        case FOKUS_MOD_ABS: LOOP(simde_mm512_abs_ps(A)); break;
        case FOKUS_MOD_EXP: LOOP(fokus_v_exp(A)); break;
        case FOKUS_MOD_LOG: LOOP(v_log(A)); break;
        case FOKUS_MOD_TANH: LOOP(fokus_v_tanh(A)); break;
        case FOKUS_MOD_SQRT: LOOP(simde_mm512_sqrt_ps(A)); break;
        case FOKUS_MOD_LT: CMP(SIMDE_CMP_LT_OQ); break;
        case FOKUS_MOD_LE: CMP(SIMDE_CMP_LE_OQ); break;
        case FOKUS_MOD_GT: CMP(SIMDE_CMP_GT_OQ); break;
        case FOKUS_MOD_GE: CMP(SIMDE_CMP_GE_OQ); break;
        case FOKUS_MOD_EQ: CMP(SIMDE_CMP_EQ_OQ); break;
        case FOKUS_MOD_NE: CMP(SIMDE_CMP_NEQ_UQ); break;
        case FOKUS_MOD_AND: LOOP(simde_mm512_min_ps(A, Bv)); break;
        case FOKUS_MOD_OR: LOOP(simde_mm512_max_ps(A, Bv)); break;
        case FOKUS_MOD_NOT: LOOP(simde_mm512_sub_ps(one, A)); break;
        case FOKUS_MOD_WHERE:
            for (int v = 0; v < nv; v++) {
                simde__mmask16 c = simde_mm512_cmp_ps_mask(simde_mm512_load_ps(ra + 16 * v), simde_mm512_setzero_ps(),
                                                           SIMDE_CMP_NEQ_UQ);
                simde_mm512_store_ps(rd + 16 * v, simde_mm512_mask_blend_ps(c, simde_mm512_load_ps(rc + 16 * v),
                                                                            simde_mm512_load_ps(rb + 16 * v)));
            }
            break;
        case FOKUS_MOD_GATHER: {
            const int t = x->tensor;
            const float *base = m->data[t];
            for (int v = 0; v < nv; v++) {
                simde__m512i off = simde_mm512_setzero_si512();
                for (int d = 0; d < x->nidx; d++) {
                    const float *ri = regs + (size_t)p->reg[x->idx[d]] * rs;
                    /* the documented clamp into 1..n (max first: it turns NaN into 1) */
                    simde__m512 ix = simde_mm512_max_ps(simde_mm512_load_ps(ri + 16 * v), one);
                    ix = simde_mm512_min_ps(ix, simde_mm512_set1_ps((float)m->dim[t][d]));
                    simde__m512i ii = simde_mm512_sub_epi32(small_float_to_int(ix), simde_mm512_set1_epi32(1));
                    off = simde_mm512_add_epi32(off, simde_mm512_mullo_epi32(ii, simde_mm512_set1_epi32(m->stride[t][d])));
                }
                simde_mm512_store_ps(rd + 16 * v, gather16(base, off));
            }
            break;
        }
        default: break;
        }
    }
    return regs + (size_t)p->reg[p->n - 1] * rs;
}

void fokus_mod_apply_tile(const fokus_mod_bound *score, const fokus_mod_bound *mask, float *S, int ld, int R,
                          int jn, int64_t b, int64_t h, int64_t i0, int64_t j0, float *regs, float *tmax)
{
    const simde__m512 ninf = simde_mm512_set1_ps(-INFINITY), l2e = simde_mm512_set1_ps(LOG2EF);
    simde__m512 mx[4];
    for (int r = 0; r < R; r++) mx[r] = ninf;
    for (int jj0 = 0; jj0 < jn; jj0 += FOKUS_MOD_ROWS) {
        const int rows = jn - jj0 < FOKUS_MOD_ROWS ? jn - jj0 : FOKUS_MOD_ROWS;
        float *Sr = S + (size_t)jj0 * ld;
        if (score) {
            const float *res = fokus_mod_eval_rows(score, Sr, ld, R, rows, b, h, i0, j0 + jj0, regs);
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++) {
                    float *s = Sr + (size_t)t * ld + 16 * r;
                    simde__m512 old = simde_mm512_load_ps(s);
                    /* masked stays masked, whatever the program makes of -inf */
                    simde__mmask16 dead = simde_mm512_cmp_ps_mask(old, ninf, SIMDE_CMP_EQ_OQ);
                    simde__m512 nw = simde_mm512_mul_ps(simde_mm512_load_ps(res + 16 * (t * R + r)), l2e);
                    simde_mm512_store_ps(s, simde_mm512_mask_mov_ps(nw, dead, ninf));
                }
        }
        if (mask) {
            const float *res = fokus_mod_eval_rows(mask, NULL, ld, R, rows, b, h, i0, j0 + jj0, regs);
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++) {
                    float *s = Sr + (size_t)t * ld + 16 * r;
                    simde__mmask16 off = simde_mm512_cmp_ps_mask(simde_mm512_load_ps(res + 16 * (t * R + r)),
                                                                 simde_mm512_setzero_ps(), SIMDE_CMP_EQ_OQ);
                    simde_mm512_store_ps(s, simde_mm512_mask_mov_ps(simde_mm512_load_ps(s), off, ninf));
                }
        }
        if (tmax)
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++) mx[r] = simde_mm512_max_ps(mx[r], simde_mm512_load_ps(Sr + (size_t)t * ld + 16 * r));
    }
    if (tmax)
        for (int r = 0; r < R; r++)
            simde_mm512_store_ps(tmax + 16 * r, simde_mm512_max_ps(simde_mm512_load_ps(tmax + 16 * r), mx[r]));
}
