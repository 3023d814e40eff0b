/* LayerNorm and RMSNorm as tensor functions over the last dim: argument checks and
 * layout around the row kernels of ops.c (fokus_layernorm, fokus_rmsnorm), which do
 * the arithmetic. Contract: fokus_linalg.h. */
#include <math.h>
#include <string.h>

#include "linalg/fokus_linalg.h"

/* weight / bias as contiguous f32 [n] (a view when they already are). */
static fokus_status affine_f32(fokus_ctx *ctx, const char *fn, const char *what, const fokus_tensor *t, int64_t n,
                               fokus_tensor *out, fokus_error *err)
{
    memset(out, 0, sizeof *out);
    if (!t) return FOKUS_OK;
    char b[96];
    if (t->ndim != 1 || t->shape[0] != n || !fokus_dtype_is_float(t->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "%s: %s must be a float tensor [%lld], got %s %s", fn, what, (long long)n,
                          fokus_dtype_name(t->dtype), fokus_shape_str(t, b, sizeof b));
    return fokus_tensor_f32_ctx(ctx, out, t, err);
}

/* Whether x's rows (all dims but the last merged) are evenly spaced, unit-stride
 * f32 rows; *ld receives their spacing. */
static bool even_rows(const fokus_tensor *x, int64_t n, int64_t *ld)
{
    if (x->dtype != FOKUS_F32 || (n > 1 && x->stride[x->ndim - 1] != 1)) return false;
    int64_t step = -1, expect = 0;
    for (int d = x->ndim - 2; d >= 0; d--) {
        if (x->shape[d] == 1) continue;
        if (step < 0) {
            step = x->stride[d];
            expect = step * x->shape[d];
        } else {
            if (x->stride[d] != expect) return false;
            expect *= x->shape[d];
        }
    }
    *ld = step < 0 ? n : step;
    return *ld >= n || fokus_tensor_numel(x) / (n ? n : 1) <= 1;
}

static fokus_status norm(fokus_ctx *ctx, const char *fn, const fokus_tensor *x, const fokus_tensor *weight,
                         const fokus_tensor *bias, double eps, bool rms, const fokus_tensor *dst, fokus_tensor *out,
                         fokus_error *err)
{
    char b[96];
    if (!x || (!x->data && fokus_tensor_numel(x) > 0)) return fokus_fail(err, FOKUS_EINVAL, "%s: no input tensor", fn);
    if (x->ndim < 1)
        return fokus_fail(err, FOKUS_EINVAL, "%s: x must have at least 1 dim, got %s", fn, fokus_shape_str(x, b, sizeof b));
    if (!(eps >= 0) || isinf(eps)) return fokus_fail(err, FOKUS_EINVAL, "%s: eps must be a finite number >= 0, got %g", fn, eps);
    const int64_t n = x->shape[x->ndim - 1];
    fokus_tensor w, bb, res;
    fokus_status st = affine_f32(ctx, fn, "weight", weight, n, &w, err);
    if (st != FOKUS_OK) return st;
    st = affine_f32(ctx, fn, "bias", bias, n, &bb, err);
    if (st != FOKUS_OK) {
        fokus_tensor_release(&w);
        return st;
    }
    const fokus_tensor *in[3] = {x, weight, bias};
    st = fokus_out_begin(ctx, fn, dst, FOKUS_F32, x->ndim, x->shape, in, 3, &res, err);
    const int64_t rows = n ? fokus_tensor_numel(x) / n : 0;
    if (st == FOKUS_OK && rows > 0 && n > 0) {
        int64_t ld = n;
        const float *src = x->data;
        if (!even_rows(x, n, &ld)) {
            st = fokus_tensor_copy(&res, x, err); /* then normalised in place */
            src = res.data;
            ld = n;
        }
        if (st == FOKUS_OK) {
            if (rms) fokus_rmsnorm(ctx, res.data, n, src, ld, rows, n, w.data, (float)eps);
            else fokus_layernorm(ctx, res.data, n, src, ld, rows, n, w.data, bb.data, (float)eps);
        }
    }
    fokus_tensor_release(&w);
    fokus_tensor_release(&bb);
    if (st != FOKUS_OK) {
        fokus_tensor_release(&res);
        return st;
    }
    fokus_out_finish(dst, &res, out);
    return FOKUS_OK;
}

fokus_status fokus_layer_norm(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *weight,
                              const fokus_tensor *bias, double eps, const fokus_tensor *dst, fokus_tensor *out,
                              fokus_error *err)
{
    return norm(ctx, "layer_norm", x, weight, bias, eps, false, dst, out, err);
}

fokus_status fokus_rms_norm(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *weight, double eps,
                            const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    return norm(ctx, "rms_norm", x, weight, NULL, eps, true, dst, out, err);
}
