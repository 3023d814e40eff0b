/* Reductions over one dimension or over all of them: sum, mean, max/min (with their
 * positions), argmax/argmin, var and vector norms. Contract: fokus_linalg.h.
 *
 * Every case is brought to one of two shapes, so the kernels never walk strides
 * element by element:
 *   rows     the reduced dimension has unit stride: each output reduces one contiguous
 *            run (all-dims reductions are rows too, combined at the end);
 *   columns  the reduced dimension is strided but the innermost kept one has unit
 *            stride: a block of 256 neighbouring outputs is reduced together, one SIMD
 *            vector of outputs per 16 columns, walking down the reduced dimension.
 * Anything else (and integer dtypes) is first copied to a contiguous f32 tensor.
 *
 * Accuracy: sums are taken in f32 SIMD lanes over blocks of at most 2048 elements
 * (a lane adds at most 32 of them; columns flush every 256 rows) and the block sums
 * are added in double, so the error stays near 40 float ulps of sum|x| whatever the
 * length (a plain f32 loop over 10^7 elements loses ~1e-3 relative). var reads the
 * input twice: the mean first, then the squared deviations from it, with the sum of
 * the deviations correcting the rounding of the mean.
 *
 * Threads: long rows are cut into segments (so a full reduction of one big tensor uses
 * every worker); otherwise rows, or blocks of columns, are shared out. Partial results
 * are combined in index order, so the result does not depend on the thread count
 * except through the segmentation, which only depends on the shape and the pool size. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <simde/x86/avx512.h>

#include "linalg/fokus_linalg.h"
#include "simd_math.h"

#define BLOCK 2048         /* elements per f32 block sum (row kernels) */
#define COLS 1024          /* outputs per column block */
#define FLUSH 256          /* rows per f32 block sum (column kernels) */
#define MIN_WORK 32768     /* elements below which a work item is not worth a dispatch */
#define MAX_SEG (1 << 30)  /* positions within a segment fit the kernels' int32 lanes */

/* Row kernels prefetch the four lines 2 KiB ahead per step of 64 elements (a step
 * reads four f32 lines): the hardware prefetcher alone kept fewer reads in flight and
 * max ran at ~70% of the memory bandwidth (85-94% with). The address is an integer:
 * a prefetch past the input never faults. */
#define PREFETCH(p)                                                                       \
    do {                                                                                  \
        const uintptr_t pf_ = (uintptr_t)(p) + 2048;                                      \
        for (int l_ = 0; l_ < 4; l_++) __builtin_prefetch((const void *)(pf_ + 64 * l_), 0, 3); \
    } while (0)

/* What the kernels accumulate. */
enum kop {
    K_SUM,   /* s1 = sum x */
    K_ABS,   /* s1 = sum |x| */
    K_SQDEV, /* s1 = sum (x - c), s2 = sum (x - c)^2 (c = 0: sum of squares) */
    K_MAX,   /* best, idx: the first maximum; a NaN wins (the first NaN) */
    K_MIN,
    K_POW    /* scalar: sum |x|^p, or max / min |x| for p = +-inf, count for p = 0 */
};

typedef struct part {
    double s1, s2;
    float best;
    int64_t idx; /* position of best; -1 while nothing was taken */
} part;

typedef struct kparams {
    int kop;
    double p; /* K_POW */
} kparams;

static const char *op_name(fokus_reduce_op op)
{
    switch (op) {
    case FOKUS_REDUCE_SUM: return "sum";
    case FOKUS_REDUCE_MEAN: return "mean";
    case FOKUS_REDUCE_MAX: return "max";
    case FOKUS_REDUCE_MIN: return "min";
    case FOKUS_REDUCE_ARGMAX: return "argmax";
    case FOKUS_REDUCE_ARGMIN: return "argmin";
    case FOKUS_REDUCE_VAR: return "var";
    case FOKUS_REDUCE_NORM: return "norm";
    }
    return "reduce";
}

static void part_init(part *p, const kparams *k)
{
    p->s1 = p->s2 = 0;
    p->idx = -1;
    p->best = k->kop == K_MIN ? INFINITY : -INFINITY;
    if (k->kop == K_POW && isinf(k->p)) p->s1 = k->p > 0 ? -INFINITY : INFINITY;
}

/* Whether candidate v (found after the current best) replaces best. */
static inline bool better(float v, float best, bool max)
{
    if (isnan(best)) return false;
    if (isnan(v)) return true;
    return max ? v > best : v < best;
}

