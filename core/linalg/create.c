/* Creation functions: arange, linspace, full, rand. The float ones are engine kernels
 * of the element's flat index, so they are threaded and write strided destinations
 * in place; the values never depend on the split. */
#include <math.h>
#include <string.h>

#include "linalg/eltwise_internal.h"

/* ---------------------------------------------------------------- arange */

typedef struct seq_arg {
    double a, step;      /* arange: a + i step */
    double b;            /* linspace: the end, counted down from for the second half */
    int64_t n, half;
    bool linspace;
} seq_arg;

static void seq_kernel(const void *argp, float *out, const float *const *in, int64_t n, int64_t pos)
{
    (void)in;
    const seq_arg *s = argp;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = pos + i;
        double v = !s->linspace || k < s->half ? s->a + (double)k * s->step : s->b - (double)(s->n - 1 - k) * s->step;
        out[i] = (float)v;
    }
}

fokus_status fokus_arange(fokus_ctx *ctx, double start, double end, double step, fokus_dtype dt,
                          const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    if (!isfinite(start) || !isfinite(end) || !isfinite(step))
        return fokus_fail(err, FOKUS_EINVAL, "arange: start, end and step must be finite, got %g, %g, %g", start, end,
                          step);
    if (step == 0) return fokus_fail(err, FOKUS_EINVAL, "arange: step must not be 0");
    double count = ceil((end - start) / step);
    if (count < 0) count = 0;
    if (count > 1099511627776.0)
        return fokus_fail(err, FOKUS_EINVAL, "arange: %.0f elements (start %g, end %g, step %g) is too many", count,
                          start, end, step);
    int64_t n = (int64_t)count;
    if (dt == FOKUS_F32 || dt == FOKUS_F16 || dt == FOKUS_BF16) {
        seq_arg s = {start, step, end, n, n, false};
        return fokus_ew_create(ctx, "arange", dt, 1, &n, seq_kernel, &s, dst, out, err);
    }
    /* integer and bool dtypes: exact integer steps, both ends range-checked */
    if (dt != FOKUS_BOOL && (start != floor(start) || step != floor(step)))
        return fokus_fail(err, FOKUS_EINVAL, "arange: %s needs integer start and step, got %g and %g",
                          fokus_dtype_name(dt), start, step);
    double last = n ? start + (double)(n - 1) * step : start;
    double lo = dt == FOKUS_I32 ? -2147483648.0 : dt == FOKUS_I64 ? -9007199254740992.0 : 0.0;
    double hi = dt == FOKUS_I32 ? 2147483647.0 : dt == FOKUS_I64 ? 9007199254740992.0 : dt == FOKUS_U8 ? 255.0 : 1.0;
    if (n && !(start >= lo && start <= hi && last >= lo && last <= hi))
        return fokus_fail(err, FOKUS_ERANGE, "arange: values from %g to %g do not fit %s", start, last,
                          fokus_dtype_name(dt));
    fokus_tensor res;
    fokus_status st = fokus_out_begin(ctx, "arange", dst, dt, 1, &n, NULL, 0, &res, err);
    if (st != FOKUS_OK) return st;
    for (int64_t i = 0; i < n; i++) fokus_tensor_set(&res, i, start + (double)i * step);
    fokus_out_finish(dst, &res, out);
    return FOKUS_OK;
}

/* ---------------------------------------------------------------- linspace */

fokus_status fokus_linspace(fokus_ctx *ctx, double a, double b, int64_t n, const fokus_tensor *dst,
                            fokus_tensor *out, fokus_error *err)
{
    if (n < 0) return fokus_fail(err, FOKUS_EINVAL, "linspace: number of points must be >= 0, got %lld", (long long)n);
    if (!isfinite(a) || !isfinite(b))
        return fokus_fail(err, FOKUS_EINVAL, "linspace: ends must be finite, got %g and %g", a, b);
    /* one point is the start (as torch), not the end the second half counts from */
    seq_arg s = {a, n > 1 ? (b - a) / (double)(n - 1) : 0.0, b, n, n == 1 ? 1 : n / 2, true};
    return fokus_ew_create(ctx, "linspace", FOKUS_F32, 1, &n, seq_kernel, &s, dst, out, err);
}

/* ---------------------------------------------------------------- full */

fokus_status fokus_full(fokus_ctx *ctx, int ndim, const int64_t *shape, double v, fokus_dtype dt,
                        const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    if ((unsigned)dt >= FOKUS_NDTYPES) return fokus_fail(err, FOKUS_EINVAL, "full: unknown dtype %d", (int)dt);
    fokus_tensor res;
    fokus_status st = fokus_out_begin(ctx, "full", dst, dt, ndim, shape, NULL, 0, &res, err);
    if (st != FOKUS_OK) return st;
    st = fokus_tensor_fill(&res, v, err);
    if (st != FOKUS_OK) {
        fokus_tensor_release(&res);
        return fokus_fail_prefix(err, st, "full");
    }
    fokus_out_finish(dst, &res, out);
    return FOKUS_OK;
}

/* ---------------------------------------------------------------- rand */

typedef struct rand_arg {
    uint64_t seed;
    int bits;      /* random bits per value: the destination's significand */
} rand_arg;

static void rand_kernel(const void *argp, float *out, const float *const *in, int64_t n, int64_t pos)
{
    (void)in;
    const rand_arg *a = argp;
    uint32_t w[FOKUS_EW_BLOCK];
    fokus_rng r;
    fokus_rng_init(&r, a->seed);
    r.counter = (uint64_t)pos;
    fokus_rng_u32_n(&r, w, (size_t)n);
    /* the top `bits` bits as a multiple of 2^-bits: exact in the destination dtype, so
     * rounding can never reach 1.0 */
    const float scale = ldexpf(1.0f, -a->bits);
    for (int64_t i = 0; i < n; i++) out[i] = (float)(w[i] >> (32 - a->bits)) * scale;
}

fokus_status fokus_rand(fokus_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed, fokus_dtype dt,
                        const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    if (!fokus_dtype_is_float(dt))
        return fokus_fail(err, FOKUS_EINVAL, "rand: dtype must be f32, f16 or bf16, got %s", fokus_dtype_name(dt));
    rand_arg a = {seed, dt == FOKUS_F32 ? 24 : dt == FOKUS_F16 ? 11 : 8};
    return fokus_ew_create(ctx, "rand", dt, ndim, shape, rand_kernel, &a, dst, out, err);
}
