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

/* ------------------------------------------------------------------------------------
 * ulp-accurate natural log, sine and cosine (element-wise tensor ops, traced mods).
 * Unlike the functions above these handle every float: subnormals, +-0, +-inf, nan.
 * tests/c/test_simd_math.c measures them against double precision over a sweep of
 * all float exponents and the special values:
 *   fokus_v_log      < 1 ulp everywhere (0.79 measured) (x < 0 and nan give nan, 0 gives -inf,
 *                    +inf gives +inf; subnormal inputs are exact-scaled first)
 *   fokus_v_sin/cos  < 2 ulp (1.50 measured) for |x| <= FOKUS_TRIG_VEC_MAX (a four-part Cody-Waite
 *                    reduction with FMA, exact enough at that size); larger arguments,
 *                    inf and nan are done lane by lane in double by libm (correctly
 *                    reduced at any size, ~0.5 ulp after rounding to float), so the
 *                    bound holds for every float; inf gives nan.
 * ---------------------------------------------------------------------------------- */

/* log(x) = k ln2 + log(m), m = x / 2^k in [sqrt(1/2), sqrt(2)), f = m - 1:
 * log(1 + f) = f - f^2/2 + f^3 P(f) with the degree-8 minimax P of Cephes' logf, and
 * ln2 split in two (0.693359375 has 9 bits, so k * it is exact) so that adding
 * k ln2 costs no accuracy. */
static inline simde__m512 fokus_v_log(simde__m512 x)
{
    const simde__m512 zero = simde_mm512_setzero_ps();
    /* subnormals: scale into the normal range exactly, take 23 off the exponent */
    simde__mmask16 sub = simde_mm512_cmp_ps_mask(x, simde_mm512_set1_ps(1.17549435e-38f), SIMDE_CMP_LT_OQ);
    simde__m512 xs = simde_mm512_mask_mul_ps(x, sub, x, simde_mm512_set1_ps(8388608.0f));
    simde__m512 kb = simde_mm512_maskz_mov_ps(sub, simde_mm512_set1_ps(-23.0f));
    /* (bits + bits(1) - bits(sqrt(1/2))) >> 23 is the biased exponent kb that puts
     * m = x / 2^(kb - 127) in [sqrt(1/2), sqrt(2)); kb < 2^23 converts to float by
     * the 2^23 "magic number" (this SIMDe has no 512-bit int->float conversion). */
    simde__m512i xi = simde_mm512_castps_si512(xs);
    simde__m512i kbi = simde_mm512_srli_epi32(simde_mm512_add_epi32(xi, simde_mm512_set1_epi32(0x004afb0d)), 23);
    simde__m512i mi = simde_mm512_sub_epi32(xi, simde_mm512_slli_epi32(simde_mm512_sub_epi32(kbi, simde_mm512_set1_epi32(127)), 23));
    simde__m512 m = simde_mm512_castsi512_ps(mi);
    simde__m512 kf = simde_mm512_sub_ps(simde_mm512_castsi512_ps(simde_mm512_or_si512(kbi, simde_mm512_set1_epi32(0x4b000000))),
                                        simde_mm512_set1_ps(8388608.0f + 127.0f));
    simde__m512 e = simde_mm512_add_ps(kf, kb);
    simde__m512 f = simde_mm512_sub_ps(m, simde_mm512_set1_ps(1.0f));
    simde__m512 z = simde_mm512_mul_ps(f, f);
    simde__m512 p = simde_mm512_set1_ps(7.0376836292e-2f);
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(-1.1514610310e-1f));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(1.1676998740e-1f));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(-1.2420140846e-1f));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(1.4249322787e-1f));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(-1.6668057665e-1f));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(2.0000714765e-1f));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(-2.4999993993e-1f));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(3.3333331174e-1f));
    simde__m512 y = simde_mm512_mul_ps(simde_mm512_mul_ps(p, f), z);
    y = simde_mm512_fmadd_ps(e, simde_mm512_set1_ps(-2.12194440e-4f), y);
    y = simde_mm512_fnmadd_ps(z, simde_mm512_set1_ps(0.5f), y);
    simde__m512 r = simde_mm512_add_ps(f, y);
    r = simde_mm512_fmadd_ps(e, simde_mm512_set1_ps(0.693359375f), r);
    /* special values: +inf stays, 0 gives -inf, negative and nan give nan */
    simde__mmask16 pinf = simde_mm512_cmp_ps_mask(x, simde_mm512_set1_ps(__builtin_inff()), SIMDE_CMP_EQ_OQ);
    r = simde_mm512_mask_mov_ps(r, pinf, x);
    simde__mmask16 isz = simde_mm512_cmp_ps_mask(x, zero, SIMDE_CMP_EQ_OQ);
    r = simde_mm512_mask_mov_ps(r, isz, simde_mm512_set1_ps(-__builtin_inff()));
    simde__mmask16 bad = simde_mm512_cmp_ps_mask(x, zero, SIMDE_CMP_NGE_UQ); /* x < 0 or nan */
    return simde_mm512_mask_mov_ps(r, bad, simde_mm512_set1_ps(__builtin_nanf("")));
}