/* b follows a in index order. */
static void part_combine(part *a, const part *b, const kparams *k)
{
    switch (k->kop) {
    case K_MAX:
    case K_MIN:
        if (b->idx >= 0 && (a->idx < 0 || better(b->best, a->best, k->kop == K_MAX))) {
            a->best = b->best;
            a->idx = b->idx;
        }
        break;
    case K_POW:
        if (isinf(k->p)) {
            if (isnan(a->s1)) break;
            if (isnan(b->s1) || (k->p > 0 ? b->s1 > a->s1 : b->s1 < a->s1)) a->s1 = b->s1;
            break;
        }
        /* fall through */
    default:
        a->s1 += b->s1;
        a->s2 += b->s2;
    }
}

/* One element into scalar accumulators (the kernels' tails and K_POW). */
static inline void acc1(const kparams *k, float x, float c, int64_t i, double *s1, double *s2, float *best,
                        int64_t *idx)
{
    switch (k->kop) {
    case K_SUM: *s1 += x; break;
    case K_ABS: *s1 += fabsf(x); break;
    case K_SQDEV: {
        double d = (double)x - c;
        *s1 += d;
        *s2 += d * d;
        break;
    }
    case K_MAX:
    case K_MIN:
        if (*idx < 0 || better(x, *best, k->kop == K_MAX)) {
            *best = x;
            *idx = i;
        }
        break;
    case K_POW: {
        double a = fabs((double)x);
        if (isinf(k->p)) {
            if (!isnan(*s1) && (isnan(a) || (k->p > 0 ? a > *s1 : a < *s1))) *s1 = a;
        } else if (k->p == 0) {
            *s1 += x != 0;
        } else {
            *s1 += pow(a, k->p);
        }
        break;
    }
    }
}

static inline float load1(const char *p, fokus_dtype dt)
{
    switch (dt) {
    case FOKUS_F16: return fokus_f16_to_f32(*(const uint16_t *)p);
    case FOKUS_BF16: return fokus_bf16_to_f32(*(const uint16_t *)p);
    default: return *(const float *)p;
    }
}

static inline simde__m512 load16(const char *p, fokus_dtype dt)
{
    return fokus_v_load16_widen(p, dt == FOKUS_F16, dt == FOKUS_BF16);
}

static double hsum_d(simde__m512 v)
{
    float t[16];
    simde_mm512_storeu_ps(t, v);
    double s = 0;
    for (int i = 0; i < 16; i++) s += t[i];
    return s;
}

/* ---------------------------------------------------------------- row kernels */

/* Sums over a contiguous run of n elements (K_SUM, K_ABS, K_SQDEV), dtype and op
 * constant after inlining. */
static inline __attribute__((always_inline)) void row_sums(const char *x, const fokus_dtype dt, int64_t n,
                                                           const int kop, float c, part *r)
{
    const size_t es = dt == FOKUS_F32 ? 4 : 2;
    const simde__m512 vc = simde_mm512_set1_ps(c);
    double s1 = 0, s2 = 0;
    for (int64_t b = 0; b < n; b += BLOCK) {
        const int64_t e = b + BLOCK < n ? b + BLOCK : n;
        simde__m512 a0 = simde_mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        simde__m512 q0 = a0, q1 = a0, q2 = a0, q3 = a0;
        int64_t i = b;
#define STEP(a, q, off)                                                            \
    do {                                                                           \
        simde__m512 v = load16(x + (i + (off)) * es, dt);                          \
        if (kop == K_SUM) a = simde_mm512_add_ps(a, v);                            \
        if (kop == K_ABS) a = simde_mm512_add_ps(a, simde_mm512_abs_ps(v));        \
        if (kop == K_SQDEV) {                                                      \
            simde__m512 d = simde_mm512_sub_ps(v, vc);                             \
            a = simde_mm512_add_ps(a, d);                                          \
            q = simde_mm512_fmadd_ps(d, d, q);                                     \
        }                                                                          \
    } while (0)
        /* four independent chains hide the add latency */
        for (; i + 64 <= e; i += 64) {
            PREFETCH(x + i * es);
            STEP(a0, q0, 0);
            STEP(a1, q1, 16);
            STEP(a2, q2, 32);
            STEP(a3, q3, 48);
        }
        for (; i + 16 <= e; i += 16) STEP(a0, q0, 0);
#undef STEP
        s1 += hsum_d(simde_mm512_add_ps(simde_mm512_add_ps(a0, a1), simde_mm512_add_ps(a2, a3)));
        if (kop == K_SQDEV) s2 += hsum_d(simde_mm512_add_ps(simde_mm512_add_ps(q0, q1), simde_mm512_add_ps(q2, q3)));
        for (; i < e; i++) {
            float v = load1(x + i * es, dt);
            if (kop == K_SUM) s1 += v;
            if (kop == K_ABS) s1 += fabsf(v);
            if (kop == K_SQDEV) {
                double d = (double)v - c;
                s1 += d;
                s2 += d * d;
            }
        }
    }
    r->s1 = s1;
    r->s2 = s2;
}

