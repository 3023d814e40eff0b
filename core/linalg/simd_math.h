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
 *   2^x = p(f) * 2^n, one vscalefps
 *
 * The rounding uses the 1.5 * 2^23 "shifter" (adding it leaves round(x) in the low
 * mantissa bits); p * 2^n is one scalef (it replaced a shift and an integer add into
 * p's exponent bits, which turned a NaN with low payload bits into a number).
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
 *   - x > 127 is clamped to 127 (no inf); NaN gives NaN (the attention kernel relies
 *     on it: a visible NaN score makes its row NaN). The kernel otherwise only feeds
 *     x <= 8 (scores minus a running maximum).
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
    /* x >= -125.5 keeps p 2^n a normal number (p's exponent is 126 or 127); NaN is
     * "ok" too and flows through (min_ps returns its second operand for NaN) */
    simde__mmask16 ok = simde_mm512_cmp_ps_mask(x, simde_mm512_set1_ps(-125.5f), SIMDE_CMP_NLT_UQ);
    x = simde_mm512_min_ps(simde_mm512_set1_ps(127.0f), x);
    simde__m512 t = simde_mm512_add_ps(x, shifter);
    simde__m512 n = simde_mm512_sub_ps(t, shifter);
    simde__m512 f = simde_mm512_sub_ps(x, n);
    simde__m512 p = simde_mm512_set1_ps(FOKUS_EXP2_C5);
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C4));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C3));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C2));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C1));
    p = simde_mm512_fmadd_ps(p, f, simde_mm512_set1_ps(FOKUS_EXP2_C0));
    /* p 2^n in one instruction (vscalefps): exact, as the result is a normal number
     * in the ok range; a NaN p or n gives NaN whatever its payload (an integer add of
     * n into the exponent bits would not) */
    return simde_mm512_maskz_scalef_ps(ok, p, n);
}

/* Scalar twin with the same polynomial and the same flush/clamp rules (tests check
 * it bit for bit). The scalar attention kernel deliberately uses libm's exp2f
 * instead, so it is an independent check of the SIMD one. */
static inline float fokus_exp2_f32(float x)
{
    if (x != x) return x;
    if (!(x >= -125.5f)) return 0.0f;
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
 *                    value is below the smallest normal float); NaN gives NaN
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
    /* tanh(x) = x P(x^2) / Q(x^2), P and Q of degree 4, on |x| <= 9 (clamped: tanh(9)
     * is 1 in float); a weighted least-squares fit reweighted towards minimax absolute
     * error (numpy): 5.9e-8 with float coefficients, 3.2e-7 after float evaluation.
     * No exp and one division: 15 instructions instead of 16 for the exp form (this
     * is what a softcap score_mod costs per score in the attention kernel). NaN gives
     * NaN: max_ps / min_ps return their SECOND operand when either is NaN, so x goes
     * second in both clamps. */
    simde__m512 xc = simde_mm512_min_ps(simde_mm512_set1_ps(9.0f), simde_mm512_max_ps(simde_mm512_set1_ps(-9.0f), x));
    simde__m512 z = simde_mm512_mul_ps(xc, xc);
    simde__m512 p = simde_mm512_set1_ps(1.318399789340674e-08f);
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(2.0471670723054558e-05f));
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(0.0034865722991526127f));
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(0.1337319016456604f));
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(0.9999998807907104f));
    simde__m512 q = simde_mm512_set1_ps(7.702572020207299e-07f);
    q = simde_mm512_fmadd_ps(q, z, simde_mm512_set1_ps(0.0003271369496360421f));
    q = simde_mm512_fmadd_ps(q, z, simde_mm512_set1_ps(0.02584194205701351f));
    q = simde_mm512_fmadd_ps(q, z, simde_mm512_set1_ps(0.46706485748291016f));
    q = simde_mm512_fmadd_ps(q, z, simde_mm512_set1_ps(1.0f));
    /* the fit overshoots 1 by up to 2 ulp near x = 8.4: saturate exactly */
    simde__m512 one = simde_mm512_set1_ps(1.0f), y = simde_mm512_div_ps(simde_mm512_mul_ps(xc, p), q);
    return simde_mm512_min_ps(one, simde_mm512_max_ps(simde_mm512_set1_ps(-1.0f), y));
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

