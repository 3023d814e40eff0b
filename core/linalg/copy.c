/* t:copy(src): src broadcast to the destination's shape and converted to its dtype. */
#include <string.h>

#include "linalg/eltwise_internal.h"

static void copy_kernel(const void *arg, float *out, const float *const *in, int64_t n, int64_t pos)
{
    (void)arg;
    (void)pos;
    if (out != in[0]) memcpy(out, in[0], (size_t)n * sizeof(float));
}

fokus_status fokus_copy(fokus_ctx *ctx, const fokus_tensor *dst, fokus_operand src, fokus_error *err)
{
    fokus_status st = fokus_out_check("copy", dst, dst->dtype, dst->ndim, dst->shape, NULL, 0, err);
    if (st != FOKUS_OK) return st;
    if (!src.t) {
        if (fokus_dtype_is_float(dst->dtype) || dst->dtype == FOKUS_BOOL) {
            fokus_operand ops[1] = {src};
            fokus_tensor v;
            float one = (float)src.value;
            /* a 0-d f32 spread over dst's shape (stride 0 everywhere) */
            int64_t zs[FOKUS_MAX_DIMS] = {0};
            fokus_tensor_borrow(&v, &one, FOKUS_F32, dst->ndim, dst->shape, zs);
            ops[0] = fokus_op_tensor(&v);
            return fokus_ew_apply(ctx, "copy", dst->dtype, 1, ops, copy_kernel, NULL, dst, NULL, err);
        }
        fokus_tensor d = *dst;
        return fokus_tensor_fill(&d, src.value, err);
    }
    /* src seen with dst's shape: right-aligned, size-1 dims stretch (stride 0) */
    const fokus_tensor *s = src.t;
    char a[128], b[128];
    if (s->ndim > dst->ndim)
        return fokus_fail(err, FOKUS_EINVAL, "copy: source %s has more dims than the destination %s",
                          fokus_shape_str(s, a, sizeof a), fokus_shape_str(dst, b, sizeof b));
    fokus_tensor v = *s;
    const int off = dst->ndim - s->ndim;
    for (int d = dst->ndim - 1; d >= 0; d--) {
        int j = d - off;
        int64_t have = j >= 0 ? s->shape[j] : 1;
        if (have != dst->shape[d] && have != 1)
            return fokus_fail(err, FOKUS_EINVAL, "copy: source %s does not broadcast to %s (dim %d: %lld vs %lld)",
                              fokus_shape_str(s, a, sizeof a), fokus_shape_str(dst, b, sizeof b), d + 1,
                              (long long)have, (long long)dst->shape[d]);
        v.shape[d] = dst->shape[d];
        v.stride[d] = have == dst->shape[d] && j >= 0 ? s->stride[j] : 0;
    }
    v.ndim = dst->ndim;
    if (fokus_dtype_is_float(dst->dtype) || dst->dtype == FOKUS_BOOL) {
        fokus_operand ops[1] = {fokus_op_tensor(&v)};
        return fokus_ew_apply(ctx, "copy", dst->dtype, 1, ops, copy_kernel, NULL, dst, NULL, err);
    }
    /* integer destinations: the base copy (exact between integers, range-checked from
     * floats), through a contiguous copy of the source when the two overlap */
    fokus_tensor d = *dst;
    if (!fokus_tensor_overlaps(dst, &v)) return fokus_tensor_copy(&d, &v, err);
    fokus_tensor tmp;
    st = fokus_tensor_contiguous_ctx(ctx, &tmp, &v, err);
    if (st != FOKUS_OK) return st;
    st = fokus_tensor_copy(&d, &tmp, err);
    fokus_tensor_release(&tmp);
    return st;
}