/* The first extreme of a contiguous run (a NaN beats everything; the first NaN wins).
 * Each lane keeps its best value and where it was found; a lane takes a new value
 * only when strictly better, so within a lane the first occurrence stays, and the
 * lanes are merged by position at the end. */
static inline __attribute__((always_inline)) simde__mmask16 take_mask(simde__m512 v, simde__m512 best, const bool max)
{
    simde__mmask16 take = max ? simde_mm512_cmp_ps_mask(v, best, SIMDE_CMP_GT_OQ)
                              : simde_mm512_cmp_ps_mask(v, best, SIMDE_CMP_LT_OQ);
    /* a NaN replaces a number, never the other way round */
    return take | (simde_mm512_cmp_ps_mask(v, v, SIMDE_CMP_UNORD_Q) & simde_mm512_cmp_ps_mask(best, best, SIMDE_CMP_ORD_Q));
}

static inline __attribute__((always_inline)) void row_extreme(const char *x, const fokus_dtype dt, int64_t n,
                                                              const bool max, part *r)
{
    const size_t es = dt == FOKUS_F32 ? 4 : 2;
    const simde__m512 start = simde_mm512_set1_ps(max ? -INFINITY : INFINITY);
    simde__m512 b[4] = {start, start, start, start};
    simde__m512i pos[4], cur[4];
    for (int c = 0; c < 4; c++) {
        pos[c] = simde_mm512_set1_epi32(-1);
        cur[c] = simde_mm512_add_epi32(simde_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                       simde_mm512_set1_epi32(16 * c));
    }
    /* four independent chains (compare + blend has a latency of ~4 cycles) */
    const simde__m512i step = simde_mm512_set1_epi32(64);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        PREFETCH(x + i * es);
        for (int c = 0; c < 4; c++) {
            simde__m512 v = load16(x + (i + 16 * c) * es, dt);
            simde__mmask16 take = take_mask(v, b[c], max);
            b[c] = simde_mm512_mask_mov_ps(b[c], take, v);
            pos[c] = simde_mm512_mask_mov_epi32(pos[c], take, cur[c]);
            cur[c] = simde_mm512_add_epi32(cur[c], step);
        }
    }
    for (; i + 16 <= n; i += 16) {
        simde__m512 v = load16(x + i * es, dt);
        simde__mmask16 take = take_mask(v, b[0], max);
        b[0] = simde_mm512_mask_mov_ps(b[0], take, v);
        pos[0] = simde_mm512_mask_mov_epi32(pos[0], take, simde_mm512_add_epi32(
            simde_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), simde_mm512_set1_epi32((int32_t)i)));
    }
    /* chains 1..3 into chain 0, lane by lane: the better value, or on a tie the
     * earlier position (NaN ties NaN) */
    const simde__m512i none = simde_mm512_set1_epi32(-1);
    for (int c = 1; c < 4; c++) {
        simde__mmask16 nan2 = simde_mm512_cmp_ps_mask(b[c], b[c], SIMDE_CMP_UNORD_Q) &
                              simde_mm512_cmp_ps_mask(b[0], b[0], SIMDE_CMP_UNORD_Q);
        simde__mmask16 tie = (simde_mm512_cmp_ps_mask(b[c], b[0], SIMDE_CMP_EQ_OQ) | nan2) &
                             simde_mm512_cmpgt_epi32_mask(pos[c], none) &
                             (simde_mm512_cmpgt_epi32_mask(pos[0], pos[c]) | simde_mm512_cmpeq_epi32_mask(pos[0], none));
        simde__mmask16 take = take_mask(b[c], b[0], max) | tie;
        b[0] = simde_mm512_mask_mov_ps(b[0], take, b[c]);
        pos[0] = simde_mm512_mask_mov_epi32(pos[0], take, pos[c]);
    }
    float bv[16];
    int32_t bp[16];
    simde_mm512_storeu_ps(bv, b[0]);
    simde_mm512_storeu_si512(bp, pos[0]);
    float bb = max ? -INFINITY : INFINITY;
    int64_t at = -1;
    for (int l = 0; l < 16; l++) {
        if (bp[l] < 0) continue;
        /* lanes are not in position order: equal values go to the earlier position */
        if (at < 0 || better(bv[l], bb, max) || ((bv[l] == bb || (isnan(bv[l]) && isnan(bb))) && bp[l] < at)) {
            bb = bv[l];
            at = bp[l];
        }
    }
    for (; i < n; i++) {
        float v = load1(x + i * es, dt);
        if (better(v, bb, max)) {
            bb = v;
            at = i;
        }
    }
    if (at < 0 && n > 0) at = 0; /* every element was -inf (max) or +inf (min) */
    r->best = at >= 0 ? bb : r->best;
    r->idx = at;
}