/* ------------------------------------------------------------------------------------
 * ulp-accurate exp, sigmoid, tanh and GELU for the element-wise tensor ops (eltwise.c).
 * Bounds measured by tests/c/test_simd_math.c against double precision of the same
 * float input (sweeps over every exponent; specials exact):
 *   fokus_v_exp_acc        < 1.5 ulp; overflow to +inf above 88.72, gradual underflow
 *                          to subnormals and 0 below -87.3, nan stays nan
 *   fokus_v_sigmoid_acc    < 3 ulp     1 / (1 + exp(-x))
 *   fokus_v_tanh_acc       < 3 ulp     odd polynomial below 0.625 (no cancellation
 *                          near 0), 1 - 2 / (exp(2|x|) + 1) above
 *   fokus_v_gelu_acc       < 4 ulp     x Phi(x), Phi the normal CDF (= the erf form
 *                          0.5 x (1 + erf(x / sqrt 2))), accurate in the far negative
 *                          tail too, where 1 + erf cancels. |x| < 3.9375 (< 2 ulp,
 *                          1.86 measured): Phi(-|x|) from a table of 32 quintics, no
 *                          exp and no division; beyond, Phi(-a) = exp(-a^2/2) R(a)
 *                          with a^2 split exactly by an FMA (3.3 ulp near x = -13)
 *   fokus_v_gelu_tanh_acc  < 5 ulp     x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)): the
 *                          tanh form rewritten without the cancellation of 1 + tanh,
 *                          its argument in double-float
 * gelu(-inf) and silu(-inf) give -0 (the limit), not nan.
 * ---------------------------------------------------------------------------------- */

/* exp(x) = 2^n exp(r), n = round(x log2 e), r = x - n ln2 in [-0.35, 0.35] by two FMA
 * steps (the first is exact); exp(r) = 1 + r + r^2 P(r) with Cephes' expf minimax P.
 * 2^n is applied by scalef, so that results in the subnormal range round once. */
static inline simde__m512 fokus__v_exp_scaled(simde__m512 x, float k);

static inline simde__m512 fokus_v_exp_acc(simde__m512 x)
{
    return fokus__v_exp_scaled(x, 0.0f);
}

/* exp(x) 2^k, k an integer in [0, 64] and x <= 0 when k > 0: callers that multiply
 * a subnormal exp by more factors keep all its bits this way and scale back once. */
