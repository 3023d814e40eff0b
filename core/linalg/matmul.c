/*
 * Tensor forms of the GEMM: fokus_matmul (batched, numpy broadcasting) and fokus_linear
 * (x · wᵀ + b). They only map tensors onto fokus_gemm calls: shapes are checked, the
 * right operand is always used where it lies (a [K,N] matrix, a transposed [N,K] view
 * or any strides all reach the packed GEMM: packing reads the layout it is given, so
 * no layout needs a copy or a slower path), the left one is copied to f32 only when
 * its rows are not unit-stride f32.
 * Weights in f16/bf16 are never converted here: fokus_gemm widens them while packing.
 */
#include <string.h>

#include "linalg/fokus_linalg.h"
#include "gemm_kernel.h"

/* Rows of a matrix view: `t` seen as [rows, K] (K = last dim). Succeeds when the last
 * dim is unit-stride (or K <= 1) and all leading dims collapse into one with a uniform
 * row stride ld >= K (the layout fokus_gemm's lda describes). */
static bool collapse_rows(const fokus_tensor *t, int lead_dims, int64_t K, int64_t *ld)
{
    if (K > 1 && t->stride[t->ndim - 1] != 1) return false;
    int64_t want = -1; /* stride the next outer non-1 dim must have */
    *ld = K;
    for (int i = lead_dims - 1; i >= 0; i--) {
        if (t->shape[i] == 1) continue;
        if (want < 0) {
            if (t->stride[i] < K) return false;
            *ld = t->stride[i];
        } else if (t->stride[i] != want) {
            return false;
        }
        want = t->stride[i] * t->shape[i];
    }
    return true;
}

/* How a 2-d matrix view with strides (s_row, s_col) over [rows, cols] maps onto a gemm
 * B operand: op(B) = [K = rows, N = cols]. */
static bool b_layout(int64_t rows, int64_t cols, int64_t s_row, int64_t s_col, bool *trans, int64_t *ld)
{
    if ((cols <= 1 || s_col == 1) && (rows <= 1 || s_row >= cols)) {
        *trans = false;
        *ld = rows <= 1 ? cols : s_row;
        return true;
    }
    if ((rows <= 1 || s_row == 1) && (cols <= 1 || s_col >= rows)) {
        *trans = true;
        *ld = cols <= 1 ? rows : s_col;
        return true;
    }
    return false;
}

static size_t dtype_bytes(fokus_dtype dt)
{
    return fokus_dtype_size(dt);
}

/* A B operand as the GEMM sees it: op(B) = [K, N] with a dense layout (trans, ld), or
 * any element strides (sk, sn) when neither dim is contiguous. */
typedef struct b_map {
    bool dense, trans;
    int64_t ld, sk, sn;
} b_map;

static b_map map_b(int64_t K, int64_t N, int64_t sk, int64_t sn)
{
    b_map m = {0};
    m.dense = b_layout(K, N, sk, sn, &m.trans, &m.ld);
    m.sk = sk;
    m.sn = sn;
    return m;
}

static fokus_status gemm_b(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const void *B, fokus_dtype dt, const b_map *m, const float *bias, float *C, int64_t ldc,
                           fokus_error *err)
{
    if (m->dense) return fokus_gemm(ctx, M, N, K, A, lda, B, dt, m->trans, m->ld, bias, false, C, ldc, err);
    return fokus_gemm_strided(ctx, M, N, K, A, lda, B, dt, m->sk, m->sn, bias, false, C, ldc, err);
}

/* Both forms: a new output (dst NULL, result in *out) or the caller's dst (see
 * fokus_out_begin). */
