/* Concatenation of tensors along one dimension (batching cond and uncond for CFG,
 * stacking latents): a new contiguous tensor filled through narrowed views, so any
 * strides and dtypes convert on the way. Contract: fokus_base.h. */
#include "base/fokus_base.h"

fokus_status fokus_tensor_cat(fokus_tensor *out, const fokus_tensor *const *ts, size_t n, int dim,
                              fokus_error *err)
{
    char a[96], b[96];
    if (n == 0 || !ts[0]) return fokus_fail(err, FOKUS_EINVAL, "cat: expected at least one tensor");
    const fokus_tensor *t0 = ts[0];
    if (dim < 0 || dim >= t0->ndim)
        return fokus_fail(err, FOKUS_EINVAL, "cat: dimension %d out of range for a %d-d tensor", dim + 1, t0->ndim);
    int64_t shape[FOKUS_MAX_DIMS];
    for (int d = 0; d < t0->ndim; d++) shape[d] = t0->shape[d];
    shape[dim] = 0;
    for (size_t i = 0; i < n; i++) {
        const fokus_tensor *t = ts[i];
        if (!t) return fokus_fail(err, FOKUS_EINVAL, "cat: tensor %zu is missing", i + 1);
        bool ok = t->ndim == t0->ndim && (t->dtype == t0->dtype || (fokus_dtype_is_float(t->dtype) &&
                                                                     fokus_dtype_is_float(t0->dtype)));
        for (int d = 0; ok && d < t0->ndim; d++) ok = d == dim || t->shape[d] == t0->shape[d];
        if (!ok)
            return fokus_fail(err, FOKUS_EINVAL, "cat: tensor %zu is %s %s, tensor 1 is %s %s (only dimension %d may differ)",
                              i + 1, fokus_dtype_name(t->dtype), fokus_shape_str(t, a, sizeof a),
                              fokus_dtype_name(t0->dtype), fokus_shape_str(t0, b, sizeof b), dim + 1);
        shape[dim] += t->shape[dim];
    }
    fokus_tensor r;
    fokus_status st = fokus_tensor_empty(&r, t0->dtype, t0->ndim, shape, err);
    if (st != FOKUS_OK) return st;
    int64_t at = 0;
    for (size_t i = 0; i < n && st == FOKUS_OK; i++) {
        fokus_tensor part;
        st = fokus_tensor_narrow(&part, &r, dim, at, ts[i]->shape[dim], err);
        if (st == FOKUS_OK) st = fokus_tensor_copy(&part, ts[i], err);
        fokus_tensor_release(&part);
        at += ts[i]->shape[dim];
    }
    if (st != FOKUS_OK) {
        fokus_tensor_release(&r);
        return st;
    }
    *out = r;
    return FOKUS_OK;
}
