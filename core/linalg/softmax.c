/* softmax and log_softmax along one dimension. Contract: fokus_linalg.h.
 *
 * Rows (the dim is the last one): two passes over a row that stays in cache after
 * the first: an online maximum and sum (and whether the row holds a NaN), then
 * exp(x - max) / sum (or, for log_softmax, x - max - log(sum)) from the input again;
 * large outputs are written with streaming stores (see softmax_row). Other dims: an online pass over blocks of 1024 neighbouring
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
#include "linalg/simd_math.h"

#define COLS 1024  /* columns per block: 4 KiB of each row */
#define RCHUNK 16  /* rows per step of the online column pass */
#define FLUSH 2048 /* elements per f32 partial sum before it is added in double */
#define MIN_WORK 32768
#define CHUNK 512  /* elements per step of the online row pass (2 KiB) */
#define STREAM_BYTES (8.0 * 1024 * 1024) /* outputs above this are streamed */
#define STREAM_ROW 65536                  /* ... when a row stays in L2 for its second pass */

/* Only the first pass over a row reads memory; the others run from the caches, and
 * while they compute nothing asks for the next row (the hardware prefetcher stops at
 * the row's end, as far as it knows): a softmax of large rows ran at ~70% of the
 * memory bandwidth. So the maximum pass prefetches 16 lines ahead, and the exp pass
 * brings the next row into L2 (one line per 64 bytes of this row: as long as the rows
 * are the same length, the next row arrives before its maximum pass). Addresses are
 * formed as integers: a prefetch past the input never faults. */
#define PREFETCH_X(p) __builtin_prefetch((const void *)((uintptr_t)(p) + 1024), 0, 3)
#define PREFETCH_NEXT(p) __builtin_prefetch((const void *)(uintptr_t)(p), 0, 2)

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

/* sq[q] = sq[q] * f + a for lanes 4q..4q+3, in double (this SIMDe has no 512-bit
 * float-to-double conversion) */
static inline void accumulate(simde__m256d sq[4], simde__m512 f, simde__m512 a)
{
#define ACC(q)                                                                                       \
    sq[q] = simde_mm256_add_pd(simde_mm256_mul_pd(sq[q], simde_mm256_cvtps_pd(simde_mm512_extractf32x4_ps(f, q))), \
                               simde_mm256_cvtps_pd(simde_mm512_extractf32x4_ps(a, q)))
    ACC(0);
    ACC(1);
    ACC(2);
    ACC(3);
#undef ACC
}

/* One row: x and y may be the same buffer (every element is read before its result is
 * written). Two passes, each of which computes while it moves memory, so the core
 * keeps reads (pass 1) or streaming writes (pass 2) in flight the whole time:
 *   1. online maximum and sum, CHUNK elements at a time: the chunk's lane maxima first
 *      (the loads that bring it from memory), then the lanes' sums, rescaled by
 *      exp(old max - new max) when a lane's maximum grew (exp(0) is exactly 1, so an
 *      unchanged maximum costs no accuracy), accumulated in double per chunk;
 *   2. exp(x - max) / sum again from x (in cache by now), written with streaming
 *      stores when `stream` (a large output that will not be read soon: the lines are
 *      written without being read first), while the next row is brought into L2.
 * Twice the exps of a three-pass softmax (max, exp kept, scale), but the third pass
 * was pure stores and the first pure loads, each waiting on memory while the core had
 * nothing to do: 69-74% of the bandwidth before, 80-82% now at (n/4096, 4096). */
