/* Concatenation and stacking of tensors along one dimension (batching cond and uncond
 * for CFG, stacking latents): the result is filled through narrowed views, so any
 * strides and dtypes convert on the way. Contract: fokus_base.h. */
#include <stdlib.h>

#include "base/fokus_base.h"

/* cat, with `fn` naming the caller in messages (stack goes through here too). */
static fokus_status cat(const char *fn, fokus_ctx *ctx, const fokus_tensor *const *ts, size_t n, int dim,
                        const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    char a[96], b[96];
    if (n == 0 || !ts[0]) return fokus_fail(err, FOKUS_EINVAL, "%s: expected at least one tensor", fn);
    const fokus_tensor *t0 = ts[0];
    if (dim < 0 || dim >= t0->ndim)
        return fokus_fail(err, FOKUS_EINVAL, "%s: dimension %d out of range for a %d-d tensor", fn, dim + 1, t0->ndim);
    int64_t shape[FOKUS_MAX_DIMS];
    for (int d = 0; d < t0->ndim; d++) shape[d] = t0->shape[d];
    shape[dim] = 0;
    for (size_t i = 0; i < n; i++) {
        const fokus_tensor *t = ts[i];
        if (!t) return fokus_fail(err, FOKUS_EINVAL, "%s: tensor %zu is missing", fn, i + 1);
        bool ok = t->ndim == t0->ndim && (t->dtype == t0->dtype || (fokus_dtype_is_float(t->dtype) &&
                                                                     fokus_dtype_is_float(t0->dtype)));
        for (int d = 0; ok && d < t0->ndim; d++) ok = d == dim || t->shape[d] == t0->shape[d];
        if (!ok)
            return fokus_fail(err, FOKUS_EINVAL, "%s: tensor %zu is %s %s, tensor 1 is %s %s (only dimension %d may differ)",
                              fn, i + 1, fokus_dtype_name(t->dtype), fokus_shape_str(t, a, sizeof a),
                              fokus_dtype_name(t0->dtype), fokus_shape_str(t0, b, sizeof b), dim + 1);
        shape[dim] += t->shape[dim];
    }
    fokus_tensor r;
    fokus_status st;
    if (dst) {
        /* every input is checked for overlap with dst, however many there are */
        for (size_t i = 0; i < n; i++) {
            st = fokus_out_check(fn, dst, t0->dtype, t0->ndim, shape, &ts[i], 1, err);
            if (st != FOKUS_OK) return st;
        }
    }
    st = fokus_out_begin(ctx, fn, dst, t0->dtype, t0->ndim, shape, NULL, 0, &r, err);
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
    fokus_out_finish(dst, &r, out);
    return FOKUS_OK;
}

fokus_status fokus_tensor_cat_ctx(fokus_ctx *ctx, const fokus_tensor *const *ts, size_t n, int dim,
                                  const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    return cat("cat", ctx, ts, n, dim, dst, out, err);
}

fokus_status fokus_tensor_cat(fokus_tensor *out, const fokus_tensor *const *ts, size_t n, int dim,
                              fokus_error *err)
{
    return fokus_tensor_cat_ctx(NULL, ts, n, dim, NULL, out, err);
}

fokus_status fokus_tensor_stack_ctx(fokus_ctx *ctx, const fokus_tensor *const *ts, size_t n, int dim,
                                    const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    char a[96], b[96];
    if (n == 0 || !ts[0]) return fokus_fail(err, FOKUS_EINVAL, "stack: expected at least one tensor");
    const int nd = ts[0]->ndim;
    if (dim < 0 || dim > nd)
        return fokus_fail(err, FOKUS_EINVAL, "stack: dimension %d out of range 1..%d", dim + 1, nd + 1);
    for (size_t i = 1; i < n; i++)
        if (!ts[i] || !fokus_tensor_same_shape(ts[i], ts[0]))
            return ts[i] ? fokus_fail(err, FOKUS_EINVAL, "stack: tensor %zu is %s, tensor 1 is %s (shapes must match)", i + 1,
                                      fokus_shape_str(ts[i], a, sizeof a), fokus_shape_str(ts[0], b, sizeof b))
                         : fokus_fail(err, FOKUS_EINVAL, "stack: tensor %zu is missing", i + 1);
    fokus_tensor *views = calloc(n, sizeof *views);
    const fokus_tensor **ptrs = calloc(n, sizeof *ptrs);
    fokus_status st = views && ptrs ? FOKUS_OK : fokus_fail(err, FOKUS_ENOMEM, "stack: out of memory");
    for (size_t i = 0; i < n && st == FOKUS_OK; i++) {
        st = fokus_tensor_unsqueeze(&views[i], ts[i], dim, err);
        ptrs[i] = &views[i];
    }
    if (st == FOKUS_OK) st = cat("stack", ctx, ptrs, n, dim, dst, out, err);
    for (size_t i = 0; views && i < n; i++) fokus_tensor_release(&views[i]);
    free(views);
    free(ptrs);
    return st;
}