static void row_scalar(const char *x, fokus_dtype dt, int64_t n, const kparams *k, float c, part *r)
{
    const size_t es = dt == FOKUS_F32 ? 4 : 2;
    for (int64_t i = 0; i < n; i++) acc1(k, load1(x + i * es, dt), c, i, &r->s1, &r->s2, &r->best, &r->idx);
}

#define ROW_CASES(DT)                                                          \
    switch (k->kop) {                                                          \
    case K_SUM: row_sums(x, DT, n, K_SUM, c, r); return;                       \
    case K_ABS: row_sums(x, DT, n, K_ABS, c, r); return;                       \
    case K_SQDEV: row_sums(x, DT, n, K_SQDEV, c, r); return;                   \
    case K_MAX: row_extreme(x, DT, n, true, r); return;                        \
    case K_MIN: row_extreme(x, DT, n, false, r); return;                       \
    default: row_scalar(x, DT, n, k, c, r); return;                            \
    }

/* Reduces a contiguous run into *r (initialised by the caller); positions are
 * relative to x. */
static void row_kernel(const char *x, fokus_dtype dt, int64_t n, const kparams *k, float c, part *r)
{
    part_init(r, k);
    switch (dt) {
    case FOKUS_F16: ROW_CASES(FOKUS_F16);
    case FOKUS_BF16: ROW_CASES(FOKUS_BF16);
    default: ROW_CASES(FOKUS_F32);
    }
}

/* ---------------------------------------------------------------- column kernel */

/* Reduces columns [0, m) (m <= COLS, unit stride) of n rows spaced `rs` elements
 * apart, starting at x, into parts r[0..m). c: the centres of K_SQDEV (NULL: 0). */
static inline __attribute__((always_inline)) void col_kernel_t(const char *x, const fokus_dtype dt, int64_t n,
                                                               int64_t rs, int64_t m, const kparams *k, const int kop,
                                                               const float *c, part *r)
{
    const size_t es = dt == FOKUS_F32 ? 4 : 2;
    float acc[COLS], acc2[COLS], cen[COLS];
    int32_t pos[COLS];
    double d1[COLS], d2[COLS];
    const int64_t mv = kop == K_POW ? 0 : m / 16 * 16; /* vectorised columns */
    for (int64_t j = 0; j < m; j++) {
        part_init(&r[j], k);
        acc[j] = kop == K_MAX || kop == K_MIN ? r[j].best : 0;
        acc2[j] = 0;
        pos[j] = -1;
        d1[j] = r[j].s1; /* K_POW with p = +-inf starts at -+inf */
        d2[j] = 0;
        cen[j] = c ? c[j] : 0;
    }
    for (int64_t i0 = 0; i0 < n; i0 += FLUSH) {
        const int64_t i1 = i0 + FLUSH < n ? i0 + FLUSH : n;
        for (int64_t i = i0; i < i1; i++) {
            const char *row = x + i * rs * (int64_t)es;
            int64_t j = 0;
            if (kop == K_MAX || kop == K_MIN) {
                const simde__m512i vi = simde_mm512_set1_epi32((int32_t)i);
                for (; j < mv; j += 16) {
                    simde__m512 v = load16(row + j * es, dt), b = simde_mm512_loadu_ps(acc + j);
                    simde__mmask16 take = take_mask(v, b, kop == K_MAX);
                    simde_mm512_storeu_ps(acc + j, simde_mm512_mask_mov_ps(b, take, v));
                    simde__m512i pj = simde_mm512_loadu_si512(pos + j);
                    simde_mm512_storeu_si512(pos + j, simde_mm512_mask_mov_epi32(pj, take, vi));
                }
                for (; j < m; j++) {
                    float v = load1(row + j * es, dt);
                    if (better(v, acc[j], kop == K_MAX)) {
                        acc[j] = v;
                        pos[j] = (int32_t)i;
                    }
                }
            } else if (kop == K_POW) {
                for (; j < m; j++) acc1(k, load1(row + j * es, dt), 0, i, &d1[j], &d2[j], &r[j].best, &r[j].idx);
            } else {
                for (; j < mv; j += 16) {
                    simde__m512 v = load16(row + j * es, dt), a = simde_mm512_loadu_ps(acc + j);
                    if (kop == K_SUM) a = simde_mm512_add_ps(a, v);
                    if (kop == K_ABS) a = simde_mm512_add_ps(a, simde_mm512_abs_ps(v));
                    if (kop == K_SQDEV) {
                        simde__m512 d = simde_mm512_sub_ps(v, simde_mm512_loadu_ps(cen + j));
                        a = simde_mm512_add_ps(a, d);
                        simde_mm512_storeu_ps(acc2 + j, simde_mm512_fmadd_ps(d, d, simde_mm512_loadu_ps(acc2 + j)));
                    }
                    simde_mm512_storeu_ps(acc + j, a);
                }
                for (; j < m; j++) {
                    float v = load1(row + j * es, dt);
                    if (kop == K_SUM) acc[j] += v;
                    if (kop == K_ABS) acc[j] += fabsf(v);
                    if (kop == K_SQDEV) {
                        float d = v - cen[j];
                        acc[j] += d;
                        acc2[j] += d * d;
                    }
                }
            }
        }
        if (kop == K_SUM || kop == K_ABS || kop == K_SQDEV) {
            for (int64_t j = 0; j < m; j++) {
                d1[j] += acc[j];
                d2[j] += acc2[j];
                acc[j] = acc2[j] = 0;
            }
        }
    }
    for (int64_t j = 0; j < m; j++) {
        if (kop == K_MAX || kop == K_MIN) {
            r[j].best = acc[j];
            r[j].idx = pos[j] >= 0 ? pos[j] : (n > 0 ? 0 : -1);
        } else {
            r[j].s1 = d1[j];
            r[j].s2 = d2[j];
        }
    }
}

