/* Tensors: refcounted storage, strided views, copies and dtype conversions.
 *
 * Lifetime rule (one for every kind of view): a fokus_tensor that points into a
 * storage owns exactly one reference to it. Views take a new reference, so a parent
 * may be released before its views; the storage (a heap block, or a mapped file) goes
 * when the last view goes. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fokus_base.h"

struct fokus_storage {
    atomic_long refs;
    void *data;
    size_t bytes;
    void (*release)(void *user); /* NULL: data came from `alloc` (fokus_alloc if NULL) */
    void *user;
    fokus_allocator *alloc;      /* holds a reference while the block is out */
};

/* ---------------------------------------------------------------- dtypes */

static const struct {
    const char *name;
    size_t size;
} dtype_info[FOKUS_NDTYPES] = {
    [FOKUS_F32] = {"f32", 4}, [FOKUS_F16] = {"f16", 2}, [FOKUS_BF16] = {"bf16", 2},
    [FOKUS_I32] = {"i32", 4}, [FOKUS_I64] = {"i64", 8}, [FOKUS_U8] = {"u8", 1},
    [FOKUS_BOOL] = {"bool", 1},
};

size_t fokus_dtype_size(fokus_dtype dt)
{
    return (unsigned)dt < FOKUS_NDTYPES ? dtype_info[dt].size : 0;
}

const char *fokus_dtype_name(fokus_dtype dt)
{
    return (unsigned)dt < FOKUS_NDTYPES ? dtype_info[dt].name : "?";
}

bool fokus_dtype_parse(const char *name, fokus_dtype *out)
{
    for (int i = 0; i < FOKUS_NDTYPES; i++) {
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (fokus_dtype)i;
            return true;
        }
    }
    return false;
}

bool fokus_dtype_is_float(fokus_dtype dt)
{
    return dt == FOKUS_F32 || dt == FOKUS_F16 || dt == FOKUS_BF16;
}

/* ---------------------------------------------------------------- storage */

fokus_storage *fokus_storage_wrap(void *data, size_t bytes, void (*release)(void *user), void *user)
{
    fokus_storage *s = malloc(sizeof *s);
    if (!s) return NULL;
    atomic_init(&s->refs, 1);
    s->data = data;
    s->bytes = bytes;
    s->release = release;
    s->user = user;
    s->alloc = NULL;
    return s;
}

static fokus_storage *storage_alloc(fokus_allocator *a, size_t bytes, bool zero)
{
    void *p = fokus_allocator_alloc(a, bytes, zero);
    if (!p) return NULL;
    fokus_storage *s = fokus_storage_wrap(p, bytes, NULL, NULL);
    if (!s) {
        fokus_allocator_free(a, p, bytes);
        return NULL;
    }
    s->alloc = a;
    fokus_allocator_retain(a);
    return s;
}

void fokus_storage_retain(fokus_storage *s)
{
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void fokus_storage_release(fokus_storage *s)
{
    if (!s) return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    if (s->release) {
        s->release(s->user);
    } else {
        fokus_allocator_free(s->alloc, s->data, s->bytes);
        fokus_allocator_release(s->alloc);
    }
    free(s);
}

size_t fokus_storage_bytes(const fokus_storage *s)
{
    return s ? s->bytes : 0;
}

void *fokus_storage_data(const fokus_storage *s)
{
    return s ? s->data : NULL;
}

/* ---------------------------------------------------------------- creation */

/* Checks a shape and computes numel: EINVAL on a negative dim or too many dims, ERANGE
 * when the byte size overflows. */
static fokus_status shape_numel(int ndim, const int64_t *shape, size_t elsize, int64_t *numel,
                        fokus_error *err, const char *fn)
{
    if (ndim < 0 || ndim > FOKUS_MAX_DIMS) {
        return fokus_fail(err, FOKUS_EINVAL, "%s: %d dimensions, at most %d supported", fn, ndim,
                          FOKUS_MAX_DIMS);
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            return fokus_fail(err, FOKUS_EINVAL, "%s: dimension %d is negative (%lld)", fn, i + 1,
                              (long long)shape[i]);
        }
        if (shape[i] != 0 && n > (INT64_MAX / (int64_t)elsize) / shape[i]) {
            return fokus_fail(err, FOKUS_ERANGE, "%s: shape too large", fn);
        }
        n *= shape[i];
    }
    *numel = n;
    return FOKUS_OK;
}

