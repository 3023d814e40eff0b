/* Vectorised elementary functions for the element-wise model operations (16 floats at
 * a time through SIMDe). Accuracy, measured against double precision in
 * tests/c/test_ops.c:
 *   fokus_v_exp      relative error < 3e-7 on [-87, 88]; 0 below -104, +inf above 88.72
 *   fokus_v_sigmoid  absolute error < 3e-7
 *   fokus_v_erf      absolute error < 2e-7 (Abramowitz & Stegun 7.1.26 with a vector exp)
 *   fokus_v_tanh     absolute error < 4e-7
 * These feed activations whose results are compared at 1e-4 relative, so a few ulps
 * are plenty; the attention kernel keeps its own exp tuned for its inner loop. */
#ifndef FOKUS_VMATH_H
#define FOKUS_VMATH_H

#include <simde/x86/avx512.h>

static inline simde__m512 fokus_v_exp(simde__m512 x)
{
    /* exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln2 / 2; Cody-Waite split of
     * ln 2 keeps r exact, a degree-6 Taylor polynomial covers the reduced range. */
    x = simde_mm512_max_ps(simde_mm512_min_ps(x, simde_mm512_set1_ps(88.72283f)), simde_mm512_set1_ps(-104.0f));
    simde__m512 n = simde_mm512_roundscale_ps(simde_mm512_mul_ps(x, simde_mm512_set1_ps(1.44269504088896341f)),
                                              SIMDE_MM_FROUND_TO_NEAREST_INT | SIMDE_MM_FROUND_NO_EXC);
    simde__m512 r = simde_mm512_fnmadd_ps(n, simde_mm512_set1_ps(0.693145751953125f), x);
    r = simde_mm512_fnmadd_ps(n, simde_mm512_set1_ps(1.428606765330187045e-6f), r);
    simde__m512 p = simde_mm512_set1_ps(1.0f / 720);
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f / 120));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f / 24));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f / 6));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(0.5f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f));
    return simde_mm512_scalef_ps(p, n);
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

#endif
