/* softmax and log_softmax along one dimension. Contract: fokus_linalg.h.
 *
 * Rows (the dim is the last one): three passes over a row that stays in cache after
 * the first: the maximum (and whether the row holds a NaN), exp(x - max) kept and
 * summed, then the scaling (or, for log_softmax, x - max - log(sum) from the input).
 * Large outputs keep the exponentials in per-worker scratch and are written once with
 * streaming stores. Other dims: an online pass over blocks of 1024 neighbouring
 * columns (running maxima, sums rescaled when a maximum grows), then the writing
 * pass; both read whole rows of the block in order. Tails go through padded vectors,
 * so every element goes through the same vector code. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <simde/x86/avx.h>
#include <simde/x86/avx512.h>
#include <simde/x86/sse.h>

#include "linalg/fokus_linalg.h"

#define COLS 1024  /* columns per block: 4 KiB of each row */
#define RCHUNK 16  /* rows per step of the online column pass */
#define FLUSH 2048 /* elements per f32 partial sum before it is added in double */
#define MIN_WORK 32768
#define STREAM_BYTES (8.0 * 1024 * 1024) /* outputs above this are streamed */
#define STREAM_ROW 65536                  /* ... when a row's exponentials stay in L2 */

/* e^x within 2 ulp: n = round(x log2 e), r = x - n ln2 in two parts (Cody-Waite; n ln2_hi
 * is exact for |n| <= 2^9), e^r by its Taylor polynomial to degree 7 (truncation
 * 5e-9 relative on |r| <= ln2/2), times 2^n by an add into the exponent field.
 * x < -86.6 gives 0 (2^n would leave the normal range: a flush, not a subnormal),
 * x > 88.72 gives inf, NaN stays NaN. */
/* The shared core of both: xc already clamped into [-86.6, 88.72], no NaN. */
static inline simde__m512 exp_core_ps(simde__m512 xc)
{
    const simde__m512 shifter = simde_mm512_set1_ps(12582912.0f); /* 1.5 * 2^23: adding it rounds */
    simde__m512 t = simde_mm512_fmadd_ps(xc, simde_mm512_set1_ps(1.44269504088896341f), shifter);
    simde__m512 n = simde_mm512_sub_ps(t, shifter);
    simde__m512 r = simde_mm512_fnmadd_ps(n, simde_mm512_set1_ps(0.693359375f), xc);
    r = simde_mm512_fnmadd_ps(n, simde_mm512_set1_ps(-2.12194440e-4f), r);
    simde__m512 p = simde_mm512_set1_ps(1.0f / 5040);
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f / 720));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f / 120));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f / 24));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f / 6));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(0.5f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f));
    p = simde_mm512_fmadd_ps(p, r, simde_mm512_set1_ps(1.0f));
    /* the low mantissa bits of t hold n; the shift drops the shifter's own bits */
    simde__m512i e = simde_mm512_slli_epi32(simde_mm512_castps_si512(t), 23);
    return simde_mm512_castsi512_ps(simde_mm512_add_epi32(simde_mm512_castps_si512(p), e));
}

static inline simde__m512 exp_ps(simde__m512 x)
{
    const simde__m512 lo = simde_mm512_set1_ps(-86.6f), hi = simde_mm512_set1_ps(88.72f);
    simde__mmask16 under = simde_mm512_cmp_ps_mask(x, lo, SIMDE_CMP_LT_OQ);
    simde__mmask16 over = simde_mm512_cmp_ps_mask(x, hi, SIMDE_CMP_GT_OQ);
    simde__mmask16 nan = simde_mm512_cmp_ps_mask(x, x, SIMDE_CMP_UNORD_Q);
    simde__m512 y = exp_core_ps(simde_mm512_min_ps(simde_mm512_max_ps(x, lo), hi)); /* NaN -> lo */
    y = simde_mm512_mask_mov_ps(y, under, simde_mm512_setzero_ps());
    y = simde_mm512_mask_mov_ps(y, over, simde_mm512_set1_ps(INFINITY));
    return simde_mm512_mask_mov_ps(y, nan, x);
}

/* exp_ps for x in [-inf, 0] (no NaN): the rows' own path, once a row is known to be
 * free of NaN and infinite maxima, so the overflow and NaN fix-ups can go (the exp is
 * what bounds a softmax row in cache). Same polynomial, same results. */