static void set_contiguous(fokus_tensor *t, int ndim, const int64_t *shape)
{
    int64_t s = 1;
    t->ndim = ndim;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = s;
        s *= shape[i] ? shape[i] : 1;
    }
    for (int i = ndim; i < FOKUS_MAX_DIMS; i++) {
        t->shape[i] = 1;
        t->stride[i] = 0;
    }
}

static fokus_status tensor_make(fokus_allocator *a, fokus_tensor *out, fokus_dtype dt, int ndim,
                                const int64_t *shape, bool zero, fokus_error *err)
{
    int64_t numel;
    memset(out, 0, sizeof *out);
    if ((unsigned)dt >= FOKUS_NDTYPES) return fokus_fail(err, FOKUS_EINVAL, "tensor: bad dtype");
    fokus_status st = shape_numel(ndim, shape, fokus_dtype_size(dt), &numel, err, "tensor");
    if (st != FOKUS_OK) return st;
    size_t bytes = (size_t)numel * fokus_dtype_size(dt);
    fokus_storage *s = storage_alloc(a, bytes, zero);
    if (!s) return fokus_fail(err, FOKUS_ENOMEM, "tensor: cannot allocate %zu bytes", bytes);
    out->storage = s;
    out->data = s->data;
    out->dtype = dt;
    set_contiguous(out, ndim, shape);
    return FOKUS_OK;
}

fokus_status fokus_tensor_new(fokus_tensor *out, fokus_dtype dt, int ndim, const int64_t *shape,
                              fokus_error *err)
{
    return tensor_make(NULL, out, dt, ndim, shape, true, err);
}

fokus_status fokus_tensor_empty(fokus_tensor *out, fokus_dtype dt, int ndim, const int64_t *shape,
                                fokus_error *err)
{
    return tensor_make(NULL, out, dt, ndim, shape, false, err);
}

fokus_status fokus_tensor_new_ctx(fokus_ctx *ctx, fokus_tensor *out, fokus_dtype dt, int ndim,
                                  const int64_t *shape, fokus_error *err)
{
    return tensor_make(fokus_ctx_allocator(ctx), out, dt, ndim, shape, true, err);
}

fokus_status fokus_tensor_empty_ctx(fokus_ctx *ctx, fokus_tensor *out, fokus_dtype dt, int ndim,
                                    const int64_t *shape, fokus_error *err)
{
    return tensor_make(fokus_ctx_allocator(ctx), out, dt, ndim, shape, false, err);
}

fokus_status fokus_tensor_empty_alloc(fokus_allocator *a, fokus_tensor *out, fokus_dtype dt, int ndim,
                                      const int64_t *shape, fokus_error *err)
{
    return tensor_make(a, out, dt, ndim, shape, false, err);
}

fokus_status fokus_tensor_from_storage(fokus_tensor *out, fokus_storage *s, size_t byte_offset,
                                       fokus_dtype dt, int ndim, const int64_t *shape,
                                       fokus_error *err)
{
    int64_t numel;
    memset(out, 0, sizeof *out);
    if ((unsigned)dt >= FOKUS_NDTYPES) return fokus_fail(err, FOKUS_EINVAL, "tensor: bad dtype");
    fokus_status st = shape_numel(ndim, shape, fokus_dtype_size(dt), &numel, err, "tensor");
    if (st != FOKUS_OK) return st;
    size_t bytes = (size_t)numel * fokus_dtype_size(dt);
    if (byte_offset > s->bytes || bytes > s->bytes - byte_offset)
        return fokus_fail(err, FOKUS_ERANGE, "tensor: view of %zu bytes at %zu outside storage of %zu",
                          bytes, byte_offset, s->bytes);
    fokus_storage_retain(s);
    out->storage = s;
    out->data = (char *)s->data + byte_offset;
    out->dtype = dt;
    set_contiguous(out, ndim, shape);
    return FOKUS_OK;
}

