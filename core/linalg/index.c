/* index_select: whole slices of a tensor picked along one dim by a list of indices.
 * Each pick is one strided copy of a slice (any dtype and strides), so the work is
 * the copy itself; all indices are checked before anything is written.
 * Contract: fokus_linalg.h. */
#include <string.h>

#include "linalg/fokus_linalg.h"

fokus_status fokus_index_select(fokus_ctx *ctx, const fokus_tensor *x, int dim, const int64_t *idx, int64_t n,
                                const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    if (!x || (!x->data && fokus_tensor_numel(x) > 0)) return fokus_fail(err, FOKUS_EINVAL, "index_select: no input tensor");
    if (dim < -x->ndim || dim >= x->ndim)
        return fokus_fail(err, FOKUS_EINVAL, "index_select: dim %d out of range for a %d-d tensor",
                          dim >= 0 ? dim + 1 : dim, x->ndim);
    if (dim < 0) dim += x->ndim;
    if (n < 0 || (n > 0 && !idx)) return fokus_fail(err, FOKUS_EINVAL, "index_select: bad index list");
    const int64_t size = x->shape[dim];
    for (int64_t k = 0; k < n; k++)
        if (idx[k] < 0 || idx[k] >= size)
            return fokus_fail(err, FOKUS_EINVAL, "index_select: index %lld (entry %lld) out of range 1..%lld for dim %d",
                              (long long)idx[k] + 1, (long long)k + 1, (long long)size, dim + 1);
    int64_t shape[FOKUS_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = n;
    fokus_tensor res;
    const fokus_tensor *in[1] = {x};
    fokus_status st = fokus_out_begin(ctx, "index_select", dst, x->dtype, x->ndim, shape, in, 1, &res, err);
    if (st != FOKUS_OK) return st;
    for (int64_t k = 0; k < n && st == FOKUS_OK; k++) {
        fokus_tensor from = {0}, to = {0};
        st = fokus_tensor_select(&from, x, dim, idx[k], err);
        if (st == FOKUS_OK) st = fokus_tensor_select(&to, &res, dim, k, err);
        if (st == FOKUS_OK) st = fokus_tensor_copy(&to, &from, err);
        fokus_tensor_release(&from);
        fokus_tensor_release(&to);
    }
    if (st != FOKUS_OK) {
        fokus_tensor_release(&res);
        return st;
    }
    fokus_out_finish(dst, &res, out);
    return FOKUS_OK;
}
