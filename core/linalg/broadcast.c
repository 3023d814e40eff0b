/* N-d broadcast iteration for the element-wise ops: shapes, strided runs, blocks,
 * dtype widening and narrowing, threads, destinations (see eltwise_internal.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <simde/x86/avx.h>

#include "linalg/eltwise_internal.h"

/* Elements per parallel chunk: 64K floats (256 KiB) amortise a dispatch many times
 * over, and a 16M-element op still gives every worker dozens of chunks to balance. */
#define EW_GRAIN ((int64_t)1 << 16)

/* Results of at least this many bytes are written with non-temporal stores: they
 * cannot stay in the caches anyway, and streaming them spares the read of every
 * destination line before its write (a third less memory traffic for a unary op). */
#define EW_STREAM_BYTES ((int64_t)32 << 20)

/* ---------------------------------------------------------------- shapes */

fokus_status fokus_broadcast_shape(const char *fn, int n, const fokus_tensor *const *ts, int *ndim,
                                   int64_t shape[FOKUS_MAX_DIMS], fokus_error *err)
{
    int nd = 0;
    for (int i = 0; i < n; i++)
        if (ts[i] && ts[i]->ndim > nd) nd = ts[i]->ndim;
    for (int d = 0; d < nd; d++) {
        int64_t size = 1;
        int first = -1; /* operand that set size (> 1) */
        for (int i = 0; i < n; i++) {
            if (!ts[i]) continue;
            int j = d - (nd - ts[i]->ndim);
            int64_t s = j >= 0 ? ts[i]->shape[j] : 1;
            if (s == 1) continue;
            if (size == 1) {
                size = s;
                first = i;
            } else if (s != size) {
                /* "shapes 2x3 and 4x3" or "shapes 2x3, 4x3 and 3" (scalars as "scalar") */
                char msg[FOKUS_ERRMSG_MAX], b[128];
                size_t len = 0;
                int count = 0;
                for (int k = 0; k < n; k++) count += ts[k] != NULL;
                int seen = 0;
                for (int k = 0; k < n && len < sizeof msg; k++) {
                    if (!ts[k]) continue;
                    const char *sep = seen == 0 ? "" : seen == count - 1 ? " and " : ", ";
                    len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s", sep,
                                            fokus_shape_str(ts[k], b, sizeof b));
                    seen++;
                }
                (void)first;
                return fokus_fail(err, FOKUS_EINVAL, "%s: shapes %s do not broadcast (dim %d: %lld vs %lld)", fn,
                                  msg, d + 1, (long long)size, (long long)s);
            }
        }
        shape[d] = size;
    }
    *ndim = nd;
    return FOKUS_OK;
}

/* t seen with `nd` dims of `shape` (t broadcasts to it): stride 0 where it stretches.
 * Shares t's data and storage pointer without a reference (the caller's t outlives it). */
static void expand_view(fokus_tensor *v, const fokus_tensor *t, int nd, const int64_t *shape)
{
    *v = *t;
    int off = nd - t->ndim;
    for (int d = nd - 1; d >= 0; d--) {
        int j = d - off;
        bool keep = j >= 0 && t->shape[j] == shape[d];
        v->shape[d] = shape[d];
        v->stride[d] = keep ? t->stride[j] : 0;
    }
    v->ndim = nd;
}

/* ---------------------------------------------------------------- widening and narrowing */

/* n elements of dtype dt at p, `stride` elements apart, as f32 into buf */
static void load_f32(float *buf, const char *p, fokus_dtype dt, int64_t stride, int64_t n)
{
    const int64_t es = (int64_t)fokus_dtype_size(dt);
    const int64_t bs = stride * es;
    switch (dt) {
    case FOKUS_F32:
        for (int64_t i = 0; i < n; i++) memcpy(&buf[i], p + i * bs, 4);
        break;
    case FOKUS_F16:
        if (stride == 1) {
            fokus_f16_to_f32_n(buf, (const uint16_t *)p, (size_t)n);
        } else {
            for (int64_t i = 0; i < n; i++) {
                uint16_t h;
                memcpy(&h, p + i * bs, 2);
                buf[i] = fokus_f16_to_f32(h);
            }
        }
        break;
    case FOKUS_BF16:
        if (stride == 1) {
            fokus_bf16_to_f32_n(buf, (const uint16_t *)p, (size_t)n);
        } else {
            for (int64_t i = 0; i < n; i++) {
                uint16_t h;
                memcpy(&h, p + i * bs, 2);
                buf[i] = fokus_bf16_to_f32(h);
            }
        }
        break;
    case FOKUS_I32:
        for (int64_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, p + i * bs, 4);
            buf[i] = (float)v;
        }
        break;
    case FOKUS_I64:
        for (int64_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, p + i * bs, 8);
            buf[i] = (float)v;
        }
        break;
    default: /* u8, bool; unit stride separately so the compiler vectorizes it */
        if (stride == 1) {
            const unsigned char *q = (const unsigned char *)p;
            for (int64_t i = 0; i < n; i++) buf[i] = (float)q[i];
        } else {
            for (int64_t i = 0; i < n; i++) buf[i] = (float)(unsigned char)p[i * bs];
        }
        break;
    }
}

