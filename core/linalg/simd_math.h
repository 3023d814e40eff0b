/*
 * Vector math for the SIMD kernels (internal; static inline, through SIMDe only).
 *
 * fokus_exp2_ps: 2^x on 16 floats, the exponential of the attention softmax. The
 * softmax works in base 2 (log2 e is folded into the query scale once), so a single
 * exp2 per score is all the kernel needs.
 *
 *   x = n + f with n = round(x), f in [-1/2, 1/2]
 *   2^f ~ p(f), a degree-5 polynomial fitted by Remez for minimax RELATIVE error on
 *         [-1/2, 1/2] (theoretical error 7.5e-8)
 *   2^x = p(f) * 2^n, with 2^n put into the exponent field by an integer add
 *
 * The rounding uses the 1.5 * 2^23 "shifter" (adding it leaves round(x) in the low
 * mantissa bits), and 2^n is an integer add into p's exponent bits: both are cheap
 * adds and shifts, so the only FMA-port work is the five Horner steps — the FMA ports
 * are the bottleneck of attention (QK^T and PV), so this is the cheapest place to be.
 *
 * Contract (tests/c/test_attention.c re-measures it on every 97th float of [-125, 16],
 * the range the kernel uses, and checks the special values):
 *   - maximum relative error 2.21e-7 (about 1.9 float32 ulp; every 7th float of
 *     [-125, 127] measured against exp2 in double), bound stated as 2.5e-7, for
 *     -125 <= x <= 127. c0 is pinned to 1 (the fit wants 1 + 7e-8), so 2^0 = 1
 *     exactly: the row maximum gets weight exactly 1.
 *   - x < -125.5 (including -inf) gives exactly +0: results below 2^-125 are flushed
 *     instead of going subnormal. Masked scores are -inf, and a masked probability
 *     must be exactly 0, so this is a feature; a real weight below 2^-125 relative to
 *     the row maximum is irrelevant in float32 sums.
 *   - x > 127 is clamped to 127 (no inf); NaN gives 0. The attention kernel only
 *     feeds x <= 8 (scores minus a running maximum).
 */
#ifndef FOKUS_SIMD_MATH_H
#define FOKUS_SIMD_MATH_H

#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>

/* Remez coefficients of 2^f on [-1/2, 1/2] for minimax relative error (degree 5,
 * 7.49e-8 before float32 rounding), computed with mpmath; c0 first. */
#define FOKUS_EXP2_C0 1.0f /* the fit says 1.0000000717; 1 keeps 2^0 exact */
#define FOKUS_EXP2_C1 0.6931469670652649f
#define FOKUS_EXP2_C2 0.2402211972396918f
#define FOKUS_EXP2_C3 0.05550713272875384f
#define FOKUS_EXP2_C4 0.009675541331021383f
#define FOKUS_EXP2_C5 0.0013276472167821562f

/* The documented bound checked by the tests. */
#define FOKUS_EXP2_MAX_REL_ERR 2.5e-7

static inline simde__m512 fokus_exp2_ps(simde__m512 x)
{
    const simde__m512 shifter = simde_mm512_set1_ps(12582912.0f); /* 1.5 * 2^23 */
    /* x >= -125.5 keeps 2^n a normal number once p's exponent (126 or 127) is added */
    simde__mmask16 ok = simde_mm512_cmp_ps_mask(x, simde_mm512_set1_ps(-125.5f), SIMDE_CMP_GE_OQ);
    x = simde_mm512_min_ps(x, simde_mm512_set1_ps(127.0f));
    simde__m512 t = simde_mm512_add_ps(x, shifter);
    simde__m512 n = simde_mm512_sub_ps(t, shifter);
    simde__m512 f = simde_mm512_sub_ps(x, n);
    simde__m512 p = simde_mm512_set1_ps(FOKUS_EXP2_C5);
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C4));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C3));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C2));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C1));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C0));
    /* the low mantissa bits of t hold n (plus 2^22, which the shift pushes out) */
    simde__m512i e = simde_mm512_slli_epi32(simde_mm512_castps_si512(t), 23);
    simde__m512i r = simde_mm512_maskz_add_epi32(ok, simde_mm512_castps_si512(p), e);
    return simde_mm512_castsi512_ps(r);
}

/* Scalar twin with the same polynomial and the same flush/clamp rules (tests check
 * it bit for bit). The scalar attention kernel deliberately uses libm's exp2f
 * instead, so it is an independent check of the SIMD one. */
static inline float fokus_exp2_f32(float x)
{
    if (!(x >= -125.5f)) return 0.0f; /* also NaN */
    if (x > 127.0f) x = 127.0f;
    float n = __builtin_rintf(x);
    float f = x - n;
    /* fused like the vector Horner steps, so both give the same bits */
    float p = FOKUS_EXP2_C5;
    p = __builtin_fmaf(p, f, FOKUS_EXP2_C4);
    p = __builtin_fmaf(p, f, FOKUS_EXP2_C3);
    p = __builtin_fmaf(p, f, FOKUS_EXP2_C2);
    p = __builtin_fmaf(p, f, FOKUS_EXP2_C1);
    p = __builtin_fmaf(p, f, FOKUS_EXP2_C0);
    return __builtin_ldexpf(p, (int)n);
}