#define COL_CASES(DT)                                                                  \
    switch (k->kop) {                                                                  \
    case K_SUM: col_kernel_t(x, DT, n, rs, m, k, K_SUM, c, r); return;                 \
    case K_ABS: col_kernel_t(x, DT, n, rs, m, k, K_ABS, c, r); return;                 \
    case K_SQDEV: col_kernel_t(x, DT, n, rs, m, k, K_SQDEV, c, r); return;             \
    case K_MAX: col_kernel_t(x, DT, n, rs, m, k, K_MAX, c, r); return;                 \
    case K_MIN: col_kernel_t(x, DT, n, rs, m, k, K_MIN, c, r); return;                 \
    default: col_kernel_t(x, DT, n, rs, m, k, K_POW, c, r); return;                    \
    }

/* The column kernel with dtype and op fixed, so the inner loops carry no branches. */
static void col_kernel(const char *x, fokus_dtype dt, int64_t n, int64_t rs, int64_t m, const kparams *k,
                       const float *c, part *r)
{
    switch (dt) {
    case FOKUS_F16: COL_CASES(FOKUS_F16);
    case FOKUS_BF16: COL_CASES(FOKUS_BF16);
    default: COL_CASES(FOKUS_F32);
    }
}

/* ---------------------------------------------------------------- plans */

typedef struct plan {
    fokus_reduce_op op;
    kparams k;
    const char *x;
    fokus_dtype dt;
    size_t es;
    int nd;                          /* outer dims: rows (row case) or outer blocks (columns) */
    int64_t shape[FOKUS_MAX_DIMS], stride[FOKUS_MAX_DIMS];
    int64_t rows;                    /* product of shape[0..nd) */
    int64_t n, rs;                   /* reduced length and stride */
    int64_t m, ncb;                  /* column case: unit-stride kept length, its blocks (0: rows) */
    int64_t seg, nseg, grain;        /* row case: segment length and count; items per chunk */
    bool all;                        /* all-dims: rows are combined into one result */
    double total;                    /* number of reduced elements per output */
    double correction;
    const float *centre;             /* K_SQDEV centres per output (NULL: 0) */
    float *values;                   /* outputs (contiguous) */
    int64_t *indices;
    part *parts;                     /* per item (segmented rows) or per chunk (all-dims) */
} plan;

static int64_t outer_offset(const plan *pl, int64_t r)
{
    int64_t off = 0;
    for (int d = pl->nd - 1; d >= 0; d--) {
        off += (r % pl->shape[d]) * pl->stride[d];
        r /= pl->shape[d];
    }
    return off;
}

static void finalize(const plan *pl, const part *p, int64_t o)
{
    const double n = pl->total;
    float v = 0;
    switch (pl->op) {
    case FOKUS_REDUCE_SUM: v = (float)p->s1; break;
    case FOKUS_REDUCE_MEAN: v = (float)(p->s1 / n); break;
    case FOKUS_REDUCE_VAR: {
        double m2 = p->s2 - p->s1 * p->s1 / n;
        double div = n - pl->correction;
        v = (float)((m2 > 0 ? m2 : 0) / (div > 0 ? div : 0));
        if (n == 0) v = NAN;
        break;
    }
    case FOKUS_REDUCE_NORM:
        if (pl->k.kop == K_SQDEV) v = (float)sqrt(p->s2);
        else if (pl->k.kop == K_ABS || isinf(pl->k.p) || pl->k.p == 0) v = (float)p->s1;
        else v = (float)pow(p->s1, 1.0 / pl->k.p);
        if (pl->k.kop == K_POW && isinf(pl->k.p) && n == 0) v = pl->k.p > 0 ? 0.0f : INFINITY;
        break;
    default: v = p->best; break;
    }
    if (pl->values) pl->values[o] = v;
    if (pl->indices) pl->indices[o] = p->idx + 1;
}