static inline simde__m512 exp_nonpos_ps(simde__m512 x)
{
    const simde__m512 lo = simde_mm512_set1_ps(-86.6f);
    simde__mmask16 under = simde_mm512_cmp_ps_mask(x, lo, SIMDE_CMP_LT_OQ);
    simde__m512 y = exp_core_ps(simde_mm512_max_ps(x, lo));
    return simde_mm512_mask_mov_ps(y, under, simde_mm512_setzero_ps());
}

/* Partial vectors at the end of a run (this SIMDe has no masked loads and stores):
 * `left` < 16 lanes are real, the others hold `fill`. */
static inline simde__m512 load_part(const float *p, int64_t left, float fill)
{
    if (left >= 16) return simde_mm512_loadu_ps(p);
    float b[16];
    for (int i = 0; i < 16; i++) b[i] = i < left ? p[i] : fill;
    return simde_mm512_loadu_ps(b);
}

static inline void store_part(float *p, simde__m512 v, int64_t left)
{
    if (left >= 16) {
        simde_mm512_storeu_ps(p, v);
        return;
    }
    float b[16];
    simde_mm512_storeu_ps(b, v);
    memcpy(p, b, (size_t)left * sizeof *p);
}

/* 16 floats to a 64-byte aligned address with non-temporal stores (two 256-bit ones:
 * this SIMDe has no 512-bit stream): the line is written without being read first. */
static inline void stream16(float *p, simde__m512 v)
{
    simde_mm256_stream_ps(p, simde_mm512_castps512_ps256(v));
    simde_mm256_stream_ps(p + 8, simde_mm256_castpd_ps(simde_mm512_extractf64x4_pd(simde_mm512_castps_pd(v), 1)));
}

static double hsum_d(simde__m512 v)
{
    float t[16];
    simde_mm512_storeu_ps(t, v);
    double s = 0;
    for (int i = 0; i < 16; i++) s += t[i];
    return s;
}

static float hmax(simde__m512 v)
{
    float t[16];
    simde_mm512_storeu_ps(t, v);
    float m = t[0];
    for (int i = 1; i < 16; i++) m = t[i] > m ? t[i] : m;
    return m;
}

/* One row: x and y may be the same buffer. */
/* stream (a buffer of n floats, or NULL): the output is large and will not be read
 * soon, so pass 2 keeps the exponentials in that cache-resident buffer and pass 3
 * writes the results once with non-temporal stores: two memory transfers per element
 * instead of three (a cached store first reads the line it writes). */