static fokus_status linear(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *w, const fokus_tensor *b,
                           const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    char s1[96], s2[96];
    if (!x || !w || (!out && !dst)) return fokus_fail(err, FOKUS_EINVAL, "linear: x, w and out must not be NULL");
    if (x->ndim < 1) return fokus_fail(err, FOKUS_EINVAL, "linear: x must have at least 1 dim, got a scalar");
    if (w->ndim != 2)
        return fokus_fail(err, FOKUS_EINVAL, "linear: w must be [N, K], got %s", fokus_shape_str(w, s1, sizeof s1));
    if (!fokus_dtype_is_float(x->dtype) || !fokus_dtype_is_float(w->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "linear: x and w must be float tensors, got %s and %s",
                          fokus_dtype_name(x->dtype), fokus_dtype_name(w->dtype));
    const int64_t N = w->shape[0], K = w->shape[1];
    if (x->shape[x->ndim - 1] != K)
        return fokus_fail(err, FOKUS_EINVAL, "linear: x %s has %lld features, w %s expects %lld",
                          fokus_shape_str(x, s1, sizeof s1), (long long)x->shape[x->ndim - 1],
                          fokus_shape_str(w, s2, sizeof s2), (long long)K);
    if (b) {
        if (b->ndim != 1 || b->shape[0] != N)
            return fokus_fail(err, FOKUS_EINVAL, "linear: b must be [%lld], got %s", (long long)N,
                              fokus_shape_str(b, s1, sizeof s1));
        if (!fokus_dtype_is_float(b->dtype))
            return fokus_fail(err, FOKUS_EINVAL, "linear: b must be a float tensor, got %s",
                              fokus_dtype_name(b->dtype));
    }

    fokus_tensor xs = {0}, ws = {0}, bs = {0}, res = {0};
    fokus_status st = FOKUS_OK;
    int64_t rows = 1;
    for (int i = 0; i < x->ndim - 1; i++) rows *= x->shape[i];

    /* x: used in place when it is f32 with collapsible rows, else an f32 copy */
    int64_t lda;
    if (x->dtype == FOKUS_F32 && collapse_rows(x, x->ndim - 1, K, &lda)) {
        xs = *x;
        fokus_tensor_retain(x);
    } else {
        st = fokus_tensor_f32_ctx(ctx, &xs, x, err);
        if (st != FOKUS_OK) goto fail;
        lda = K;
    }
    /* w: [N, K] as op(B) = wᵀ, i.e. a [K, N] matrix with strides (w.stride[1], w.stride[0]),
     * used in place whatever its strides (packed as it lies) */
    const b_map wm = map_b(K, N, w->stride[1], w->stride[0]);
    ws = *w;
    fokus_tensor_retain(w);
    if (b) {
        st = fokus_tensor_f32_ctx(ctx, &bs, b, err);
        if (st != FOKUS_OK) goto fail;
    }

    int64_t oshape[FOKUS_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    oshape[x->ndim - 1] = N;
    const fokus_tensor *ins[3] = {x, w, b};
    st = fokus_out_begin(ctx, "linear", dst, FOKUS_F32, x->ndim, oshape, ins, 3, &res, err);
    if (st != FOKUS_OK) goto fail;
    st = gemm_b(ctx, rows, N, K, (const float *)xs.data, lda, ws.data, ws.dtype, &wm,
                b ? (const float *)bs.data : NULL, (float *)res.data, N, err);
    if (st != FOKUS_OK) {
        fokus_fail_prefix(err, st, "linear");
        goto fail;
    }
    fokus_tensor_release(&xs);
    fokus_tensor_release(&ws);
    fokus_tensor_release(&bs);
    fokus_out_finish(dst, &res, out);
    return FOKUS_OK;
fail:
    fokus_tensor_release(&xs);
    fokus_tensor_release(&ws);
    fokus_tensor_release(&bs);
    fokus_tensor_release(&res);
    return st;
}

fokus_status fokus_linear(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *w, const fokus_tensor *b,
                          fokus_tensor *out, fokus_error *err)
{
    return linear(ctx, x, w, b, NULL, out, err);
}

fokus_status fokus_linear_into(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *w, const fokus_tensor *b,
                               const fokus_tensor *out, fokus_error *err)
{
    if (!out) return fokus_fail(err, FOKUS_EINVAL, "linear: out must not be NULL");
    return linear(ctx, x, w, b, out, NULL, err);
}

static fokus_status matmul(fokus_ctx *ctx, const fokus_tensor *a, const fokus_tensor *b, const fokus_tensor *dst,
                           fokus_tensor *out, fokus_error *err)
{
    char s1[96], s2[96];
    if (!a || !b || (!out && !dst)) return fokus_fail(err, FOKUS_EINVAL, "matmul: a, b and out must not be NULL");
    if (a->ndim < 2 || b->ndim < 2)
        return fokus_fail(err, FOKUS_EINVAL, "matmul: both operands need >= 2 dims, got %s and %s",
                          fokus_shape_str(a, s1, sizeof s1), fokus_shape_str(b, s2, sizeof s2));
    if (!fokus_dtype_is_float(a->dtype) || !fokus_dtype_is_float(b->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "matmul: a and b must be float tensors, got %s and %s",
                          fokus_dtype_name(a->dtype), fokus_dtype_name(b->dtype));
    const int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1];
    const int64_t N = b->shape[b->ndim - 1];
    if (b->shape[b->ndim - 2] != K)
        return fokus_fail(err, FOKUS_EINVAL, "matmul: a %s and b %s: inner dims %lld and %lld differ",
                          fokus_shape_str(a, s1, sizeof s1), fokus_shape_str(b, s2, sizeof s2), (long long)K,
                          (long long)b->shape[b->ndim - 2]);

    /* broadcast batch dims, aligned from the right */
    const int nd = a->ndim > b->ndim ? a->ndim : b->ndim, nb = nd - 2;
    int64_t bshape[FOKUS_MAX_DIMS], astr[FOKUS_MAX_DIMS], bstr[FOKUS_MAX_DIMS];
    int64_t batch = 1;
    for (int i = 0; i < nb; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return fokus_fail(err, FOKUS_EINVAL, "matmul: batch dims of a %s and b %s do not broadcast (%lld vs %lld)",
                              fokus_shape_str(a, s1, sizeof s1), fokus_shape_str(b, s2, sizeof s2), (long long)da,
                              (long long)db);
        bshape[i] = da == 1 ? db : da;
        batch *= bshape[i];
    }

    fokus_tensor as = {0}, res = {0};
    fokus_tensor bs = {0};
    fokus_status st = FOKUS_OK;

    /* a: f32 with unit-stride rows in place, else an f32 copy */
    if (a->dtype == FOKUS_F32 && (K <= 1 || a->stride[a->ndim - 1] == 1) &&
        (M <= 1 || a->stride[a->ndim - 2] >= K)) {
        as = *a;
        fokus_tensor_retain(a);
    } else {
        st = fokus_tensor_f32_ctx(ctx, &as, a, err);
        if (st != FOKUS_OK) goto fail;
    }
    const int64_t lda = M <= 1 ? K : as.stride[as.ndim - 2];
    /* b: in place (any float dtype, any strides): row- or column-contiguous matrices
     * are packed with vector loads, others element by element; never copied */
    const b_map bm = map_b(K, N, b->stride[b->ndim - 2], b->stride[b->ndim - 1]);
    bs = *b;
    fokus_tensor_retain(b);
    for (int i = 0; i < nb; i++) {
        int ia = i - (nd - as.ndim), ib = i - (nd - bs.ndim);
        astr[i] = ia >= 0 && as.shape[ia] != 1 ? as.stride[ia] : 0;
        bstr[i] = ib >= 0 && bs.shape[ib] != 1 ? bs.stride[ib] : 0;
    }

    int64_t oshape[FOKUS_MAX_DIMS];
    memcpy(oshape, bshape, sizeof(int64_t) * (size_t)nb);
    oshape[nb] = M;
    oshape[nb + 1] = N;
    const fokus_tensor *ins[2] = {a, b};
    st = fokus_out_begin(ctx, "matmul", dst, FOKUS_F32, nd, oshape, ins, 2, &res, err);
    if (st != FOKUS_OK) goto fail;

    /* One product for the whole batch when b is the same matrix for every batch entry
     * and a's rows collapse (x [B, T, K] · w [K, N]): a taller GEMM, one fork/join. */
    bool b_shared = true;
    for (int i = 0; i < nb; i++)
        if (bstr[i] != 0) b_shared = false;
    int64_t lda_all;
    if (batch > 1 && b_shared && collapse_rows(&as, as.ndim - 1, K, &lda_all)) {
        int64_t rows = 1;
        for (int i = 0; i < as.ndim - 1; i++) rows *= as.shape[i];
        if (rows == batch * M) {
            st = gemm_b(ctx, rows, N, K, (const float *)as.data, lda_all, bs.data, bs.dtype, &bm, NULL,
                        (float *)res.data, N, err);
            if (st != FOKUS_OK) goto gemm_fail;
            goto done;
        }
    }

    {
        const size_t besz = dtype_bytes(bs.dtype);
        int64_t idx[FOKUS_MAX_DIMS] = {0};
        for (int64_t t = 0; t < batch; t++) {
            int64_t aoff = 0, boff = 0;
            for (int i = 0; i < nb; i++) {
                aoff += idx[i] * astr[i];
                boff += idx[i] * bstr[i];
            }
            st = gemm_b(ctx, M, N, K, (const float *)as.data + aoff, lda, (const char *)bs.data + boff * (int64_t)besz,
                        bs.dtype, &bm, NULL, (float *)res.data + t * M * N, N, err);
            if (st != FOKUS_OK) goto gemm_fail;
            for (int i = nb - 1; i >= 0; i--) {
                if (++idx[i] < bshape[i]) break;
                idx[i] = 0;
            }
        }
    }
done:
    fokus_tensor_release(&as);
    fokus_tensor_release(&bs);
    fokus_out_finish(dst, &res, out);
    return FOKUS_OK;
gemm_fail:
    fokus_fail_prefix(err, st, "matmul");
fail:
    fokus_tensor_release(&as);
    fokus_tensor_release(&bs);
    fokus_tensor_release(&res);
    return st;
}

fokus_status fokus_matmul(fokus_ctx *ctx, const fokus_tensor *a, const fokus_tensor *b, fokus_tensor *out,
                          fokus_error *err)
{
    return matmul(ctx, a, b, NULL, out, err);
}

fokus_status fokus_matmul_into(fokus_ctx *ctx, const fokus_tensor *a, const fokus_tensor *b, const fokus_tensor *out,
                               fokus_error *err)
{
    if (!out) return fokus_fail(err, FOKUS_EINVAL, "matmul: out must not be NULL");
    return matmul(ctx, a, b, out, NULL, err);
}