static float centre_of(const plan *pl, int64_t o)
{
    return pl->centre ? pl->centre[pl->all ? 0 : o] : 0.0f;
}

/* Row case: items are (row, segment) pairs in order; chunks are runs of `grain` items. */
static void row_task(void *arg, int64_t b, int64_t e, int worker)
{
    const plan *pl = arg;
    for (int64_t c0 = b; c0 < e; c0 += pl->grain) {
        const int64_t c1 = c0 + pl->grain < e ? c0 + pl->grain : e;
        part acc;
        part_init(&acc, &pl->k);
        for (int64_t it = c0; it < c1; it++) {
            const int64_t row = it / pl->nseg, s = it % pl->nseg;
            const int64_t start = s * pl->seg;
            const int64_t len = pl->n - start < pl->seg ? pl->n - start : pl->seg;
            part r;
            row_kernel(pl->x + (outer_offset(pl, row) + start) * (int64_t)pl->es, pl->dt, len, &pl->k,
                       centre_of(pl, row), &r);
            if (r.idx >= 0) r.idx += (pl->all ? row * pl->n : 0) + start;
            if (pl->all) {
                part_combine(&acc, &r, &pl->k);
            } else if (pl->nseg > 1) {
                pl->parts[it] = r;
            } else {
                finalize(pl, &r, row);
            }
        }
        if (pl->all) pl->parts[c0 / pl->grain] = acc;
    }
}

/* Column case: items are (outer position, block of COLS columns). */
static void col_task(void *arg, int64_t b, int64_t e, int worker)
{
    const plan *pl = arg;
    part r[COLS];
    for (int64_t it = b; it < e; it++) {
        const int64_t o = it / pl->ncb, j0 = it % pl->ncb * COLS;
        const int64_t w = pl->m - j0 < COLS ? pl->m - j0 : COLS;
        const int64_t out0 = o * pl->m + j0;
        col_kernel(pl->x + (outer_offset(pl, o) + j0) * (int64_t)pl->es, pl->dt, pl->n, pl->rs, w, &pl->k,
                   pl->centre ? pl->centre + out0 : NULL, r);
        for (int64_t j = 0; j < w; j++) finalize(pl, &r[j], out0 + j);
    }
}

/* Drops size-1 dims and merges neighbours that are one run in memory; keeps order. */
static int coalesce(int nd, const int64_t *shape, const int64_t *stride, int64_t *osh, int64_t *ost)
{
    int k = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 1) continue;
        if (k > 0 && ost[k - 1] == stride[d] * shape[d]) {
            osh[k - 1] *= shape[d];
            ost[k - 1] = stride[d];
            continue;
        }
        osh[k] = shape[d];
        ost[k] = stride[d];
        k++;
    }
    return k;
}

/* Runs one pass (one kernel op) over x described by dim / all into the outputs. */
static fokus_status run_pass(fokus_ctx *ctx, plan *pl, fokus_error *err)
{
    const int threads = ctx ? fokus_ctx_threads(ctx) : 1;
    if (pl->m > 0) {
        pl->ncb = (pl->m + COLS - 1) / COLS;
        int64_t items = pl->rows * pl->ncb;
        int64_t per = pl->n * (pl->m < COLS ? pl->m : COLS);
        fokus_parallel(ctx, items, per > 0 ? (MIN_WORK + per - 1) / per : items, col_task, pl);
        return FOKUS_OK;
    }
    /* segments: enough work items for every worker when the rows are few */
    pl->seg = pl->n > 0 ? pl->n : 1;
    if (pl->rows < 2 * threads && pl->n >= 2 * MIN_WORK) {
        int64_t pieces = (4 * threads + pl->rows - 1) / pl->rows;
        int64_t s = (pl->n + pieces - 1) / pieces;
        if (s < MIN_WORK) s = MIN_WORK;
        pl->seg = (s + BLOCK - 1) / BLOCK * BLOCK;
    }
    if (pl->seg > MAX_SEG) pl->seg = MAX_SEG;
    pl->nseg = pl->n > 0 ? (pl->n + pl->seg - 1) / pl->seg : 1;
    const int64_t items = pl->rows * pl->nseg;
    pl->grain = pl->seg >= MIN_WORK ? 1 : MIN_WORK / pl->seg;
    if (pl->all && pl->grain * 4096 < items) pl->grain = (items + 4095) / 4096; /* bounded partials */
    size_t nparts = pl->all ? (size_t)((items + pl->grain - 1) / pl->grain) : pl->nseg > 1 ? (size_t)items : 0;
    fokus_allocator *a = fokus_ctx_allocator(ctx);
    pl->parts = nparts ? fokus_allocator_alloc(a, nparts * sizeof(part), false) : NULL;
    if (nparts && !pl->parts) return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", op_name(pl->op));
    fokus_parallel(ctx, items, pl->grain, row_task, pl);
    if (pl->all) {
        part acc;
        part_init(&acc, &pl->k);
        for (size_t i = 0; i < nparts; i++) part_combine(&acc, &pl->parts[i], &pl->k);
        if (acc.idx < 0 && pl->total > 0) acc.idx = 0;
        finalize(pl, &acc, 0);
    } else if (pl->nseg > 1) {
        for (int64_t row = 0; row < pl->rows; row++) {
            part acc = pl->parts[row * pl->nseg];
            for (int64_t s = 1; s < pl->nseg; s++) part_combine(&acc, &pl->parts[row * pl->nseg + s], &pl->k);
            finalize(pl, &acc, row);
        }
    }
    fokus_allocator_free(a, pl->parts, nparts * sizeof(part));
    pl->parts = NULL;
    return FOKUS_OK;
}