static void softmax_row(float *y, const float *x, int64_t n, bool lg, float *stream)
{
    float *const e_out = stream ? stream : y; /* where pass 2 keeps exp(x - max) */
    const simde__m512 ninf = simde_mm512_set1_ps(-INFINITY);
    simde__m512 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    simde__mmask16 nan = 0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        simde__m512 v0 = simde_mm512_loadu_ps(x + i), v1 = simde_mm512_loadu_ps(x + i + 16);
        simde__m512 v2 = simde_mm512_loadu_ps(x + i + 32), v3 = simde_mm512_loadu_ps(x + i + 48);
        m0 = simde_mm512_max_ps(m0, v0);
        m1 = simde_mm512_max_ps(m1, v1);
        m2 = simde_mm512_max_ps(m2, v2);
        m3 = simde_mm512_max_ps(m3, v3);
        nan |= simde_mm512_cmp_ps_mask(v0, v1, SIMDE_CMP_UNORD_Q) | simde_mm512_cmp_ps_mask(v2, v3, SIMDE_CMP_UNORD_Q);
    }
    for (; i < n; i += 16) {
        simde__m512 v = load_part(x + i, n - i, -INFINITY);
        m0 = simde_mm512_max_ps(m0, v);
        nan |= simde_mm512_cmp_ps_mask(v, v, SIMDE_CMP_UNORD_Q);
    }
    float mx = hmax(simde_mm512_max_ps(simde_mm512_max_ps(m0, m1), simde_mm512_max_ps(m2, m3)));
    if (nan || isinf(mx)) {
        /* a NaN, a +inf (inf - inf) or a row of -inf (-inf + inf): every entry is NaN,
         * as torch's x - max makes it */
        for (i = 0; i < n; i++) y[i] = NAN;
        return;
    }
    const simde__m512 vm = simde_mm512_set1_ps(mx);
    double sum = 0;
    for (int64_t b = 0; b < n; b += FLUSH) {
        const int64_t e = b + FLUSH < n ? b + FLUSH : n;
        simde__m512 s0 = simde_mm512_setzero_ps(), s1 = s0;
        for (i = b; i + 32 <= e; i += 32) {
            simde__m512 e0 = exp_nonpos_ps(simde_mm512_sub_ps(simde_mm512_loadu_ps(x + i), vm));
            simde__m512 e1 = exp_nonpos_ps(simde_mm512_sub_ps(simde_mm512_loadu_ps(x + i + 16), vm));
            if (!lg) {
                simde_mm512_storeu_ps(e_out + i, e0);
                simde_mm512_storeu_ps(e_out + i + 16, e1);
            }
            s0 = simde_mm512_add_ps(s0, e0);
            s1 = simde_mm512_add_ps(s1, e1);
        }
        for (; i < e; i += 16) {
            /* padding lanes hold -inf: exp gives 0 there */
            simde__m512 e0 = exp_nonpos_ps(simde_mm512_sub_ps(load_part(x + i, e - i, -INFINITY), vm));
            if (!lg) store_part(e_out + i, e0, e - i);
            s0 = simde_mm512_add_ps(s0, e0);
        }
        sum += hsum_d(simde_mm512_add_ps(s0, s1));
    }
    const simde__m512 ls = simde_mm512_set1_ps((float)log(sum)), inv = simde_mm512_set1_ps((float)(1.0 / sum));
    if (stream) {
        /* cached stores up to the first 64-byte boundary, then whole lines streamed */
        int64_t head = (int64_t)(((64 - ((uintptr_t)y & 63)) & 63) / sizeof(float));
        if ((uintptr_t)y % sizeof(float) != 0 || head > n) head = n;
        for (i = 0; i < n;) {
            const bool whole = i >= head && i + 16 <= n;
            const int64_t left = whole ? 16 : (i < head ? head - i : n - i);
            simde__m512 v = lg ? simde_mm512_sub_ps(simde_mm512_sub_ps(load_part(x + i, left, 0), vm), ls)
                               : simde_mm512_mul_ps(load_part(stream + i, left, 0), inv);
            if (whole) stream16(y + i, v);
            else store_part(y + i, v, left);
            i += left < 16 ? left : 16;
        }
    } else if (lg) {
        for (i = 0; i < n; i += 16)
            store_part(y + i, simde_mm512_sub_ps(simde_mm512_sub_ps(load_part(x + i, n - i, 0), vm), ls), n - i);
    } else {
        for (i = 0; i < n; i += 16) store_part(y + i, simde_mm512_mul_ps(load_part(y + i, n - i, 0), inv), n - i);
    }
}

/* Columns [0, w) (w <= COLS) of n rows: input rows xs floats apart at x, output rows
 * ym floats apart at y (x == y, xs == ym: in place). Online, so that both passes read
 * whole rows of the block in order (a column walk would miss the TLB on every row):
 * pass 1 keeps each column's running maximum and the sum of exp(x - maximum), taking
 * RCHUNK rows at a time (their maximum first, then their exponentials; when a column's
 * maximum grows, its sum is rescaled once); pass 2 writes the results. */