static void softmax_row(float *y, const float *x, int64_t n, bool lg, bool stream, const float *next)
{
    const simde__m512 ninf = simde_mm512_set1_ps(-INFINITY);
    simde__m512 M = ninf;
    simde__m256d sq[4]; /* the lanes' sums in double, four lanes each */
    for (int q = 0; q < 4; q++) sq[q] = simde_mm256_setzero_pd();
    simde__mmask16 nan = 0;
    for (int64_t b = 0; b < n; b += CHUNK) {
        const int64_t e = b + CHUNK < n ? b + CHUNK : n;
        simde__m512 c0 = M, c1 = M;
        int64_t i = b;
        for (; i + 32 <= e; i += 32) {
            if ((i & 63) == 0) PREFETCH_X(x + i);
            simde__m512 v0 = simde_mm512_loadu_ps(x + i), v1 = simde_mm512_loadu_ps(x + i + 16);
            c0 = simde_mm512_max_ps(c0, v0);
            c1 = simde_mm512_max_ps(c1, v1);
            nan |= simde_mm512_cmp_ps_mask(v0, v1, SIMDE_CMP_UNORD_Q);
        }
        for (; i < e; i += 16) {
            simde__m512 v = load_part(x + i, e - i, -INFINITY);
            c0 = simde_mm512_max_ps(c0, v);
            nan |= simde_mm512_cmp_ps_mask(v, v, SIMDE_CMP_UNORD_Q);
        }
        simde__m512 cm = simde_mm512_max_ps(c0, c1);
        /* a lane that has seen only -inf gives -inf - -inf = NaN: exp_nonpos makes it 0 */
        simde__m512 f = fokus_v_exp_nonpos(simde_mm512_sub_ps(M, cm));
        M = cm;
        simde__m512 a0 = simde_mm512_setzero_ps(), a1 = a0;
        for (i = b; i + 32 <= e; i += 32) {
            a0 = simde_mm512_add_ps(a0, fokus_v_exp_nonpos(simde_mm512_sub_ps(simde_mm512_loadu_ps(x + i), M)));
            a1 = simde_mm512_add_ps(a1, fokus_v_exp_nonpos(simde_mm512_sub_ps(simde_mm512_loadu_ps(x + i + 16), M)));
        }
        for (; i < e; i += 16) /* padding lanes hold -inf: exp gives 0 there */
            a0 = simde_mm512_add_ps(a0, fokus_v_exp_nonpos(simde_mm512_sub_ps(load_part(x + i, e - i, -INFINITY), M)));
        a0 = simde_mm512_add_ps(a0, a1);
        accumulate(sq, f, a0);
    }
    float mx = hmax(M);
    if (nan || isinf(mx)) {
        /* a NaN, a +inf (inf - inf) or a row of -inf (-inf + inf): every entry is NaN,
         * as torch's x - max makes it */
        for (int64_t i = 0; i < n; i++) y[i] = NAN;
        return;
    }
    const simde__m512 vm = simde_mm512_set1_ps(mx);
    double sum = 0;
    {
        float w[16];
        double sl[16];
        simde_mm512_storeu_ps(w, fokus_v_exp_nonpos(simde_mm512_sub_ps(M, vm)));
        for (int q = 0; q < 4; q++) simde_mm256_storeu_pd(sl + 4 * q, sq[q]);
        for (int l = 0; l < 16; l++) sum += sl[l] * w[l];
    }
    const simde__m512 ls = simde_mm512_set1_ps((float)log(sum)), inv = simde_mm512_set1_ps((float)(1.0 / sum));
    /* cached stores up to the first 64-byte boundary, then whole lines streamed */
    int64_t head = 0;
    if (stream) {
        head = (int64_t)(((64 - ((uintptr_t)y & 63)) & 63) / sizeof(float));
        if ((uintptr_t)y % sizeof(float) != 0 || head > n) head = n;
    }
#define OUT(d) (lg ? simde_mm512_sub_ps((d), ls) : simde_mm512_mul_ps(fokus_v_exp_nonpos(d), inv))
    int64_t i = 0;
    for (; i < head; i += 16) {
        const int64_t left = head - i < 16 ? head - i : 16;
        store_part(y + i, OUT(simde_mm512_sub_ps(load_part(x + i, left, -INFINITY), vm)), left);
    }
    i = head;
    for (; i + 16 <= n; i += 16) {
        if (next) PREFETCH_NEXT(next + i);
        simde__m512 v = OUT(simde_mm512_sub_ps(simde_mm512_loadu_ps(x + i), vm));
        if (stream) stream16(y + i, v);
        else simde_mm512_storeu_ps(y + i, v);
    }
    if (i < n) store_part(y + i, OUT(simde_mm512_sub_ps(load_part(x + i, n - i, -INFINITY), vm)), n - i);
#undef OUT
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
                simde__m512 e = fokus_v_exp_nonpos(simde_mm512_mask_mov_ps(d, simde_mm512_cmp_ps_mask(d, d, SIMDE_CMP_UNORD_Q), ninf));
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
            simde__m512 v = lg ? simde_mm512_sub_ps(d, f) : simde_mm512_mul_ps(fokus_v_exp_nonpos(d), f);
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
} sm_args;

static int64_t row_offset(const sm_args *a, int64_t r)
{
    int64_t off = 0;
    for (int d = a->nd - 1; d >= 0; d--) {
        off += (r % a->shape[d]) * a->stride[d];
        r /= a->shape[d];
    }
    return off;
}

static void row_task(void *argp, int64_t b, int64_t e, int worker)
{
    const sm_args *a = argp;
    for (int64_t r = b; r < e; r++) {
        const float *row = (const float *)a->x + row_offset(a, r);
        const float *next = r + 1 < e ? (const float *)a->x + row_offset(a, r + 1) : NULL;
        softmax_row(a->y + r * a->n, row, a->n, a->log, a->stream, next);
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
