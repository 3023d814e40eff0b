/* The ulp-accurate vector functions of simd_math.h (log, sin, cos, ...) against double
 * precision: sweeps over the bit patterns of whole float ranges (every exponent, so
 * subnormals and the largest values are included) and the special values. The bounds
 * checked are the ones stated in simd_math.h. */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

#include "linalg/simd_math.h"

typedef simde__m512 (*vfn)(simde__m512);

/* |got - ref| in units of the float ulp at ref (the subnormal ulp below 2^-126);
 * specials must match exactly (nan for nan, the same infinity). */
static double ulp_err(float got, double ref)
{
    if (isnan(ref)) return isnan(got) ? 0 : 1e30;
    if (isinf(ref)) return got == ref ? 0 : 1e30;
    if (isnan(got) || isinf(got)) return 1e30;
    double a = fabs(ref);
    int e;
    frexp(a, &e);
    double u = a < 0x1p-126 ? 0x1p-149 : ldexp(1.0, e - 24);
    return fabs((double)got - ref) / u;
}

/* worst ulp error of f over the floats with bit patterns lo, lo+step, ... < hi (negated
 * when neg) */
static double sweep(vfn f, double (*ref)(double), uint32_t lo, uint32_t hi, uint32_t step, bool neg, float *at)
{
    double worst = 0;
    float in[16], out[16];
    int n = 0;
    for (uint64_t b = lo; b < hi; b += step) {
        uint32_t bits = (uint32_t)b;
        float x;
        memcpy(&x, &bits, 4);
        in[n++] = neg ? -x : x;
        if (n == 16 || b + step >= hi) {
            for (int i = n; i < 16; i++) in[i] = in[0];
            simde_mm512_storeu_ps(out, f(simde_mm512_loadu_ps(in)));
            for (int i = 0; i < n; i++) {
                double e = ulp_err(out[i], ref(in[i]));
                if (e > worst) {
                    worst = e;
                    *at = in[i];
                }
            }
            n = 0;
        }
    }
    return worst;
}

static void one(vfn f, float x, float *y)
{
    float in[16], out[16];
    for (int i = 0; i < 16; i++) in[i] = x;
    simde_mm512_storeu_ps(out, f(simde_mm512_loadu_ps(in)));
    *y = out[0];
}

static void test_log(void)
{
    float at = 0;
    double e = sweep(fokus_v_log, log, 0, 0x7f800000u, 211, false, &at);
    printf("# log: %.3f ulp worst (at %a) over every 211th positive float\n", e, at);
    CHECK_MSG(e < 1.0, "log %.3f ulp at %a", e, at);
    e = sweep(fokus_v_log, log, 0x3f000000u, 0x40000000u, 7, false, &at); /* [0.5, 2): the cancellation zone */
    CHECK_MSG(e < 1.0, "log near 1: %.3f ulp at %a", e, at);
    float y;
    one(fokus_v_log, 0.0f, &y); CHECK(isinf(y) && y < 0);
    one(fokus_v_log, -0.0f, &y); CHECK(isinf(y) && y < 0);
    one(fokus_v_log, INFINITY, &y); CHECK(isinf(y) && y > 0);
    one(fokus_v_log, -INFINITY, &y); CHECK(isnan(y));
    one(fokus_v_log, NAN, &y); CHECK(isnan(y));
    one(fokus_v_log, -1.0f, &y); CHECK(isnan(y));
    one(fokus_v_log, 1.0f, &y); CHECK(y == 0.0f);
    one(fokus_v_log, 0x1p-149f, &y); CHECK(ulp_err(y, log(0x1p-149)) < 1);
}

static void test_sincos(void)
{
    float at = 0;
    /* the vector reduction range, both signs, then the libm lanes up to the largest float */
    double e1 = sweep(fokus_v_sin, sin, 0, 0x47800000u, 101, false, &at);
    CHECK_MSG(e1 < 2.0, "sin %.3f ulp at %a", e1, at);
    double e2 = sweep(fokus_v_cos, cos, 0, 0x47800000u, 101, false, &at);
    CHECK_MSG(e2 < 2.0, "cos %.3f ulp at %a", e2, at);
    double e3 = sweep(fokus_v_sin, sin, 0, 0x47800000u, 307, true, &at);
    CHECK_MSG(e3 < 2.0, "sin(-x) %.3f ulp at %a", e3, at);
    double e4 = sweep(fokus_v_cos, cos, 0, 0x47800000u, 307, true, &at);
    CHECK_MSG(e4 < 2.0, "cos(-x) %.3f ulp at %a", e4, at);
    double e5 = sweep(fokus_v_sin, sin, 0x47800000u, 0x7f800000u, 1009, false, &at);
    CHECK_MSG(e5 < 1.0, "sin(large) %.3f ulp at %a", e5, at);
    double e6 = sweep(fokus_v_cos, cos, 0x47800000u, 0x7f800000u, 1009, true, &at);
    CHECK_MSG(e6 < 1.0, "cos(-large) %.3f ulp at %a", e6, at);
    printf("# sin %.3f / %.3f ulp, cos %.3f / %.3f ulp (|x| <= 65536 / larger)\n", e1 > e3 ? e1 : e3, e5,
           e2 > e4 ? e2 : e4, e6);
    float y;
    one(fokus_v_sin, -0.0f, &y); CHECK(y == 0 && signbit(y));
    one(fokus_v_cos, 0.0f, &y); CHECK(y == 1.0f);
    one(fokus_v_sin, INFINITY, &y); CHECK(isnan(y));
    one(fokus_v_cos, -INFINITY, &y); CHECK(isnan(y));
    one(fokus_v_sin, NAN, &y); CHECK(isnan(y));
    one(fokus_v_sin, 1e-40f, &y); CHECK(y == 1e-40f);
    one(fokus_v_sin, 3.0e38f, &y); CHECK(ulp_err(y, sin((double)3.0e38f)) <= 0.5);
}

int main(void)
{
    RUN(test_log);
    RUN(test_sincos);
    return check_summary("test_simd_math");
}