static inline simde__m512 fokus__v_exp_scaled(simde__m512 x, float k)
{
    simde__m512 xc = simde_mm512_min_ps(simde_mm512_max_ps(x, simde_mm512_set1_ps(-150.0f)), simde_mm512_set1_ps(89.0f));
    simde__m512 n = simde_mm512_roundscale_ps(simde_mm512_mul_ps(xc, simde_mm512_set1_ps(1.44269504088896341f)),
                                              SIMDE_MM_FROUND_TO_NEAREST_INT | SIMDE_MM_FROUND_NO_EXC);
    simde__m512 r = simde_mm512_fnmadd_ps(n, simde_mm512_set1_ps(0x1.62e430p-1f), xc);
    r = simde_mm512_fnmadd_ps(n, simde_mm512_set1_ps(-1.904654323148236e-09f), r);
    simde__m512 p = simde_mm512_set1_ps(1.9875691500e-4f);
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.3981999507e-3f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(8.3334519073e-3f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(4.1665795894e-2f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.6666665459e-1f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(5.0000001201e-1f));
    simde__m512 y = simde_mm512_add_ps(simde_mm512_fmadd_ps(p, simde_mm512_mul_ps(r, r), r), simde_mm512_set1_ps(1.0f));
    /* y 2^(n + k) in one step with a single rounding (vscalefps on AVX-512: overflow
     * to inf, gradual underflow to subnormals and 0 come out right) */
    if (k != 0.0f) n = simde_mm512_add_ps(n, simde_mm512_set1_ps(k));
    y = simde_mm512_scalef_ps(y, n);
    simde__mmask16 nan = simde_mm512_cmp_ps_mask(x, x, SIMDE_CMP_UNORD_Q);
    return simde_mm512_mask_mov_ps(y, nan, x);
}

/* sigmoid(zh + zl) for a double-float argument (zl = 0 for a float): with e =
 * exp(-|z|) <= 1, 1 / (1 + e) for z >= 0 and e / (1 + e) below, so neither side
 * loses its relative accuracy (1 / (1 + exp(-z)) overflows to 0 too early). */
#define FOKUS__SCALE_UP 0x1p64f
#define FOKUS__SCALE_DOWN 0x1p-64f

/* Returns sigmoid * 2^64 (FOKUS__SCALE_UP): a subnormal result keeps its bits until the
 * caller's final multiply by FOKUS__SCALE_DOWN. */
static inline simde__m512 fokus__v_sigmoid2(simde__m512 zh, simde__m512 zl)
{
    simde__m512 one = simde_mm512_set1_ps(1.0f);
    simde__mmask16 pos = simde_mm512_cmp_ps_mask(zh, simde_mm512_setzero_ps(), SIMDE_CMP_GE_OQ);
    simde__m512 e = fokus__v_exp_scaled(simde_mm512_sub_ps(simde_mm512_setzero_ps(), simde_mm512_abs_ps(zh)), 64.0f);
    simde__m512 corr = simde_mm512_mask_sub_ps(zl, pos, simde_mm512_setzero_ps(), zl); /* exp(-|zh + zl|) */
    e = simde_mm512_fmadd_ps(e, corr, e);
    simde__m512 num = simde_mm512_mask_mov_ps(e, pos, simde_mm512_set1_ps(FOKUS__SCALE_UP));
    simde__m512 den = simde_mm512_fmadd_ps(e, simde_mm512_set1_ps(FOKUS__SCALE_DOWN), one);
    return simde_mm512_div_ps(num, den);
}

static inline simde__m512 fokus_v_sigmoid_acc(simde__m512 x)
{
    return simde_mm512_mul_ps(fokus__v_sigmoid2(x, simde_mm512_setzero_ps()), simde_mm512_set1_ps(FOKUS__SCALE_DOWN));
}

static inline simde__m512 fokus_v_tanh_acc(simde__m512 x)
{
    simde__m512 ax = simde_mm512_abs_ps(x), one = simde_mm512_set1_ps(1.0f);
    /* Cephes' tanhf polynomial for |x| < 0.625 */
    simde__m512 z = simde_mm512_mul_ps(x, x);
    simde__m512 p = simde_mm512_set1_ps(-5.70498872745e-3f);
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(2.06390887954e-2f));
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(-5.37397155531e-2f));
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(1.33314422036e-1f));
    p = simde_mm512_fmadd_ps(p, z, simde_mm512_set1_ps(-3.33332819422e-1f));
    simde__m512 small = simde_mm512_fmadd_ps(simde_mm512_mul_ps(p, z), ax, ax);
    simde__m512 e = fokus_v_exp_acc(simde_mm512_add_ps(ax, ax));
    simde__m512 t = simde_mm512_sub_ps(one, simde_mm512_div_ps(simde_mm512_set1_ps(2.0f), simde_mm512_add_ps(e, one)));
    simde__mmask16 m = simde_mm512_cmp_ps_mask(ax, simde_mm512_set1_ps(0.625f), SIMDE_CMP_LT_OQ);
    t = simde_mm512_mask_mov_ps(t, m, small);
    /* both branches computed tanh(|x|); put the sign back (tanh(-0) = -0) */
    simde__m512i sign = simde_mm512_and_si512(simde_mm512_castps_si512(x), simde_mm512_set1_epi32((int)0x80000000u));
    return simde_mm512_castsi512_ps(simde_mm512_or_si512(simde_mm512_castps_si512(t), sign));
}

