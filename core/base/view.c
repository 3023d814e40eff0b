/* Views that add, drop or step through dimensions (squeeze, unsqueeze, slice): the
 * companions of tensor.c's permute / narrow / select / expand, sharing storage the
 * same way (one reference per view). Contract: fokus_base.h. */
#include <string.h>

#include "base/fokus_base.h"

static fokus_status bad_dim(fokus_error *err, const char *fn, int dim, int ndim)
{
    return fokus_fail(err, FOKUS_EINVAL, "%s: dim %d out of range for a %d-d tensor", fn, dim >= 0 ? dim + 1 : dim, ndim);
}

fokus_status fokus_tensor_squeeze(fokus_tensor *out, const fokus_tensor *t, int dim, bool all, fokus_error *err)
{
    memset(out, 0, sizeof *out);
    if (!all) {
        if (dim < -t->ndim || dim >= t->ndim) return bad_dim(err, "squeeze", dim, t->ndim);
        if (dim < 0) dim += t->ndim;
    }
    fokus_tensor r = *t;
    int k = 0;
    for (int d = 0; d < t->ndim; d++) {
        /* torch: squeezing a dim whose size is not 1 leaves the tensor as it is */
        if (t->shape[d] == 1 && (all || d == dim)) continue;
        r.shape[k] = t->shape[d];
        r.stride[k++] = t->stride[d];
    }
    for (int d = k; d < FOKUS_MAX_DIMS; d++) {
        r.shape[d] = 1;
        r.stride[d] = 0;
    }
    r.ndim = k;
    *out = r;
    fokus_tensor_retain(t);
    return FOKUS_OK;
}

fokus_status fokus_tensor_unsqueeze(fokus_tensor *out, const fokus_tensor *t, int dim, fokus_error *err)
{
    memset(out, 0, sizeof *out);
    if (t->ndim >= FOKUS_MAX_DIMS)
        return fokus_fail(err, FOKUS_EINVAL, "unsqueeze: a %d-d tensor has the most dims supported", t->ndim);
    if (dim < -(t->ndim + 1) || dim > t->ndim) return bad_dim(err, "unsqueeze", dim, t->ndim + 1);
    if (dim < 0) dim += t->ndim + 1;
    fokus_tensor r = *t;
    for (int d = t->ndim; d > dim; d--) {
        r.shape[d] = t->shape[d - 1];
        r.stride[d] = t->stride[d - 1];
    }
    /* the stride a contiguous tensor would have there, so contiguity is kept */
    r.shape[dim] = 1;
    r.stride[dim] = dim < t->ndim ? t->stride[dim] * t->shape[dim] : 1;
    r.ndim = t->ndim + 1;
    *out = r;
    fokus_tensor_retain(t);
    return FOKUS_OK;
}

fokus_status fokus_tensor_slice(fokus_tensor *out, const fokus_tensor *t, int dim, int64_t start, int64_t stop,
                                int64_t step, fokus_error *err)
{
    memset(out, 0, sizeof *out);
    if (dim < -t->ndim || dim >= t->ndim) return bad_dim(err, "slice", dim, t->ndim);
    if (dim < 0) dim += t->ndim;
    if (step < 1) return fokus_fail(err, FOKUS_EINVAL, "slice: step must be >= 1, got %lld", (long long)step);
    const int64_t size = t->shape[dim];
    if (start < 0 || start > size || stop < start || stop > size)
        return fokus_fail(err, FOKUS_EINVAL, "slice: range %lld..%lld outside dim %d of size %lld", (long long)start + 1,
                          (long long)stop, dim + 1, (long long)size);
    fokus_tensor r = *t;
    const int64_t len = (stop - start + step - 1) / step;
    r.shape[dim] = len;
    r.stride[dim] = t->stride[dim] * step;
    if (len > 0) r.data = (char *)t->data + start * t->stride[dim] * (int64_t)fokus_dtype_size(t->dtype);
    *out = r;
    fokus_tensor_retain(t);
    return FOKUS_OK;
}