/* Fills the geometry of pl for x (float dtype): false when x needs a contiguous copy. */
static bool layout(plan *pl, const fokus_tensor *x, int dim)
{
    int64_t sh[FOKUS_MAX_DIMS], st[FOKUS_MAX_DIMS];
    pl->x = x->data;
    pl->dt = x->dtype;
    pl->es = fokus_dtype_size(x->dtype);
    pl->m = 0;
    if (dim < 0) { /* all dims: rows over the innermost run */
        int k = coalesce(x->ndim, x->shape, x->stride, sh, st);
        if (k > 0 && st[k - 1] != 1) return false;
        pl->n = k > 0 ? sh[k - 1] : 1;
        pl->rs = 1;
        pl->nd = k > 0 ? k - 1 : 0;
        for (int d = 0; d < pl->nd; d++) {
            pl->shape[d] = sh[d];
            pl->stride[d] = st[d];
        }
    } else {
        int64_t ks[FOKUS_MAX_DIMS], kt[FOKUS_MAX_DIMS];
        int nk = 0;
        for (int d = 0; d < x->ndim; d++) {
            if (d == dim) continue;
            ks[nk] = x->shape[d];
            kt[nk++] = x->stride[d];
        }
        int k = coalesce(nk, ks, kt, sh, st);
        pl->n = x->shape[dim];
        pl->rs = x->stride[dim];
        if (pl->n <= 1 || pl->rs == 1) {
            pl->rs = 1;
        } else if (k > 0 && st[k - 1] == 1) {
            pl->m = sh[--k];
        } else {
            return false;
        }
        pl->nd = k;
        for (int d = 0; d < k; d++) {
            pl->shape[d] = sh[d];
            pl->stride[d] = st[d];
        }
    }
    pl->rows = 1;
    for (int d = 0; d < pl->nd; d++) pl->rows *= pl->shape[d];
    return true;
}

/* fokus_out_finish, also when the caller does not want this result (out NULL). */
static void finish(const fokus_tensor *dst, fokus_tensor *res, fokus_tensor *out)
{
    fokus_tensor unused = {0};
    if (!res->storage && !res->data) return;
    fokus_out_finish(dst, res, out ? out : &unused);
    fokus_tensor_release(&unused);
}

static const fokus_reduce_opts default_opts = {false, 1.0, 2.0, NULL, NULL};