void fokus_tensor_borrow(fokus_tensor *out, void *data, fokus_dtype dt, int ndim, const int64_t *shape,
                         const int64_t *strides)
{
    memset(out, 0, sizeof *out);
    out->data = data;
    out->dtype = dt;
    set_contiguous(out, ndim, shape);
    if (strides)
        for (int i = 0; i < ndim; i++) out->stride[i] = strides[i];
}

void fokus_tensor_retain(const fokus_tensor *t)
{
    if (t) fokus_storage_retain(t->storage);
}

void fokus_tensor_release(fokus_tensor *t)
{
    if (!t) return;
    fokus_storage_release(t->storage);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- queries */

int64_t fokus_tensor_numel(const fokus_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

bool fokus_tensor_is_contiguous(const fokus_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

bool fokus_tensor_same_shape(const fokus_tensor *a, const fokus_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *fokus_shape_str(const fokus_tensor *t, char *buf, size_t size)
{
    size_t off = 0;
    if (size == 0) return buf;
    buf[0] = 0;
    if (t->ndim == 0) {
        snprintf(buf, size, "scalar");
        return buf;
    }
    for (int i = 0; i < t->ndim && off < size; i++) {
        int n = snprintf(buf + off, size - off, i ? "x%lld" : "%lld", (long long)t->shape[i]);
        if (n < 0) break;
        off += (size_t)n;
    }
    return buf;
}

/* ---------------------------------------------------------------- views */

static void view_of(fokus_tensor *out, const fokus_tensor *t)
{
    *out = *t;
    fokus_tensor_retain(t);
}

fokus_status fokus_tensor_reshape(fokus_tensor *out, const fokus_tensor *t, int ndim,
                                  const int64_t *shape, fokus_error *err)
{
    return fokus_tensor_reshape_ctx(NULL, out, t, ndim, shape, err);
}

fokus_status fokus_tensor_reshape_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t, int ndim,
                                      const int64_t *shape, fokus_error *err)
{
    int64_t sh[FOKUS_MAX_DIMS];
    int infer = -1;
    int64_t known = 1, numel = fokus_tensor_numel(t);
    memset(out, 0, sizeof *out);
    if (ndim < 0 || ndim > FOKUS_MAX_DIMS)
        return fokus_fail(err, FOKUS_EINVAL, "reshape: %d dimensions, at most %d supported", ndim,
                          FOKUS_MAX_DIMS);
    for (int i = 0; i < ndim; i++) {
        sh[i] = shape[i];
        if (shape[i] == -1) {
            if (infer >= 0) return fokus_fail(err, FOKUS_EINVAL, "reshape: only one dimension can be -1");
            infer = i;
        } else if (shape[i] < 0) {
            return fokus_fail(err, FOKUS_EINVAL, "reshape: dimension %d is negative (%lld)", i + 1,
                              (long long)shape[i]);
        } else {
            if (shape[i] != 0 && known > INT64_MAX / shape[i])
                return fokus_fail(err, FOKUS_EINVAL, "reshape: shape too large");
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            return fokus_fail(err, FOKUS_EINVAL, "reshape: cannot infer dimension %d for %lld elements",
                              infer + 1, (long long)numel);
        sh[infer] = numel / known;
        known = numel;
    }
    if (known != numel) {
        char b[128];
        return fokus_fail(err, FOKUS_EINVAL, "reshape: shape has %lld elements, tensor %s has %lld",
                          (long long)known, fokus_shape_str(t, b, sizeof b), (long long)numel);
    }
    if (fokus_tensor_is_contiguous(t)) {
        view_of(out, t);
        set_contiguous(out, ndim, sh);
        return FOKUS_OK;
    }
    fokus_tensor c;
    fokus_status st = fokus_tensor_contiguous_ctx(ctx, &c, t, err);
    if (st != FOKUS_OK) return st;
    set_contiguous(&c, ndim, sh);
    *out = c;
    return FOKUS_OK;
}

fokus_status fokus_tensor_permute(fokus_tensor *out, const fokus_tensor *t, const int *perm,
                                  fokus_error *err)
{
    bool seen[FOKUS_MAX_DIMS] = {0};
    memset(out, 0, sizeof *out);
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || seen[perm[i]])
            return fokus_fail(err, FOKUS_EINVAL,
                              "permute: dims must be a permutation of 1..%d (entry %d is %d)", t->ndim,
                              i + 1, perm[i] + 1);
        seen[perm[i]] = true;
    }
    view_of(out, t);
    for (int i = 0; i < t->ndim; i++) {
        out->shape[i] = t->shape[perm[i]];
        out->stride[i] = t->stride[perm[i]];
    }
    return FOKUS_OK;
}

fokus_status fokus_tensor_narrow(fokus_tensor *out, const fokus_tensor *t, int dim, int64_t start,
                                 int64_t length, fokus_error *err)
{
    memset(out, 0, sizeof *out);
    if (dim < 0 || dim >= t->ndim)
        return fokus_fail(err, FOKUS_EINVAL, "narrow: dim %d out of range 1..%d", dim + 1, t->ndim);
    if (start < 0 || length < 0 || start > t->shape[dim] || length > t->shape[dim] - start)
        return fokus_fail(err, FOKUS_EINVAL, "narrow: range %lld+%lld outside dimension %d of size %lld",
                          (long long)start + 1, (long long)length, dim + 1, (long long)t->shape[dim]);
    view_of(out, t);
    out->shape[dim] = length;
    if (length > 0) out->data = (char *)t->data + start * t->stride[dim] * (int64_t)fokus_dtype_size(t->dtype);
    return FOKUS_OK;
}

fokus_status fokus_tensor_select(fokus_tensor *out, const fokus_tensor *t, int dim, int64_t i,
                                 fokus_error *err)
{
    memset(out, 0, sizeof *out);
    if (dim < 0 || dim >= t->ndim)
        return fokus_fail(err, FOKUS_EINVAL, "select: dim %d out of range 1..%d", dim + 1, t->ndim);
    if (i < 0 || i >= t->shape[dim])
        return fokus_fail(err, FOKUS_EINVAL, "select: index %lld outside dimension %d of size %lld",
                          (long long)i + 1, dim + 1, (long long)t->shape[dim]);
    view_of(out, t);
    out->data = (char *)t->data + i * t->stride[dim] * (int64_t)fokus_dtype_size(t->dtype);
    for (int k = dim; k < t->ndim - 1; k++) {
        out->shape[k] = t->shape[k + 1];
        out->stride[k] = t->stride[k + 1];
    }
    out->ndim = t->ndim - 1;
    out->shape[out->ndim] = 1;
    out->stride[out->ndim] = 0;
    return FOKUS_OK;
}

fokus_status fokus_tensor_expand(fokus_tensor *out, const fokus_tensor *t, int ndim,
                                 const int64_t *shape, fokus_error *err)
{
    memset(out, 0, sizeof *out);
    if (ndim < t->ndim || ndim > FOKUS_MAX_DIMS) {
        char b[128];
        return fokus_fail(err, FOKUS_EINVAL, "expand: cannot broadcast %s to %d dimensions",
                          fokus_shape_str(t, b, sizeof b), ndim);
    }
    fokus_tensor r = *t;
    int off = ndim - t->ndim;
    for (int i = ndim - 1; i >= 0; i--) {
        int j = i - off;
        int64_t have = j >= 0 ? t->shape[j] : 1;
        int64_t hstride = j >= 0 ? t->stride[j] : 0;
        if (have == shape[i]) {
            r.shape[i] = have;
            r.stride[i] = hstride;
        } else if (have == 1) {
            r.shape[i] = shape[i];
            r.stride[i] = 0;
        } else {
            char b[128];
            return fokus_fail(err, FOKUS_EINVAL,
                              "expand: %s does not broadcast to the target (dimension %d: %lld vs %lld)",
                              fokus_shape_str(t, b, sizeof b), i + 1, (long long)have,
                              (long long)shape[i]);
        }
    }
    r.ndim = ndim;
    view_of(out, &r);
    return FOKUS_OK;
}

/* ---------------------------------------------------------------- element access */

static inline double load_f64(const void *p, fokus_dtype dt)
{
    switch (dt) {
    case FOKUS_F32: return *(const float *)p;
    case FOKUS_F16: return fokus_f16_to_f32(*(const uint16_t *)p);
    case FOKUS_BF16: return fokus_bf16_to_f32(*(const uint16_t *)p);
    case FOKUS_I32: return *(const int32_t *)p;
    case FOKUS_I64: return (double)*(const int64_t *)p;
    case FOKUS_U8: return *(const uint8_t *)p;
    case FOKUS_BOOL: return *(const uint8_t *)p != 0;
    default: return 0;
    }
}

static inline int64_t load_i64(const void *p, fokus_dtype dt)
{
    switch (dt) {
    case FOKUS_I32: return *(const int32_t *)p;
    case FOKUS_I64: return *(const int64_t *)p;
    case FOKUS_U8: return *(const uint8_t *)p;
    case FOKUS_BOOL: return *(const uint8_t *)p != 0;
    default: {
        double d = load_f64(p, dt);
        return (isfinite(d) && d > -9.2233720368547758e18 && d < 9.2233720368547758e18) ? (int64_t)d : 0;
    }
    }
}

static inline void store_f64(void *p, fokus_dtype dt, double v)
{
    switch (dt) {
    case FOKUS_F32: *(float *)p = (float)v; break;
    case FOKUS_F16: *(uint16_t *)p = fokus_f32_to_f16((float)v); break;
    case FOKUS_BF16: *(uint16_t *)p = fokus_f32_to_bf16((float)v); break;
    case FOKUS_I32: *(int32_t *)p = (int32_t)v; break;
    case FOKUS_I64: *(int64_t *)p = (int64_t)v; break;
    case FOKUS_U8: *(uint8_t *)p = (uint8_t)v; break;
    case FOKUS_BOOL: *(uint8_t *)p = v != 0; break;
    default: break;
    }
}

static inline void store_i64(void *p, fokus_dtype dt, int64_t v)
{
    switch (dt) {
    case FOKUS_I32: *(int32_t *)p = (int32_t)v; break;
    case FOKUS_I64: *(int64_t *)p = v; break;
    case FOKUS_U8: *(uint8_t *)p = (uint8_t)v; break;
    case FOKUS_BOOL: *(uint8_t *)p = v != 0; break;
    default: store_f64(p, dt, (double)v); break;
    }
}

/* Byte offset of the element with row-major flat index `flat`. */
static int64_t flat_offset(const fokus_tensor *t, int64_t flat)
{
    int64_t off = 0;
    for (int i = t->ndim - 1; i >= 0; i--) {
        int64_t n = t->shape[i];
        off += (flat % n) * t->stride[i];
        flat /= n;
    }
    return off * (int64_t)fokus_dtype_size(t->dtype);
}

double fokus_tensor_get(const fokus_tensor *t, int64_t flat)
{
    return load_f64((const char *)t->data + flat_offset(t, flat), t->dtype);
}

int64_t fokus_tensor_get_i64(const fokus_tensor *t, int64_t flat)
{
    return load_i64((const char *)t->data + flat_offset(t, flat), t->dtype);
}

void fokus_tensor_set(fokus_tensor *t, int64_t flat, double v)
{
    store_f64((char *)t->data + flat_offset(t, flat), t->dtype, v);
}

/* ---------------------------------------------------------------- copies */

/* Converts n contiguous elements. Fast paths for the float conversions models use. */
static void convert_run(void *dst, fokus_dtype dd, const void *src, fokus_dtype sd, int64_t n)
{
    if (dd == sd) {
        memcpy(dst, src, (size_t)n * fokus_dtype_size(dd));
        return;
    }
    if (dd == FOKUS_F32 && sd == FOKUS_F16) return fokus_f16_to_f32_n(dst, src, (size_t)n);
    if (dd == FOKUS_F32 && sd == FOKUS_BF16) return fokus_bf16_to_f32_n(dst, src, (size_t)n);
    if (dd == FOKUS_F16 && sd == FOKUS_F32) return fokus_f32_to_f16_n(dst, src, (size_t)n);
    if (dd == FOKUS_BF16 && sd == FOKUS_F32) return fokus_f32_to_bf16_n(dst, src, (size_t)n);
    size_t ds = fokus_dtype_size(dd), ss = fokus_dtype_size(sd);
    bool ints = !fokus_dtype_is_float(dd) && !fokus_dtype_is_float(sd);
    for (int64_t i = 0; i < n; i++) {
        const char *s = (const char *)src + i * (int64_t)ss;
        char *d = (char *)dst + i * (int64_t)ds;
        if (ints)
            store_i64(d, dd, load_i64(s, sd));
        else
            store_f64(d, dd, load_f64(s, sd));
    }
}

/* Strided, converting copy; dst and src have the same shape. The innermost dimension
 * is handled as a run when both have unit stride there. */
static void copy_strided(fokus_tensor *dst, const fokus_tensor *src)
{
    int nd = dst->ndim;
    int64_t numel = fokus_tensor_numel(dst);
    if (numel == 0) return;
    size_t ds = fokus_dtype_size(dst->dtype), ss = fokus_dtype_size(src->dtype);
    if (fokus_tensor_is_contiguous(dst) && fokus_tensor_is_contiguous(src)) {
        convert_run(dst->data, dst->dtype, src->data, src->dtype, numel);
        return;
    }
    int64_t inner = nd ? dst->shape[nd - 1] : 1;
    bool run = nd && dst->stride[nd - 1] == 1 && src->stride[nd - 1] == 1;
    int64_t idx[FOKUS_MAX_DIMS] = {0};
    int outer_nd = nd ? nd - 1 : 0;
    for (int64_t done = 0; done < numel; done += inner) {
        int64_t doff = 0, soff = 0;
        for (int i = 0; i < outer_nd; i++) {
            doff += idx[i] * dst->stride[i];
            soff += idx[i] * src->stride[i];
        }
        char *d = (char *)dst->data + doff * (int64_t)ds;
        const char *s = (const char *)src->data + soff * (int64_t)ss;
        if (run) {
            convert_run(d, dst->dtype, s, src->dtype, inner);
        } else {
            int64_t dst_st = nd ? dst->stride[nd - 1] : 0, src_st = nd ? src->stride[nd - 1] : 0;
            for (int64_t j = 0; j < inner; j++)
                convert_run(d + j * dst_st * (int64_t)ds, dst->dtype, s + j * src_st * (int64_t)ss,
                            src->dtype, 1);
        }
        for (int i = outer_nd - 1; i >= 0; i--) {
            if (++idx[i] < dst->shape[i]) break;
            idx[i] = 0;
        }
    }
}

/* float -> integer conversion must not be undefined behaviour on nan/inf/huge values. */
static fokus_status check_int_range(const fokus_tensor *t, fokus_dtype dt, fokus_error *err)
{
    if (!fokus_dtype_is_float(t->dtype) || fokus_dtype_is_float(dt) || dt == FOKUS_BOOL) return FOKUS_OK;
    double lo = dt == FOKUS_I32 ? -2147483648.0 : dt == FOKUS_U8 ? 0.0 : -9.2233720368547758e18;
    double hi = dt == FOKUS_I32 ? 2147483647.0 : dt == FOKUS_U8 ? 255.0 : 9.2233720368547748e18;
    int64_t n = fokus_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = fokus_tensor_get(t, i);
        if (!(v > lo - 1.0 && v < hi + 1.0))
            return fokus_fail(err, FOKUS_ERANGE, "to: value %g at element %lld does not fit %s", v,
                              (long long)i + 1, fokus_dtype_name(dt));
    }
    return FOKUS_OK;
}

fokus_status fokus_tensor_copy(fokus_tensor *dst, const fokus_tensor *src, fokus_error *err)
{
    if (!fokus_tensor_same_shape(dst, src)) {
        char a[128], b[128];
        return fokus_fail(err, FOKUS_EINVAL, "copy: shapes differ (%s vs %s)",
                          fokus_shape_str(dst, a, sizeof a), fokus_shape_str(src, b, sizeof b));
    }
    fokus_status st = check_int_range(src, dst->dtype, err);
    if (st != FOKUS_OK) return st;
    copy_strided(dst, src);
    return FOKUS_OK;
}

fokus_status fokus_tensor_to_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t, fokus_dtype dt,
                                 fokus_error *err)
{
    memset(out, 0, sizeof *out);
    fokus_status st = check_int_range(t, dt, err);
    if (st != FOKUS_OK) return st;
    st = tensor_make(fokus_ctx_allocator(ctx), out, dt, t->ndim, t->shape, false, err);
    if (st != FOKUS_OK) return st;
    copy_strided(out, t);
    return FOKUS_OK;
}