/* n f32 values into dtype dt at p, `stride` elements apart. The engine only writes
 * float and bool results (integers go through fokus_tensor_copy, which checks range);
 * integer cases saturate so that even a misuse is defined behaviour. */
static void store_f32(char *p, fokus_dtype dt, int64_t stride, const float *buf, int64_t n)
{
    const int64_t es = (int64_t)fokus_dtype_size(dt);
    const int64_t bs = stride * es;
    switch (dt) {
    case FOKUS_F32:
        for (int64_t i = 0; i < n; i++) memcpy(p + i * bs, &buf[i], 4);
        break;
    case FOKUS_F16:
        if (stride == 1) {
            fokus_f32_to_f16_n((uint16_t *)p, buf, (size_t)n);
        } else {
            for (int64_t i = 0; i < n; i++) {
                uint16_t h = fokus_f32_to_f16(buf[i]);
                memcpy(p + i * bs, &h, 2);
            }
        }
        break;
    case FOKUS_BF16:
        if (stride == 1) {
            fokus_f32_to_bf16_n((uint16_t *)p, buf, (size_t)n);
        } else {
            for (int64_t i = 0; i < n; i++) {
                uint16_t h = fokus_f32_to_bf16(buf[i]);
                memcpy(p + i * bs, &h, 2);
            }
        }
        break;
    case FOKUS_BOOL:
        if (stride == 1) {
            unsigned char *q = (unsigned char *)p;
            for (int64_t i = 0; i < n; i++) q[i] = (unsigned char)(buf[i] != 0.0f);
        } else {
            for (int64_t i = 0; i < n; i++) p[i * bs] = (char)(buf[i] != 0.0f);
        }
        break;
    case FOKUS_U8:
        for (int64_t i = 0; i < n; i++) p[i * bs] = (char)(buf[i] >= 255.0f ? 255 : buf[i] > 0.0f ? (int)buf[i] : 0);
        break;
    case FOKUS_I32:
        for (int64_t i = 0; i < n; i++) {
            float f = buf[i];
            int32_t v = f >= 2147483520.0f ? INT32_MAX : f <= -2147483648.0f ? INT32_MIN : f == f ? (int32_t)f : 0;
            memcpy(p + i * bs, &v, 4);
        }
        break;
    case FOKUS_I64:
        for (int64_t i = 0; i < n; i++) {
            float f = buf[i];
            int64_t v = f >= 9.2233715e18f ? INT64_MAX : f <= -9.2233720e18f ? INT64_MIN : f == f ? (int64_t)f : 0;
            memcpy(p + i * bs, &v, 8);
        }
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- the run loop */

typedef struct ew_job {
    int nops;                         /* 1 + inputs; operand 0 is the output */
    int nd;                           /* coalesced dims, >= 1 */
    int64_t shape[FOKUS_MAX_DIMS];
    int64_t stride[1 + FOKUS_EW_MAXIN][FOKUS_MAX_DIMS]; /* elements */
    char *base[1 + FOKUS_EW_MAXIN];
    fokus_dtype dt[1 + FOKUS_EW_MAXIN];
    fokus_ew_kernel k;
    const void *arg;
    bool stream;                      /* non-temporal stores for direct f32 output */
} ew_job;

/* dst[0..n) = src[0..n) with 32-byte non-temporal stores (head and tail plain) */
static void stream_copy(float *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    while (i < n && ((uintptr_t)(dst + i) & 31) != 0) {
        dst[i] = src[i];
        i++;
    }
    for (; i + 8 <= n; i += 8) simde_mm256_stream_ps(dst + i, simde_mm256_loadu_ps(src + i));
    for (; i < n; i++) dst[i] = src[i];
}

/* One run of `len` elements of the innermost dim starting at flat index pos, operand
 * i at byte address p[i] with element stride s[i]. */
static void do_run(const ew_job *j, char *const *p, const int64_t *s, int64_t len, int64_t pos)
{
    float bufs[FOKUS_EW_MAXIN][FOKUS_EW_BLOCK];
    float obuf[FOKUS_EW_BLOCK];
    const float *in[FOKUS_EW_MAXIN];
    bool spread[FOKUS_EW_MAXIN] = {false};
    for (int64_t off = 0; off < len; off += FOKUS_EW_BLOCK) {
        int64_t n = len - off < FOKUS_EW_BLOCK ? len - off : FOKUS_EW_BLOCK;
        for (int i = 1; i < j->nops; i++) {
            float *b = bufs[i - 1];
            const fokus_dtype dt = j->dt[i];
            if (s[i] == 0) {
                /* a broadcast input: spread its one value over the block once per run */
                if (!spread[i - 1]) {
                    float v;
                    load_f32(&v, p[i], dt, 0, 1);
                    for (int64_t e = 0; e < FOKUS_EW_BLOCK; e++) b[e] = v;
                    spread[i - 1] = true;
                }
                in[i - 1] = b;
            } else if (dt == FOKUS_F32 && s[i] == 1) {
                in[i - 1] = (const float *)p[i] + off;
            } else {
                load_f32(b, p[i] + off * s[i] * (int64_t)fokus_dtype_size(dt), dt, s[i], n);
                in[i - 1] = b;
            }
        }
        const bool direct = j->dt[0] == FOKUS_F32 && s[0] == 1;
        float *o = direct && !j->stream ? (float *)p[0] + off : obuf;
        j->k(j->arg, o, in, n, pos + off);
        if (direct && j->stream)
            stream_copy((float *)p[0] + off, obuf, n); /* obuf stays in L1 */
        else if (!direct)
            store_f32(p[0] + off * s[0] * (int64_t)fokus_dtype_size(j->dt[0]), j->dt[0], s[0], obuf, n);
    }
}

static void ew_task(void *argp, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    const ew_job *j = argp;
    const int nd = j->nd, last = nd - 1;
    int64_t idx[FOKUS_MAX_DIMS];
    int64_t rem = begin;
    for (int d = last; d >= 0; d--) {
        idx[d] = rem % j->shape[d];
        rem /= j->shape[d];
    }
    int64_t pos = begin;
    while (pos < end) {
        char *p[1 + FOKUS_EW_MAXIN];
        int64_t s[1 + FOKUS_EW_MAXIN];
        for (int i = 0; i < j->nops; i++) {
            int64_t off = 0;
            for (int d = 0; d < nd; d++) off += idx[d] * j->stride[i][d];
            p[i] = j->base[i] + off * (int64_t)fokus_dtype_size(j->dt[i]);
            s[i] = j->stride[i][last];
        }
        int64_t len = j->shape[last] - idx[last];
        if (len > end - pos) len = end - pos;
        do_run(j, p, s, len, pos);
        pos += len;
        idx[last] += len;
        for (int d = last; d > 0 && idx[d] >= j->shape[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
    /* non-temporal stores are weakly ordered: make them visible before the pool's
     * completion signal */
    if (j->stream) simde_mm_sfence();
}

void fokus_ew_run(fokus_ctx *ctx, const fokus_tensor *out, int nin, const fokus_tensor *const *in,
                  fokus_ew_kernel k, const void *arg)
{
    const int64_t numel = fokus_tensor_numel(out);
    if (numel == 0) return;
    ew_job j;
    memset(&j, 0, sizeof j);
    j.nops = 1 + nin;
    j.k = k;
    j.arg = arg;
    const fokus_tensor *ops[1 + FOKUS_EW_MAXIN];
    ops[0] = out;
    for (int i = 0; i < nin; i++) ops[i + 1] = in[i];
    for (int i = 0; i < j.nops; i++) {
        j.base[i] = ops[i]->data;
        j.dt[i] = ops[i]->dtype;
    }
    /* Coalesce from the innermost dim outwards: drop size-1 dims, and merge dim d into
     * the run below it when every operand steps through both as through one. */
    int nd = 0;
    for (int d = out->ndim - 1; d >= 0; d--) {
        const int64_t size = out->shape[d];
        if (size == 1) continue;
        bool merge = nd > 0;
        for (int i = 0; merge && i < j.nops; i++)
            merge = ops[i]->stride[d] == j.stride[i][nd - 1] * j.shape[nd - 1];
        if (merge) {
            j.shape[nd - 1] *= size;
        } else {
            j.shape[nd] = size;
            for (int i = 0; i < j.nops; i++) j.stride[i][nd] = ops[i]->stride[d];
            nd++;
        }
    }
    if (nd == 0) { /* a single element */
        j.shape[0] = 1;
        nd = 1;
    }
    /* collected innermost first; the task wants outermost first */
    for (int a = 0, b = nd - 1; a < b; a++, b--) {
        int64_t t = j.shape[a];
        j.shape[a] = j.shape[b];
        j.shape[b] = t;
        for (int i = 0; i < j.nops; i++) {
            t = j.stride[i][a];
            j.stride[i][a] = j.stride[i][b];
            j.stride[i][b] = t;
        }
    }
    j.nd = nd;
    j.stream = out->dtype == FOKUS_F32 && numel * 4 >= EW_STREAM_BYTES;
    fokus_parallel(ctx, numel, EW_GRAIN, ew_task, &j);
}

/* ---------------------------------------------------------------- destinations */

/* Whether writing element e of dst before reading element e of v is safe for every e:
 * v is the same view of the same bytes (identical data, dtype and strides wherever the
 * shape is not 1). */
static bool same_view(const fokus_tensor *dst, const fokus_tensor *v)
{
    if (dst->data != v->data || dst->dtype != v->dtype || dst->ndim != v->ndim) return false;
    for (int d = 0; d < dst->ndim; d++)
        if (dst->shape[d] != 1 && dst->stride[d] != v->stride[d]) return false;
    return true;
}

static void copy_kernel(const void *arg, float *out, const float *const *in, int64_t n, int64_t pos)
{
    (void)arg;
    (void)pos;
    if (out != in[0]) memcpy(out, in[0], (size_t)n * sizeof(float));
}

static fokus_status run_into(fokus_ctx *ctx, const char *fn, fokus_dtype out_dt, int nd, const int64_t *shape,
                             int nin, const fokus_tensor *const *views, fokus_ew_kernel k, const void *arg,
                             const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    if (!dst) {
        fokus_status st = fokus_tensor_empty_ctx(ctx, out, out_dt, nd, shape, err);
        if (st != FOKUS_OK) return st;
        fokus_ew_run(ctx, out, nin, views, k, arg);
        return FOKUS_OK;
    }
    fokus_status st = fokus_out_check(fn, dst, out_dt, nd, shape, NULL, 0, err);
    if (st != FOKUS_OK) return st;
    bool clash = false;
    for (int i = 0; i < nin; i++)
        if (fokus_tensor_overlaps(dst, views[i]) && !same_view(dst, views[i])) clash = true;
    if (!clash) {
        fokus_ew_run(ctx, dst, nin, views, k, arg);
        return FOKUS_OK;
    }
    /* dst overlaps an input in a way element order could corrupt (a shifted or
     * transposed view of it): compute aside, then copy in */
    fokus_tensor tmp;
    st = fokus_tensor_empty_ctx(ctx, &tmp, out_dt, nd, shape, err);
    if (st != FOKUS_OK) return st;
    fokus_ew_run(ctx, &tmp, nin, views, k, arg);
    const fokus_tensor *src = &tmp;
    fokus_ew_run(ctx, dst, 1, &src, copy_kernel, NULL);
    fokus_tensor_release(&tmp);
    return FOKUS_OK;
}

fokus_status fokus_ew_apply(fokus_ctx *ctx, const char *fn, fokus_dtype out_dt, int nops, const fokus_operand *ops,
                            fokus_ew_kernel k, const void *arg, const fokus_tensor *dst, fokus_tensor *out,
                            fokus_error *err)
{
    const fokus_tensor *ts[FOKUS_EW_MAXIN];
    fokus_tensor scal[FOKUS_EW_MAXIN], views[FOKUS_EW_MAXIN];
    const fokus_tensor *vp[FOKUS_EW_MAXIN];
    float sv[FOKUS_EW_MAXIN];
    for (int i = 0; i < nops; i++) {
        if (ops[i].t) {
            if (!ops[i].t->data && fokus_tensor_numel(ops[i].t) > 0)
                return fokus_fail(err, FOKUS_EINVAL, "%s: argument %d has no data", fn, i + 1);
            ts[i] = ops[i].t;
        } else {
            sv[i] = (float)ops[i].value;
            fokus_tensor_borrow(&scal[i], &sv[i], FOKUS_F32, 0, NULL, NULL);
            ts[i] = &scal[i];
        }
    }
    /* scalars take no part in the message's shape list */
    const fokus_tensor *named[FOKUS_EW_MAXIN] = {NULL};
    for (int i = 0; i < nops; i++) named[i] = ops[i].t;
    int nd;
    int64_t shape[FOKUS_MAX_DIMS];
    fokus_status st = fokus_broadcast_shape(fn, nops, named, &nd, shape, err);
    if (st != FOKUS_OK) return st;
    for (int i = 0; i < nops; i++) {
        expand_view(&views[i], ts[i], nd, shape);
        vp[i] = &views[i];
    }
    return run_into(ctx, fn, out_dt, nd, shape, nops, vp, k, arg, dst, out, err);
}

fokus_status fokus_ew_create(fokus_ctx *ctx, const char *fn, fokus_dtype out_dt, int ndim, const int64_t *shape,
                             fokus_ew_kernel k, const void *arg, const fokus_tensor *dst, fokus_tensor *out,
                             fokus_error *err)
{
    if (ndim < 0 || ndim > FOKUS_MAX_DIMS)
        return fokus_fail(err, FOKUS_EINVAL, "%s: %d dimensions, at most %d supported", fn, ndim, FOKUS_MAX_DIMS);
    return run_into(ctx, fn, out_dt, ndim, shape, 0, NULL, k, arg, dst, out, err);
}