static void softmax_cols(float *y, int64_t ym, const float *x, int64_t xs, int64_t n, int64_t w, bool lg)
{
    float mx[COLS], cm[COLS], acc[COLS], bad[COLS], fin[COLS];
    double sum[COLS];
    const simde__m512 ninf = simde_mm512_set1_ps(-INFINITY), one = simde_mm512_set1_ps(1.0f);
    for (int64_t j = 0; j < COLS; j++) {
        mx[j] = -INFINITY;
        bad[j] = 0;
        sum[j] = 0;
    }
    for (int64_t i0 = 0; i0 < n; i0 += RCHUNK) {
        const int64_t i1 = i0 + RCHUNK < n ? i0 + RCHUNK : n;
        memcpy(cm, mx, sizeof cm);
        for (int64_t i = i0; i < i1; i++) {
            const float *row = x + i * xs;
            for (int64_t j = 0; j < w; j += 16) {
                simde__m512 v = load_part(row + j, w - j, -INFINITY);
                simde_mm512_storeu_ps(cm + j, simde_mm512_max_ps(simde_mm512_loadu_ps(cm + j), v));
                simde__mmask16 nan = simde_mm512_cmp_ps_mask(v, v, SIMDE_CMP_UNORD_Q);
                simde_mm512_storeu_ps(bad + j, simde_mm512_mask_mov_ps(simde_mm512_loadu_ps(bad + j), nan, one));
            }
        }
        for (int64_t j = 0; j < w; j++) {
            if (cm[j] > mx[j] && sum[j] != 0) sum[j] *= exp((double)mx[j] - (double)cm[j]);
            acc[j] = 0;
        }
        for (int64_t i = i0; i < i1; i++) {
            const float *row = x + i * xs;
            for (int64_t j = 0; j < w; j += 16) {
                /* -inf - -inf (a column of -inf so far) gives a tiny value, not NaN; the
                 * rescale above clears it once a real maximum comes */
                simde__m512 d = simde_mm512_sub_ps(load_part(row + j, w - j, -INFINITY), simde_mm512_loadu_ps(cm + j));
                simde__m512 e = exp_nonpos_ps(simde_mm512_mask_mov_ps(d, simde_mm512_cmp_ps_mask(d, d, SIMDE_CMP_UNORD_Q), ninf));
                simde_mm512_storeu_ps(acc + j, simde_mm512_add_ps(simde_mm512_loadu_ps(acc + j), e));
            }
        }
        for (int64_t j = 0; j < w; j++) sum[j] += acc[j];
        memcpy(mx, cm, sizeof mx);
    }
    /* NaN anywhere, a +inf maximum or a column of -inf: NaN, as torch's x - max gives */
    for (int64_t j = 0; j < COLS; j++)
        fin[j] = j >= w ? 0 : (bad[j] != 0 || isinf(mx[j])) ? NAN : lg ? (float)log(sum[j]) : (float)(1.0 / sum[j]);
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * xs;
        float *out = y + i * ym;
        for (int64_t j = 0; j < w; j += 16) {
            simde__m512 f = simde_mm512_loadu_ps(fin + j);
            simde__m512 d = simde_mm512_sub_ps(load_part(row + j, w - j, 0), simde_mm512_loadu_ps(mx + j));
            simde__m512 v = lg ? simde_mm512_sub_ps(d, f) : simde_mm512_mul_ps(exp_nonpos_ps(d), f);
            store_part(out + j, v, w - j);
        }
    }
}

typedef struct sm_args {
    float *y;
    const char *x;           /* row case: input rows at offsets of the outer dims */
    int nd;
    int64_t shape[FOKUS_MAX_DIMS], stride[FOKUS_MAX_DIMS];
    int64_t n, m, ncb;       /* reduced length; column case: inner length and its blocks */
    int64_t cw, xs;          /* column case: block width, input row stride */
    bool log, stream;
    fokus_ctx *ctx;          /* its scratch holds the streamed rows' exponentials */
} sm_args;

static void row_task(void *argp, int64_t b, int64_t e, int worker)
{
    const sm_args *a = argp;
    float *buf = a->stream ? fokus_ctx_scratch(a->ctx, FOKUS_SCRATCH_TMP, worker, (size_t)a->n * sizeof(float)) : NULL;
    for (int64_t r = b; r < e; r++) {
        int64_t off = 0, q = r;
        for (int d = a->nd - 1; d >= 0; d--) {
            off += (q % a->shape[d]) * a->stride[d];
            q /= a->shape[d];
        }
        softmax_row(a->y + r * a->n, (const float *)a->x + off, a->n, a->log, buf);
    }
    if (a->stream) simde_mm_sfence(); /* the pool's completion does not order streaming stores */
}