fokus_status fokus_reduce(fokus_ctx *ctx, fokus_reduce_op op, const fokus_tensor *x, int dim,
                          const fokus_reduce_opts *opts, fokus_tensor *values, fokus_tensor *indices,
                          fokus_error *err)
{
    const char *fn = op_name(op);
    if (!opts) opts = &default_opts;
    if ((unsigned)op > FOKUS_REDUCE_NORM) return fokus_fail(err, FOKUS_EINVAL, "reduce: unknown operation %d", (int)op);
    if (!x || (!x->data && fokus_tensor_numel(x) > 0)) return fokus_fail(err, FOKUS_EINVAL, "%s: no input tensor", fn);
    const bool all = dim == FOKUS_ALL_DIMS;
    if (!all) {
        if (dim < -x->ndim || dim >= x->ndim)
            return fokus_fail(err, FOKUS_EINVAL, "%s: dim %d out of range for a %d-d tensor", fn,
                              dim >= 0 ? dim + 1 : dim, x->ndim);
        if (dim < 0) dim += x->ndim;
    }
    const int64_t numel = fokus_tensor_numel(x);
    const int64_t n = all ? numel : x->shape[dim];
    const bool extreme = op == FOKUS_REDUCE_MAX || op == FOKUS_REDUCE_MIN || op == FOKUS_REDUCE_ARGMAX ||
                         op == FOKUS_REDUCE_ARGMIN;
    if (extreme && n == 0)
        return fokus_fail(err, FOKUS_EINVAL, "%s: cannot reduce an empty %s", fn, all ? "tensor" : "dimension");
    const bool want_v = op != FOKUS_REDUCE_ARGMAX && op != FOKUS_REDUCE_ARGMIN;
    const bool want_i = extreme && (!want_v || indices || opts->out_indices);

    /* result shape */
    int64_t shape[FOKUS_MAX_DIMS];
    int rnd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (all || d == dim) {
            if (opts->keepdim) shape[rnd++] = 1;
        } else {
            shape[rnd++] = x->shape[d];
        }
    }

    kparams k = {K_SUM, opts->p};
    switch (op) {
    case FOKUS_REDUCE_SUM:
    case FOKUS_REDUCE_MEAN: k.kop = K_SUM; break;
    case FOKUS_REDUCE_VAR: k.kop = K_SQDEV; break;
    case FOKUS_REDUCE_MAX:
    case FOKUS_REDUCE_ARGMAX: k.kop = K_MAX; break;
    case FOKUS_REDUCE_MIN:
    case FOKUS_REDUCE_ARGMIN: k.kop = K_MIN; break;
    case FOKUS_REDUCE_NORM:
        if (isnan(opts->p)) return fokus_fail(err, FOKUS_EINVAL, "norm: p must be a number, got nan");
        k.kop = opts->p == 2 ? K_SQDEV : opts->p == 1 ? K_ABS : K_POW;
        break;
    }

    /* destinations first: their checks must come before any work */
    fokus_tensor rv = {0}, ri = {0}, src = {0};
    const fokus_tensor *in[1] = {x};
    fokus_status st = FOKUS_OK;
    if (want_v) st = fokus_out_begin(ctx, fn, opts->out_values, FOKUS_F32, rnd, shape, in, 1, &rv, err);
    if (st == FOKUS_OK && want_i)
        st = fokus_out_begin(ctx, fn, opts->out_indices, FOKUS_I64, rnd, shape, in, 1, &ri, err);
    if (st == FOKUS_OK && want_v && want_i && opts->out_values && opts->out_indices &&
        fokus_tensor_overlaps(opts->out_values, opts->out_indices))
        st = fokus_fail(err, FOKUS_EINVAL, "%s: the values and indices destinations overlap", fn);
    if (st != FOKUS_OK) goto fail;

    plan pl;
    memset(&pl, 0, sizeof pl);
    pl.op = op;
    pl.k = k;
    pl.all = all;
    pl.total = (double)n;
    pl.correction = opts->correction;
    pl.values = want_v ? rv.data : NULL;
    pl.indices = want_i ? ri.data : NULL;
    if (numel == 0) {
        /* empty reductions: sum 0, mean / var nan, norm 0 (the identities torch gives) */
        part p;
        part_init(&p, &k);
        int64_t outs = 1;
        for (int d = 0; d < rnd; d++) outs *= shape[d];
        for (int64_t o = 0; o < outs; o++) finalize(&pl, &p, o);
        goto done;
    }
    if (!fokus_dtype_is_float(x->dtype) || !layout(&pl, x, all ? -1 : dim)) {
        st = fokus_tensor_f32_ctx(ctx, &src, x, err);
        if (st == FOKUS_OK && !fokus_tensor_is_contiguous(&src)) /* cannot happen: f32_ctx copies */
            st = fokus_fail(err, FOKUS_EINVAL, "%s: internal layout error", fn);
        if (st != FOKUS_OK) goto fail;
        if (!layout(&pl, &src, all ? -1 : dim)) {
            st = fokus_fail(err, FOKUS_EINVAL, "%s: internal layout error", fn);
            goto fail;
        }
    }
    if (pl.m > 0 && extreme && pl.n > INT32_MAX) {
        st = fokus_fail(err, FOKUS_ERANGE, "%s: dimension of %lld elements is too long for a strided reduction",
                        fn, (long long)pl.n);
        goto fail;
    }
    if (op == FOKUS_REDUCE_VAR) {
        /* pass 1: the means, written where the variances go and read back as centres */
        plan mean = pl;
        mean.op = FOKUS_REDUCE_MEAN;
        mean.k.kop = K_SUM;
        mean.indices = NULL;
        st = run_pass(ctx, &mean, err);
        if (st != FOKUS_OK) goto fail;
        pl.centre = pl.values;
    }
    st = run_pass(ctx, &pl, err);
    if (st != FOKUS_OK) goto fail;
done:
    fokus_tensor_release(&src);
    finish(opts->out_values, &rv, values);
    finish(opts->out_indices, &ri, indices);
    return FOKUS_OK;
fail:
    fokus_tensor_release(&src);
    fokus_tensor_release(&rv);
    fokus_tensor_release(&ri);
    return st;
}