fokus_status fokus_tensor_to(fokus_tensor *out, const fokus_tensor *t, fokus_dtype dt, fokus_error *err)
{
    return fokus_tensor_to_ctx(NULL, out, t, dt, err);
}

fokus_status fokus_tensor_contiguous(fokus_tensor *out, const fokus_tensor *t, fokus_error *err)
{
    return fokus_tensor_to_ctx(NULL, out, t, t->dtype, err);
}

fokus_status fokus_tensor_contiguous_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t,
                                         fokus_error *err)
{
    return fokus_tensor_to_ctx(ctx, out, t, t->dtype, err);
}

fokus_status fokus_tensor_clone(fokus_tensor *out, const fokus_tensor *t, fokus_error *err)
{
    return fokus_tensor_to_ctx(NULL, out, t, t->dtype, err);
}

fokus_status fokus_tensor_clone_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t, fokus_error *err)
{
    return fokus_tensor_to_ctx(ctx, out, t, t->dtype, err);
}

fokus_status fokus_tensor_f32_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t, fokus_error *err)
{
    if (t->dtype == FOKUS_F32 && fokus_tensor_is_contiguous(t)) {
        view_of(out, t);
        return FOKUS_OK;
    }
    return fokus_tensor_to_ctx(ctx, out, t, FOKUS_F32, err);
}