static void col_task(void *argp, int64_t b, int64_t e, int worker)
{
    const sm_args *a = argp;
    for (int64_t it = b; it < e; it++) {
        const int64_t o = it / a->ncb, j0 = it % a->ncb * a->cw;
        const int64_t w = a->m - j0 < a->cw ? a->m - j0 : a->cw;
        int64_t off = 0, q = o;
        for (int d = a->nd - 1; d >= 0; d--) {
            off += (q % a->shape[d]) * a->stride[d];
            q /= a->shape[d];
        }
        softmax_cols(a->y + o * a->n * a->m + j0, a->m, (const float *)a->x + off + j0, a->xs, a->n, w, a->log);
    }
}

fokus_status fokus_softmax(fokus_ctx *ctx, const fokus_tensor *x, int dim, bool take_log, const fokus_tensor *dst,
                           fokus_tensor *out, fokus_error *err)
{
    const char *fn = take_log ? "log_softmax" : "softmax";
    if (!x || (!x->data && fokus_tensor_numel(x) > 0)) return fokus_fail(err, FOKUS_EINVAL, "%s: no input tensor", fn);
    if (x->ndim == 0 && (dim == 0 || dim == -1)) {
        /* a 0-d tensor is one row of one element, as torch allows */
    } else if (dim < -x->ndim || dim >= x->ndim) {
        return fokus_fail(err, FOKUS_EINVAL, "%s: dim %d out of range for a %d-d tensor", fn, dim >= 0 ? dim + 1 : dim,
                          x->ndim);
    }
    if (dim < 0) dim += x->ndim;
    if (dim < 0) dim = 0;
    fokus_tensor res;
    const fokus_tensor *in[1] = {x};
    fokus_status st = fokus_out_begin(ctx, fn, dst, FOKUS_F32, x->ndim, x->shape, in, 1, &res, err);
    if (st != FOKUS_OK) return st;
    const int64_t numel = fokus_tensor_numel(x);
    sm_args a;
    memset(&a, 0, sizeof a);
    a.y = res.data;
    a.log = take_log;
    a.n = x->ndim ? x->shape[dim] : 1;
    a.m = 1;
    for (int d = dim + 1; d < x->ndim; d++) a.m *= x->shape[d];
    if (numel > 0) {
        /* read in place when x is f32 and, along the dim's inner dims, one unit-stride
         * run (rows: the dim itself has unit stride) */
        bool direct = x->dtype == FOKUS_F32;
        int64_t run = 1;
        for (int d = x->ndim - 1; d > dim && direct; d--) {
            if (x->shape[d] == 1) continue;
            direct = x->stride[d] == run;
            run *= x->shape[d];
        }
        if (a.m == 1) direct = direct && (a.n == 1 || x->stride[dim] == 1);
        if (direct) {
            a.x = x->data;
            a.xs = x->ndim ? x->stride[dim] : 1;
            for (int d = 0; d < dim; d++) {
                if (x->shape[d] == 1) continue;
                a.shape[a.nd] = x->shape[d];
                a.stride[a.nd++] = x->stride[d];
            }
        } else {
            st = fokus_tensor_copy(&res, x, err);
            if (st != FOKUS_OK) {
                fokus_tensor_release(&res);
                return st;
            }
            a.x = res.data;
            a.xs = a.m;
            a.shape[0] = numel / (a.n * a.m);
            a.stride[0] = a.n * a.m;
            a.nd = 1;
        }
        if (a.m == 1) {
            /* streaming pays once the output is well beyond the caches, and only when
             * the input is read in place (a copied input is in cache already) */
            a.stream = direct && ctx && (double)numel * sizeof(float) > STREAM_BYTES && a.n <= STREAM_ROW;
            a.ctx = ctx;
            for (int w = 0; a.stream && w < fokus_ctx_threads(ctx); w++)
                a.stream = fokus_ctx_scratch(ctx, FOKUS_SCRATCH_TMP, w, (size_t)a.n * sizeof(float)) != NULL;
            fokus_parallel(ctx, numel / a.n, (MIN_WORK + a.n - 1) / a.n, row_task, &a);
        } else {
            a.cw = COLS;
            a.ncb = (a.m + a.cw - 1) / a.cw;
            int64_t per = a.n * (a.m < a.cw ? a.m : a.cw);
            fokus_parallel(ctx, numel / (a.n * a.m) * a.ncb, (MIN_WORK + per - 1) / per, col_task, &a);
        }
    }
    fokus_out_finish(dst, &res, out);
    return FOKUS_OK;
}