/* Arguments up to this size take the vector reduction (j = round(x 2/pi) < 2^16, so
 * the parts of pi/2 beyond the fourth contribute < 2^-60 to r). */
#define FOKUS_TRIG_VEC_MAX 65536.0f

/* r = x - j pi/2 and the quadrant j mod 4. The first FMA is exact (x and j*C1 are both
 * multiples of ulp(C1) = 2^-23 when |x| >= 1, and the difference is below 1); the
 * following parts each add one rounding of the (already small) remainder. */
static inline simde__m512 fokus__v_trig_reduce(simde__m512 x, simde__m512i *quadrant)
{
    simde__m512 j = simde_mm512_roundscale_ps(simde_mm512_mul_ps(x, simde_mm512_set1_ps(0.636619772367581343f)),
                                              SIMDE_MM_FROUND_TO_NEAREST_INT | SIMDE_MM_FROUND_NO_EXC);
    simde__m512 r = simde_mm512_fnmadd_ps(j, simde_mm512_set1_ps(0x1.921fb6p+0f), x);
    r = simde_mm512_fnmadd_ps(j, simde_mm512_set1_ps(-0x1.777a5cp-25f), r);
    r = simde_mm512_fnmadd_ps(j, simde_mm512_set1_ps(-0x1.ee59dap-50f), r);
    r = simde_mm512_fnmadd_ps(j, simde_mm512_set1_ps(0x1.98a2e0p-77f), r);
    /* j + 1.5 * 2^23 holds j in its low mantissa bits (two's complement mod 2^22) */
    *quadrant = simde_mm512_castps_si512(simde_mm512_add_ps(j, simde_mm512_set1_ps(12582912.0f)));
    return r;
}

/* sin and cos of r in [-pi/4, pi/4] (a little beyond when j was rounded the other way;
 * the polynomials hold to ~0.9): Cephes' sinf/cosf minimax coefficients. */
static inline simde__m512 fokus__v_sin_poly(simde__m512 r, simde__m512 z)
{
    simde__m512 p = simde_mm512_set1_ps(-1.9515295891e-4f);
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(8.3321608736e-3f));
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(-1.6666654611e-1f));
    return simde_mm512_fmadd_ps(simde_mm512_mul_ps(p, z), r, r);
}

static inline simde__m512 fokus__v_cos_poly(simde__m512 z)
{
    simde__m512 p = simde_mm512_set1_ps(2.443315711809948e-5f);
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(-1.388731625493765e-3f));
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(4.166664568298827e-2f));
    simde__m512 y = simde_mm512_mul_ps(simde_mm512_mul_ps(p, z), z);
    y = simde_mm512_fnmadd_ps(z, simde_mm512_set1_ps(0.5f), y);
    return simde_mm512_add_ps(y, simde_mm512_set1_ps(1.0f));
}

/* sin(x) (cos_shift 0) or cos(x) = sin(x + pi/2) (cos_shift 1, one more quadrant). */
static inline simde__m512 fokus__v_sincos(simde__m512 x, int cos_shift)
{
    simde__m512i q;
    simde__m512 r = fokus__v_trig_reduce(x, &q);
    q = simde_mm512_add_epi32(q, simde_mm512_set1_epi32(cos_shift));
    simde__m512 z = simde_mm512_mul_ps(r, r);
    simde__m512 s = fokus__v_sin_poly(r, z), c = fokus__v_cos_poly(z);
    /* quadrant 1 and 3 take the cosine; 2 and 3 flip the sign */
    simde__mmask16 odd = simde_mm512_test_epi32_mask(q, simde_mm512_set1_epi32(1));
    simde__m512 y = simde_mm512_mask_mov_ps(s, odd, c);
    simde__m512i sign = simde_mm512_slli_epi32(simde_mm512_and_si512(q, simde_mm512_set1_epi32(2)), 30);
    y = simde_mm512_castsi512_ps(simde_mm512_xor_si512(simde_mm512_castps_si512(y), sign));
    /* large, infinite and nan lanes: libm in double (rare; correct at any size) */
    simde__mmask16 big = simde_mm512_cmp_ps_mask(simde_mm512_abs_ps(x), simde_mm512_set1_ps(FOKUS_TRIG_VEC_MAX),
                                                 SIMDE_CMP_NLE_UQ);
    if (big) {
        float xv[16], yv[16];
        simde_mm512_storeu_ps(xv, x);
        simde_mm512_storeu_ps(yv, y);
        for (int i = 0; i < 16; i++)
            if (big & (1u << i)) yv[i] = (float)(cos_shift ? __builtin_cos((double)xv[i]) : __builtin_sin((double)xv[i]));
        y = simde_mm512_loadu_ps(yv);
    }
    return y;
}

static inline simde__m512 fokus_v_sin(simde__m512 x)
{
    /* sin(-0) = -0 (the polynomial would give +0) */
    simde__mmask16 z = simde_mm512_cmp_ps_mask(x, simde_mm512_setzero_ps(), SIMDE_CMP_EQ_OQ);
    return simde_mm512_mask_mov_ps(fokus__v_sincos(x, 0), z, x);
}
static inline simde__m512 fokus_v_cos(simde__m512 x) { return fokus__v_sincos(x, 1); }

#endif /* FOKUS_SIMD_MATH_H */