fokus_status fokus_tensor_f32(fokus_tensor *out, const fokus_tensor *t, fokus_error *err)
{
    return fokus_tensor_f32_ctx(NULL, out, t, err);
}

fokus_status fokus_tensor_randn(fokus_tensor *t, uint64_t seed, fokus_error *err)
{
    if (!fokus_dtype_is_float(t->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "randn: dtype must be f32, f16 or bf16, got %s",
                          fokus_dtype_name(t->dtype));
    fokus_rng r;
    fokus_rng_init(&r, seed);
    int64_t n = fokus_tensor_numel(t);
    if (t->dtype == FOKUS_F32 && fokus_tensor_is_contiguous(t)) {
        fokus_rng_normal_n(&r, t->data, (size_t)n);
        return FOKUS_OK;
    }
    fokus_tensor tmp;
    fokus_status st = fokus_tensor_empty(&tmp, FOKUS_F32, t->ndim, t->shape, err);
    if (st != FOKUS_OK) return st;
    fokus_rng_normal_n(&r, tmp.data, (size_t)n);
    copy_strided(t, &tmp);
    fokus_tensor_release(&tmp);
    return FOKUS_OK;
}

fokus_status fokus_tensor_fill(fokus_tensor *t, double v, fokus_error *err)
{
    unsigned char one[8] = {0};
    const size_t es = fokus_dtype_size(t->dtype);
    if (!fokus_dtype_is_float(t->dtype) && t->dtype != FOKUS_BOOL) {
        double lo = t->dtype == FOKUS_I32 ? -2147483648.0 : t->dtype == FOKUS_U8 ? 0.0 : -9.2233720368547758e18;
        double hi = t->dtype == FOKUS_I32 ? 2147483647.0 : t->dtype == FOKUS_U8 ? 255.0 : 9.2233720368547748e18;
        if (!(v >= lo && v <= hi) || v != floor(v))
            return fokus_fail(err, FOKUS_ERANGE, "fill: %g is not a value of %s", v, fokus_dtype_name(t->dtype));
    }
    store_f64(one, t->dtype, v);
    const int64_t n = fokus_tensor_numel(t);
    if (n == 0) return FOKUS_OK;
    if (fokus_tensor_is_contiguous(t)) {
        char *p = t->data;
        size_t total = (size_t)n * es, done = es;
        bool zero = true;
        for (size_t i = 0; i < es; i++) zero = zero && one[i] == 0;
        if (zero) {
            memset(p, 0, total);
            return FOKUS_OK;
        }
        /* doubling copies: log2(n) memcpy calls instead of n stores of es bytes */
        memcpy(p, one, es);
        while (done < total) {
            size_t c = done < total - done ? done : total - done;
            memcpy(p + done, p, c);
            done += c;
        }
        return FOKUS_OK;
    }
    int64_t zs[FOKUS_MAX_DIMS] = {0};
    fokus_tensor src;
    fokus_tensor_borrow(&src, one, t->dtype, t->ndim, t->shape, zs);
    copy_strided(t, &src);
    return FOKUS_OK;
}

/* ---------------------------------------------------------------- destinations (out) */

/* Lowest and one-past-highest byte a view touches (strides may be 0 or negative). */
static void byte_span(const fokus_tensor *t, intptr_t *lo, intptr_t *hi)
{
    int64_t mn = 0, mx = 0;
    for (int i = 0; i < t->ndim; i++) {
        int64_t e = (t->shape[i] - 1) * t->stride[i];
        if (e < 0) mn += e; else mx += e;
    }
    const int64_t es = (int64_t)fokus_dtype_size(t->dtype);
    *lo = (intptr_t)t->data + (intptr_t)(mn * es);
    *hi = (intptr_t)t->data + (intptr_t)((mx + 1) * es);
}

bool fokus_tensor_overlaps(const fokus_tensor *a, const fokus_tensor *b)
{
    if (!a || !b || !a->data || !b->data || fokus_tensor_numel(a) == 0 || fokus_tensor_numel(b) == 0)
        return false;
    intptr_t alo, ahi, blo, bhi;
    byte_span(a, &alo, &ahi);
    byte_span(b, &blo, &bhi);
    return alo < bhi && blo < ahi;
}

fokus_status fokus_out_check(const char *fn, const fokus_tensor *dst, fokus_dtype dt, int ndim,
                             const int64_t *shape, const fokus_tensor *const *inputs, int n_inputs,
                             fokus_error *err)
{
    char got[128], want[128];
    fokus_tensor w;
    fokus_tensor_borrow(&w, NULL, dt, ndim, shape, NULL);
    if (dst->dtype != dt || !fokus_tensor_same_shape(dst, &w))
        return fokus_fail(err, FOKUS_EINVAL, "%s: out must be %s %s, got %s %s", fn, fokus_dtype_name(dt),
                          fokus_shape_str(&w, want, sizeof want), fokus_dtype_name(dst->dtype),
                          fokus_shape_str(dst, got, sizeof got));
    if (!dst->data && fokus_tensor_numel(dst) > 0) return fokus_fail(err, FOKUS_EINVAL, "%s: out has no data", fn);
    for (int i = 0; i < dst->ndim; i++)
        if (dst->shape[i] > 1 && dst->stride[i] <= 0)
            return fokus_fail(err, FOKUS_EINVAL,
                              "%s: out must have distinct elements, got stride %lld in dim %d (a broadcast view)",
                              fn, (long long)dst->stride[i], i + 1);
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] && fokus_tensor_overlaps(dst, inputs[i]))
            return fokus_fail(err, FOKUS_EINVAL, "%s: out overlaps input %d (writing in place is not supported)",
                              fn, i + 1);
    return FOKUS_OK;
}

fokus_status fokus_out_begin(fokus_ctx *ctx, const char *fn, const fokus_tensor *dst, fokus_dtype dt, int ndim,
                             const int64_t *shape, const fokus_tensor *const *inputs, int n_inputs,
                             fokus_tensor *res, fokus_error *err)
{
    memset(res, 0, sizeof *res);
    if (!dst) return tensor_make(fokus_ctx_allocator(ctx), res, dt, ndim, shape, false, err);
    fokus_status st = fokus_out_check(fn, dst, dt, ndim, shape, inputs, n_inputs, err);
    if (st != FOKUS_OK) return st;
    if (fokus_tensor_is_contiguous(dst)) {
        view_of(res, dst);
        return FOKUS_OK;
    }
    return tensor_make(fokus_ctx_allocator(ctx), res, dt, ndim, shape, false, err);
}

void fokus_out_finish(const fokus_tensor *dst, fokus_tensor *res, fokus_tensor *out)
{
    if (!dst) {
        *out = *res;
        memset(res, 0, sizeof *res);
        return;
    }
    if (res->data != dst->data) copy_strided((fokus_tensor *)dst, res);
    fokus_tensor_release(res);
}