/* a Phi(-a) 2^64 for a = |x| >= 0 (Phi the normal CDF; Phi(-a) its lower tail),
 * relative error ~2 ulp:
 *   a < 3     a exp(-a^2/2) R(a - 1.5)
 *   a >= 3    exp(-a^2/2) T(1/a^2)
 * R and T are Chebyshev fits (mpmath, float coefficients; relative error 2.7e-8 and
 * 4.2e-8) of Phi(-a) exp(a^2/2) on [0, 3] and of a Phi(-a) exp(a^2/2) in 1/a^2 for
 * a >= 3. Near 0 nothing cancels: Phi(-a) ~ 1/2 is computed directly. exp(-a^2/2)
 * takes a^2 as h + l exactly (FMA), so the tail keeps its relative accuracy where
 * exp's argument is large; the 2^64 scale keeps the bits of results that end up
 * subnormal. The tail branch (a division) runs only when some lane needs it. */
static inline simde__m512 fokus__v_aphi_lower(simde__m512 a)
{
    simde__mmask16 r2 = simde_mm512_cmp_ps_mask(a, simde_mm512_set1_ps(3.0f), SIMDE_CMP_GE_OQ);
    /* Phi(-20) ~ 3e-89 is 0 in float; the clamp keeps a^2 finite (inf - inf = nan) */
    a = simde_mm512_min_ps(a, simde_mm512_set1_ps(20.0f));
    simde__m512 h = simde_mm512_mul_ps(a, a);
    simde__m512 l = simde_mm512_fmsub_ps(a, a, h); /* a^2 - h exactly */
    simde__m512 e = fokus__v_exp_scaled(simde_mm512_mul_ps(h, simde_mm512_set1_ps(-0.5f)), 64.0f);
    e = simde_mm512_fmadd_ps(e, simde_mm512_mul_ps(l, simde_mm512_set1_ps(-0.5f)), e); /* * exp(-l/2) */
    simde__m512 u = simde_mm512_sub_ps(a, simde_mm512_set1_ps(1.5f));
    simde__m512 p = simde_mm512_set1_ps(1.282497379e-07f);
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(-5.738294249e-07f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(1.554726964e-06f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(-6.294951618e-06f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(2.710653280e-05f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(-1.026901373e-04f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(3.683781542e-04f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(-1.265792176e-03f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(4.110377282e-03f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(-1.249713264e-02f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(3.518687189e-02f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(-9.027127177e-02f));
    p = simde_mm512_fmadd_ps(p, u, simde_mm512_set1_ps(2.057806700e-01f));
    simde__m512 q = simde_mm512_mul_ps(simde_mm512_mul_ps(a, e), p);
    if (r2) {
        simde__m512 v = simde_mm512_div_ps(simde_mm512_set1_ps(1.0f), h);
        simde__m512 t = simde_mm512_set1_ps(8.386467773e+03f);
        t = simde_mm512_fmadd_ps(t, v, simde_mm512_set1_ps(-5.059538086e+03f));
        t = simde_mm512_fmadd_ps(t, v, simde_mm512_set1_ps(1.412316772e+03f));
        t = simde_mm512_fmadd_ps(t, v, simde_mm512_set1_ps(-2.567467346e+02f));
        t = simde_mm512_fmadd_ps(t, v, simde_mm512_set1_ps(3.823172379e+01f));
        t = simde_mm512_fmadd_ps(t, v, simde_mm512_set1_ps(-5.915578365e+00f));
        t = simde_mm512_fmadd_ps(t, v, simde_mm512_set1_ps(1.196144938e+00f));
        t = simde_mm512_fmadd_ps(t, v, simde_mm512_set1_ps(-3.989395499e-01f));
        t = simde_mm512_fmadd_ps(t, v, simde_mm512_set1_ps(3.989422917e-01f));
        q = simde_mm512_mask_mov_ps(q, r2, simde_mm512_mul_ps(e, t));
    }
    return q;
}

/* The general form, every float: the tail of fokus_v_gelu_acc (|x| >= 3.9375, inf, nan). */
static inline simde__m512 fokus__v_gelu_general(simde__m512 x)
{
    /* x Phi(x) = -a Phi(-a) for x < 0, x - a Phi(-a) for x >= 0 (no cancellation:
     * a Phi(-a) <= x / 2) */
    simde__m512 aq = simde_mm512_mul_ps(fokus__v_aphi_lower(simde_mm512_abs_ps(x)), simde_mm512_set1_ps(FOKUS__SCALE_DOWN));
    simde__mmask16 pos = simde_mm512_cmp_ps_mask(x, simde_mm512_setzero_ps(), SIMDE_CMP_GE_OQ);
    simde__m512 negaq = simde_mm512_castsi512_ps(
        simde_mm512_xor_si512(simde_mm512_castps_si512(aq), simde_mm512_set1_epi32((int)0x80000000u))); /* -0 at -inf */
    simde__m512 y = simde_mm512_mask_sub_ps(negaq, pos, x, aq);
    simde__mmask16 nan = simde_mm512_cmp_ps_mask(x, x, SIMDE_CMP_UNORD_Q);
    return simde_mm512_mask_mov_ps(y, nan, x);
}

/* Phi(-a) = 0.5 erfc(a / sqrt 2) on the 32 intervals [k/8 - 1/16, k/8 + 1/16], k = 0..31,
 * as c0 + c1 v + ... + c5 v^5 in v = 8a - k (|v| <= 1/2): one table row per coefficient,
 * each looked up for 16 lanes at once by a two-register permute (k in the index's low 5
 * bits). Least-squares fits in relative error at 400 Chebyshev nodes per interval (numpy,
 * double), c0 rounded to float first and the rest refit around it: 5.2e-8 relative worst
 * with the float coefficients (about 0.9 ulp of Phi(-a), half of it c0's rounding). */
static const float fokus__gelu_tab[6][32] __attribute__((aligned(64))) = {
    {
        0.5f, 0.450261772f, 0.401293665f, 0.353830248f,
        0.308537543f, 0.265985519f, 0.22662735f, 0.190786958f,
        0.158655256f, 0.130294517f, 0.105649777f, 0.0845657215f,
        0.066807203f, 0.0520812795f, 0.0400591567f, 0.0303963609f,
        0.0227501318f, 0.0167933069f, 0.0122244731f, 0.00877447519f,
        0.00620966544f, 0.00433244836f, 0.00297976332f, 0.00202013738f,
        0.00134989806f, 0.000889025279f, 0.000577025057f, 0.000369078451f,
        0.000232629085f, 0.000144480728f, 8.84172841e-05f, 5.33123493e-05f,
    },
    {
        -0.0498677865f, -0.0494797118f, -0.0483335108f, -0.0464818925f,
        -0.0440081656f, -0.0410201177f, -0.0376421772f, -0.034006875f,
        -0.0302463416f, -0.0264845807f, -0.0228311364f, -0.0193765331f,
        -0.0161897f, -0.0133172832f, -0.0107846651f, -0.00859828386f,
        -0.00674887095f, -0.0052151233f, -0.00396745652f, -0.00297148759f,
        -0.00219103764f, -0.0015905227f, -0.00113669538f, -0.000799764937f,
        -0.000553981052f, -0.000377782242f, -0.000253631006f, -0.000167639853f,
        -0.00010908534f, -6.98826916e-05f, -4.40744589e-05f, -2.73664537e-05f,
    },
    {
        -3.7947076e-19f, 0.000386616011f, 0.000755357381f, 0.00108918222f,
        0.00137518928f, 0.00160251395f, 0.00176451728f, 0.00185967237f,
        0.00189036236f, 0.00186220417f, 0.00178363291f, 0.00166518521f,
        0.00151775673f, 0.00135253603f, 0.00117957522f, 0.00100762548f,
        0.000843611604f, 0.000692626112f, 0.00055791717f, 0.000441078679f,
        0.000342347776f, 0.000260945264f, 0.000195368179f, 0.000143709476f,
        0.000103871054f, 7.37859009e-05f, 5.15185384e-05f, 3.53615724e-05f,
        2.38623015e-05f, 1.5832753e-05f, 1.03299553e-05f, 6.62780894e-06f,
    },
    {
        0.000129863998f, 0.00012682777f, 0.000117966476f, 0.000104086372f,
        8.59719948e-05f, 6.50443399e-05f, 4.28731291e-05f, 2.0783853e-05f,
        1.27101449e-08f, -1.83232005e-05f, -3.3422788e-05f, -4.49472209e-05f,
        -5.26874937e-05f, -5.689717e-05f, -5.79266343e-05f, -5.63359281e-05f,
        -5.27269985e-05f, -4.77411959e-05f, -4.19692042e-05f, -3.59092082e-05f,
        -2.99542462e-05f, -2.43989543e-05f, -1.94249442e-05f, -1.51335926e-05f,
        -1.15409794e-05f, -8.62397155e-06f, -6.31581861e-06f, -4.53622351e-06f,
        -3.19578771e-06f, -2.20941479e-06f, -1.49930702e-06f, -9.98865971e-07f,
    },
    {
        -3.15692587e-17f, -1.67960479e-06f, -3.35462482e-06f, -3.29462796e-06f,
        -4.71047724e-06f, -5.97077769e-06f, -5.72549561e-06f, -5.15639613e-06f,
        -4.8123793e-06f, -4.22697349e-06f, -3.17915169e-06f, -2.4516587e-06f,
        -1.39437543e-06f, -6.32192723e-07f, 8.66363905e-08f, 6.30298302e-07f,
        1.08828999e-06f, 1.38943574e-06f, 1.51785105e-06f, 1.52066775e-06f,
        1.45415345e-06f, 1.32115929e-06f, 1.16476588e-06f, 9.79866854e-07f,
        8.12863789e-07f, 6.49203059e-07f, 5.08333756e-07f, 3.86402178e-07f,
        2.8795958e-07f, 2.09355974e-07f, 1.48916087e-07f, 1.03814244e-07f,
    },
    {
        -3.04121158e-07f, -2.53050757e-07f, -1.45542856e-07f, -4.03984927e-07f,
        -1.99200073e-07f, 9.59245483e-08f, 4.75440167e-08f, -1.90279739e-08f,
        8.22980724e-08f, 1.70630358e-07f, 1.145754e-07f, 2.08833782e-07f,
        1.36298183e-07f, 1.57729431e-07f, 1.35339747e-07f, 1.24796685e-07f,
        7.33005052e-08f, 2.43244163e-08f, 6.40166253e-10f, -9.3803374e-09f,
        -2.46155203e-08f, -2.93258857e-08f, -3.74471476e-08f, -3.11098454e-08f,
        -3.47394433e-08f, -2.96673743e-08f, -2.7015215e-08f, -2.17415028e-08f,
        -1.78905761e-08f, -1.38067344e-08f, -1.03452846e-08f, -7.65324693e-09f,
    },
};

/* The table reaches a < 31/8 + 1/16 = 3.9375 */
#define FOKUS__GELU_TAB_MAX 3.9375f

static inline simde__m512 fokus_v_gelu_acc(simde__m512 x)
{
    /* x Phi(x) = c - a Phi(-a), a = |x|, c = max(x, 0): -a Phi(-a) for x < 0 (all its
     * relative accuracy kept: no cancellation), x - a Phi(-a) for x >= 0 (a Phi(-a) <=
     * x / 2, so an error there costs the result at most half as much). max(0, x) gives
     * x when both are zero, so gelu(-0) = -0. */
    const simde__m512 shifter = simde_mm512_set1_ps(12582912.0f), eight = simde_mm512_set1_ps(8.0f);
    simde__m512 a = simde_mm512_abs_ps(x);
    /* t = 8a + 1.5 * 2^23 leaves k = round(8a) in its low mantissa bits: the permute index */
    simde__m512 t = simde_mm512_fmadd_ps(a, eight, shifter);
    simde__m512 v = simde_mm512_fmsub_ps(a, eight, simde_mm512_sub_ps(t, shifter)); /* exact */
    simde__m512i k = simde_mm512_castps_si512(t);
#define FOKUS__GELU_C(j) \
    simde_mm512_permutex2var_ps(simde_mm512_load_ps(fokus__gelu_tab[j]), k, simde_mm512_load_ps(fokus__gelu_tab[j] + 16))
    simde__m512 p = FOKUS__GELU_C(5);
    p = simde_mm512_fmadd_ps(p, v, FOKUS__GELU_C(4));
    p = simde_mm512_fmadd_ps(p, v, FOKUS__GELU_C(3));
    p = simde_mm512_fmadd_ps(p, v, FOKUS__GELU_C(2));
    p = simde_mm512_fmadd_ps(p, v, FOKUS__GELU_C(1));
    p = simde_mm512_fmadd_ps(p, v, FOKUS__GELU_C(0));
#undef FOKUS__GELU_C
    simde__m512 y = simde_mm512_fnmadd_ps(a, p, simde_mm512_max_ps(simde_mm512_setzero_ps(), x));
    /* beyond the table (rare for activations: 1 in 12000 for unit normal data), inf and
     * nan: the general form, only when some lane needs it */
    simde__mmask16 far = simde_mm512_cmp_ps_mask(a, simde_mm512_set1_ps(FOKUS__GELU_TAB_MAX), SIMDE_CMP_NLT_UQ);
    if (far) y = simde_mm512_mask_mov_ps(y, far, fokus__v_gelu_general(x));
    return y;
}

static inline simde__m512 fokus_v_gelu_tanh_acc(simde__m512 x)
{
    /* 0.5 x (1 + tanh(y)) = x sigmoid(z), z = 2y = x (c1 + c2 x^2), c1 = 2 sqrt(2/pi),
     * c2 = 0.044715 c1. sigmoid(z) ~ exp(z) for z << 0 turns an error d in z into a
     * relative error |z| d of the result, so z is formed in double-float (hi + lo,
     * exact products by FMA, c1 and c2 in two parts each): |z| up to ~90 costs
     * nothing. |x| is clamped to 100 for z (sigmoid has saturated long before). */
    simde__m512 xz = simde_mm512_min_ps(simde_mm512_max_ps(x, simde_mm512_set1_ps(-100.0f)), simde_mm512_set1_ps(100.0f));
    const simde__m512 c1h = simde_mm512_set1_ps(0x1.9884540000000p+0f), c1l = simde_mm512_set1_ps(-0x1.8579360000000p-25f);
    const simde__m512 c2h = simde_mm512_set1_ps(0x1.2444f20000000p-4f), c2l = simde_mm512_set1_ps(0x1.49b16a0000000p-29f);
    simde__m512 h = simde_mm512_mul_ps(xz, xz);
    simde__m512 l = simde_mm512_fmsub_ps(xz, xz, h);
    simde__m512 p = simde_mm512_mul_ps(c2h, h);
    simde__m512 pl = simde_mm512_fmsub_ps(c2h, h, p);
    pl = simde_mm512_fmadd_ps(c2h, l, simde_mm512_fmadd_ps(c2l, h, pl));
    /* w = c1 + p as a two-sum (exact: s + err) */
    simde__m512 sw = simde_mm512_add_ps(c1h, p);
    simde__m512 bb = simde_mm512_sub_ps(sw, c1h);
    simde__m512 err = simde_mm512_add_ps(simde_mm512_sub_ps(c1h, simde_mm512_sub_ps(sw, bb)), simde_mm512_sub_ps(p, bb));
    simde__m512 wl = simde_mm512_add_ps(simde_mm512_add_ps(err, pl), c1l);
    simde__m512 zh = simde_mm512_mul_ps(xz, sw);
    simde__m512 zl = simde_mm512_fmadd_ps(xz, wl, simde_mm512_fmsub_ps(xz, sw, zh));
    /* the 2^64 scale comes off before the product for x >= 0 (x 2^64 could overflow),
     * after it for x < 0 (where the result may be subnormal) */
    simde__m512 sg = fokus__v_sigmoid2(zh, zl), down = simde_mm512_set1_ps(FOKUS__SCALE_DOWN);
    simde__mmask16 pos = simde_mm512_cmp_ps_mask(x, simde_mm512_setzero_ps(), SIMDE_CMP_GE_OQ);
    simde__m512 y = simde_mm512_mul_ps(x, simde_mm512_mask_mul_ps(sg, pos, sg, down));
    y = simde_mm512_mask_mul_ps(y, (simde__mmask16)(pos ^ 0xffffu), y, down);
    simde__mmask16 ninf = simde_mm512_cmp_ps_mask(x, simde_mm512_set1_ps(-__builtin_inff()), SIMDE_CMP_EQ_OQ);
    return simde_mm512_mask_mov_ps(y, ninf, simde_mm512_set1_ps(-0.0f));
}

/* ------------------------------------------------------------------------------------
 * e^x for x in [-inf, 0], no NaN (softmax rows and columns, after x - max): within 2
 * ulp. n = round(x log2 e), r = x - n ln2 in two parts (Cody-Waite; n ln2_hi is exact
 * for |n| <= 2^9), e^r by a degree-6 polynomial (c0 = c1 = 1, the rest a relative
 * least-squares fit reweighted towards minimax, numpy: 1.7e-8 relative on |r| <= ln2/2
 * with the float coefficients), times 2^n by scalef (12 instructions). Gradual
 * underflow: subnormal results below -87.3, +0 from about -103.3 (and for -inf);
 * e^0 is exactly 1. A NaN input gives +0 (the clamp).
 * ---------------------------------------------------------------------------------- */
static inline simde__m512 fokus_v_exp_nonpos(simde__m512 x)
{
    const simde__m512 shifter = simde_mm512_set1_ps(12582912.0f); /* 1.5 * 2^23: adding it rounds */
    /* below -104 the result rounds to 0 anyway; max also turns NaN into -104 */
    simde__m512 xc = simde_mm512_max_ps(x, simde_mm512_set1_ps(-104.0f));
    simde__m512 t = simde_mm512_fmadd_ps(xc, simde_mm512_set1_ps(1.44269504088896341f), shifter);
    simde__m512 n = simde_mm512_sub_ps(t, shifter);
    simde__m512 r = simde_mm512_fnmadd_ps(n, simde_mm512_set1_ps(0.693359375f), xc);
    r = simde_mm512_fnmadd_ps(n, simde_mm512_set1_ps(-2.12194440e-4f), r);
    simde__m512 p = simde_mm512_set1_ps(0.00138437713f);
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(0.00837415457f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(0.0416680016f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(0.166664317f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(0.49999994f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f));
    /* p 2^n with one rounding (vscalefps): results below 2^-126 come out as the
     * correctly scaled subnormals, and 0 below about -103.3 */
    return simde_mm512_scalef_ps(p, n);
}

#endif /* FOKUS_SIMD_MATH_H */