/* ------------------------------------------------------------------------------------
 * Natural-base functions for the element-wise model operations (ops.c). They feed
 * activations compared at 1e-4 relative, so they trade the last ulps for simplicity;
 * tests/c/test_ops.c measures them against double precision:
 *   fokus_v_exp      relative error < 1.5e-6 for |x| <= 20 and < 6e-6 on [-86, 88]
 *                    (the rounding of x * log2 e); 0 below about -87 (where the true
 *                    value is below the smallest normal float)
 *   fokus_v_sigmoid  absolute error < 3e-7
 *   fokus_v_erf      absolute error < 6e-7 (Abramowitz & Stegun 7.1.26, 1.5e-7, plus
 *                    float32 rounding; unfused multiply-adds in PORTABLE builds)
 *   fokus_v_tanh     absolute error < 5e-7
 * ---------------------------------------------------------------------------------- */

static inline simde__m512 fokus_v_exp(simde__m512 x)
{
    return fokus_exp2_ps(simde_mm512_mul_ps(x, simde_mm512_set1_ps(1.44269504088896341f)));
}

static inline simde__m512 fokus_v_sigmoid(simde__m512 x)
{
    simde__m512 one = simde_mm512_set1_ps(1.0f);
    return simde_mm512_div_ps(one, simde_mm512_add_ps(one, fokus_v_exp(simde_mm512_sub_ps(simde_mm512_setzero_ps(), x))));
}

static inline simde__m512 fokus_v_erf(simde__m512 x)
{
    simde__m512 ax = simde_mm512_abs_ps(x);
    simde__m512 t = simde_mm512_div_ps(simde_mm512_set1_ps(1.0f),
                                       simde_mm512_fmadd_ps(ax, simde_mm512_set1_ps(0.3275911f), simde_mm512_set1_ps(1.0f)));
    simde__m512 p = simde_mm512_set1_ps(1.061405429f);
    p = simde_mm512_fmadd_ps(p, t, simde_mm512_set1_ps(-1.453152027f));
    p = simde_mm512_fmadd_ps(p, t, simde_mm512_set1_ps(1.421413741f));
    p = simde_mm512_fmadd_ps(p, t, simde_mm512_set1_ps(-0.284496736f));
    p = simde_mm512_fmadd_ps(p, t, simde_mm512_set1_ps(0.254829592f));
    p = simde_mm512_mul_ps(p, t);
    simde__m512 e = fokus_v_exp(simde_mm512_sub_ps(simde_mm512_setzero_ps(), simde_mm512_mul_ps(ax, ax)));
    simde__m512 y = simde_mm512_fnmadd_ps(p, e, simde_mm512_set1_ps(1.0f));
    /* erf is odd: put the sign of x back */
    simde__m512i sign = simde_mm512_and_si512(simde_mm512_castps_si512(x), simde_mm512_set1_epi32((int)0x80000000u));
    return simde_mm512_castsi512_ps(simde_mm512_or_si512(simde_mm512_castps_si512(y), sign));
}

static inline simde__m512 fokus_v_tanh(simde__m512 x)
{
    /* tanh(x) = 1 - 2 / (exp(2x) + 1): saturates correctly at both ends */
    simde__m512 one = simde_mm512_set1_ps(1.0f);
    simde__m512 e = fokus_v_exp(simde_mm512_add_ps(x, x));
    return simde_mm512_sub_ps(one, simde_mm512_div_ps(simde_mm512_set1_ps(2.0f), simde_mm512_add_ps(e, one)));
}

/* 16 consecutive f32, f16 or bf16 values at p, widened to f32 (f16 through F16C,
 * bf16 by a 16-bit shift into the upper half of each lane); f32 when both flags are 0. */
static inline simde__m512 fokus_v_load16_widen(const void *p, int dt_f16, int dt_bf16)
{
    if (dt_f16) {
        const simde__m128i *q = (const simde__m128i *)p;
        simde__m256 lo = simde_mm256_cvtph_ps(simde_mm_loadu_si128(q));
        simde__m256 hi = simde_mm256_cvtph_ps(simde_mm_loadu_si128(q + 1));
        return simde_mm512_insertf32x8(simde_mm512_castps256_ps512(lo), hi, 1);
    }
    if (dt_bf16) {
        const simde__m128i *q = (const simde__m128i *)p;
        simde__m256i lo = simde_mm256_slli_epi32(simde_mm256_cvtepu16_epi32(simde_mm_loadu_si128(q)), 16);
        simde__m256i hi = simde_mm256_slli_epi32(simde_mm256_cvtepu16_epi32(simde_mm_loadu_si128(q + 1)), 16);
        return simde_mm512_insertf32x8(simde_mm512_castps256_ps512(simde_mm256_castsi256_ps(lo)),
                                       simde_mm256_castsi256_ps(hi), 1);
    }
    return simde_mm512_loadu_ps((const float *)p);
}

#endif /* FOKUS_SIMD_MATH_H */
