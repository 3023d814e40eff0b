/*
 * Products with a few dozen rows of A (33..96: CLIP's 77 tokens, a batch of short
 * sequences) against a large B, without packing B: gemm.c sends them here.
 *
 * Why: the packed path spends, per element of B, one pass of packing (a 16x16 register
 * transpose for the Linear layout, ~0.4 cycles in cache and more when the weights come
 * from L3, as they do in a model's forward pass) against only 2*M flops of use, ~2.4
 * cycles at M = 77. The packing was 15-30% of a CLIP forward (perf profile).
 *
 * Here the roles are swapped: the tile is computed transposed, C^T[n][m], with A^T
 * packed once per call (M is small: 77 x 768 floats, ~5 us) and B read where it lies.
 * Per k step the kernel loads V vectors of A^T (16 rows of A each) and broadcasts R
 * elements of B (one per output column), V*R FMAs into V*R accumulators:
 *     V = ceil(M/16):  3   4   5   6
 *     R:               8   6   5   4       (V*R + V + 1 <= 31 of the 32 zmm registers)
 * B [N,K] (Linear weights, b_trans) in f32 only, read as R sequential row streams.
 * The others stay on the packed path: B [K,N] read in place would touch a new line
 * per k step for R of its 16 floats, lines a whole row apart (measured 3-4x slower;
 * transposing each task's columns into rows first, 1.25-1.8x slower than packing);
 * f16/bf16 widened R rows at a time into an L1 buffer measured 4% slower in a CLIP-L
 * forward than packing, which widens as it transposes. Each tile runs
 * over all of K with its accumulators in registers (k blocks measured slower: the
 * partial sums and B's streams cost more than A^T's reads from L2) into a block of
 * C^T, which goes into C's rows through 16x16 transposes at the end of the task (bias
 * and accumulate applied there; element-wise stores of each tile cost 7% at K = 768).
 * Measured at 77x3072x768 and 77x768x3072 (1 thread, CPU time, B [N,K] f32): 10-23%
 * faster than pack + micro-kernel.
 */
#include <stdlib.h>
#include <string.h>

#include <simde/x86/avx512.h>

#include "gemm_kernel.h"
#include "linalg/fokus_linalg.h"

#ifndef ROWS_AHEAD
#define ROWS_AHEAD 8
#endif
#ifndef ROWS_HEAD_LINES
#define ROWS_HEAD_LINES 4
#endif

#if defined(__GNUC__)
#define ROWS_INLINE static inline __attribute__((always_inline))
#else
#define ROWS_INLINE static inline
#endif

/* acc[r][v] = sum_k b[r*sr + k] * at[k][16v .. 16v+15]; tile stored as tmp[r][16V]
 * (rows of C^T). */
ROWS_INLINE void rows_tile(const int V, const int R, int64_t K, const float *restrict at, const float *restrict b,
                           int64_t sr, const float *bias, float *restrict tmp)
{
    simde__m512 acc[8][6];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = simde_mm512_setzero_ps();
    const float *bp[8], *next[8];
    for (int r = 0; r < R; r++) {
        bp[r] = b + r * sr;
        next[r] = bp[r] + R * sr;
    }
    int nr = 0;
    int64_t noff = 0;
    for (int64_t k = 0; k < K; k++) {
        /* The first lines of the next tile's rows, one per k step for the first
         * ROWS_HEAD_LINES * R steps. Each row of B is a new stream of 48 lines (K =
         * 768), and the hardware prefetcher misses the first few of every stream:
         * with the weights coming from memory (a model's forward pass) that cost
         * ~18% of the in-cache rate; this prefetch measured +4-8% there (1 thread,
         * 92 MB of B), no change with B in cache. Past B's end it is a no-op. */
        if (k < ROWS_HEAD_LINES * R) {
            __builtin_prefetch(next[nr] + noff, 0, 3);
            if (++nr == R) {
                nr = 0;
                noff += 16;
            }
        }
        /* A^T streams from L2 at V lines per k step (320 B at M = 77): the hardware
         * prefetchers alone left the loop waiting on it; ROWS_AHEAD steps ahead into L1
         * measured +6-8% (4, 8 and 12 alike; reading past the end of At is harmless) */
        for (int v = 0; v < V; v++) __builtin_prefetch(at + 16 * V * ROWS_AHEAD + 16 * v, 0, 3);
        simde__m512 x[6];
        for (int v = 0; v < V; v++) x[v] = simde_mm512_load_ps(at + 16 * v);
        for (int r = 0; r < R; r++) {
            simde__m512 w = simde_mm512_set1_ps(bp[r][k]);
            for (int v = 0; v < V; v++) acc[r][v] = simde_mm512_fmadd_ps(w, x[v], acc[r][v]);
        }
        at += 16 * V;
    }
    if (bias) /* (sum + bias) rounded once, as the unfused store adds it */
        for (int r = 0; r < R; r++) {
            const simde__m512 bv = simde_mm512_set1_ps(bias[r]);
            for (int v = 0; v < V; v++) acc[r][v] = simde_mm512_add_ps(acc[r][v], bv);
        }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) simde_mm512_store_ps(tmp + r * 16 * V + 16 * v, acc[r][v]);
}

#define ROWS_CASE(V, R, r) \
    case r: rows_tile(V, r, K, at, b, sr, bias, tmp); break;

/* one instantiation per (V, rows in this tile) */
static void tile_dispatch(int V, int rr, int64_t K, const float *at, const float *b, int64_t sr, const float *bias,
                          float *tmp)
{
    switch (V) {
    case 3:
        switch (rr) { ROWS_CASE(3, 8, 1) ROWS_CASE(3, 8, 2) ROWS_CASE(3, 8, 3) ROWS_CASE(3, 8, 4)
                      ROWS_CASE(3, 8, 5) ROWS_CASE(3, 8, 6) ROWS_CASE(3, 8, 7) ROWS_CASE(3, 8, 8) default: break; }
        break;
    case 4:
        switch (rr) { ROWS_CASE(4, 6, 1) ROWS_CASE(4, 6, 2) ROWS_CASE(4, 6, 3) ROWS_CASE(4, 6, 4)
                      ROWS_CASE(4, 6, 5) ROWS_CASE(4, 6, 6) default: break; }
        break;
    case 5:
        switch (rr) { ROWS_CASE(5, 5, 1) ROWS_CASE(5, 5, 2) ROWS_CASE(5, 5, 3) ROWS_CASE(5, 5, 4)
                      ROWS_CASE(5, 5, 5) default: break; }
        break;
    default:
        switch (rr) { ROWS_CASE(6, 4, 1) ROWS_CASE(6, 4, 2) ROWS_CASE(6, 4, 3) ROWS_CASE(6, 4, 4) default: break; }
        break;
    }
}

/* the tile's column count R for M rows (task sizes are multiples of it) */
static int rows_r(int64_t M)
{
    const int V = (int)((M + 15) / 16);
    return V <= 3 ? 8 : V == 4 ? 6 : V == 5 ? 5 : 4;
}

/* Rows n0..n1 of C^T (columns of C) into ct, (n1 - n0) rows of 16*ceil(M/16) floats,
 * plus bias[n] (NULL: none) added in registers. */
static void rows_tiles(int64_t M, int64_t K, const float *At, const float *B, int64_t ldb, const float *bias, float *ct,
                       int64_t n0, int64_t n1)
{
    const int V = (int)((M + 15) / 16), R = rows_r(M);
    const int64_t MP = 16 * (int64_t)V;
    for (int64_t n = n0; n < n1; n += R) {
        const int rr = (int)(n1 - n < R ? n1 - n : R);
        /* the tile's rows are rows n.. of C^T, contiguous in ct */
        tile_dispatch(V, rr, K, At, B + n * ldb, ldb, bias ? bias + n : NULL, ct + (n - n0) * MP);
    }
}

/* ------------------------------------------------------------------------------------
 * Groups of products sharing A (fokus_gemm_group, fokus_gemm_mlp): one parallel region
 * for all of them, A^T packed once per worker, tasks handed out in shrinking sizes.
 *
 * Why shrinking: tasks of equal size leave one worker idle for half a task on average
 * at the end of every product (30-130 us at CLIP-L's shapes, ~2 ms of a 49 ms forward
 * pass). Guided sizes (a quarter of what is left per worker pair, down to one tile of
 * R columns) keep the dynamic hand-out, which absorbs a worker slowed by another
 * process, and end both workers within a tile of each other.
 *
 * The bias is added to the tile's accumulators before they are stored, the activation
 * to the task's block of C^T while it is in L1, in the order of the unfused path
 * ((acc + bias), then act, then + C), so the fused
 * result equals fokus_gemm + fokus_activate bit for bit. A part may also write C^T
 * itself ([N][mp], rows of A past M hold junk): the MLP keeps its hidden layer that
 * way, since it is exactly the A^T that the second product reads. */

typedef struct rows_part {
    const float *B;
    int64_t ldb, N, g0;        /* g0: first group (of R columns) of this part */
    const float *bias;
    fokus_act act;
    int accumulate;
    float *C;                  /* C [M][ldc], or NULL when ct_out is set */
    int64_t ldc;
    float *ct_out;             /* C^T [N][mp], or NULL */
} rows_part;

#define ROWS_MAX_PARTS 4

typedef struct rows_plan {
    int64_t M, K, mp, R, unit;
    const float *A;            /* packed per worker into At when shared_at is NULL */
    int64_t lda;
    const float *shared_at;
    int nparts;
    rows_part part[ROWS_MAX_PARTS];
    int64_t *bound;            /* task t covers groups [bound[t], bound[t+1]) */
    int64_t ntasks;
    fokus_ctx *ctx;
    float *own_at, *own_ct;
    size_t at_bytes, ct_bytes;
    unsigned char *ready;
} rows_plan;

/* columns per piece: its C^T block, 128 x 80 floats, is 40 KiB (stays in L1) */
#define ROWS_UNIT_COLS 128

/* C^T block rows n0..n1 of part p: bias, activation, then into C (or left as C^T). */
static void rows_piece(const rows_plan *pl, const rows_part *p, const float *at, float *ct, int64_t n0, int64_t n1)
{
    float *blk = p->ct_out ? p->ct_out + n0 * pl->mp : ct;
    rows_tiles(pl->M, pl->K, at, p->B, p->ldb, p->bias, blk, n0, n1);
    const int64_t mp = pl->mp, nc = n1 - n0;
    fokus_activate(NULL, blk, nc * mp, p->act); /* mp is a multiple of 16: all SIMD */
    if (!p->ct_out) fokus_gemm_store_ct(blk, mp, pl->M, nc, NULL, p->accumulate, p->C + n0, p->ldc);
}

static void rows_group_task(void *arg, int64_t begin, int64_t end, int worker)
{
    const rows_plan *pl = (const rows_plan *)arg;
    float *at = pl->own_at, *ct = pl->own_ct;
    if (pl->ctx) {
        if (!pl->shared_at) at = (float *)fokus_ctx_scratch(pl->ctx, FOKUS_SCRATCH_GEMM_A, worker, pl->at_bytes);
        ct = (float *)fokus_ctx_scratch(pl->ctx, FOKUS_SCRATCH_GEMM_B, worker, pl->ct_bytes);
    }
    if (pl->shared_at) {
        at = (float *)pl->shared_at;
    } else if (!pl->ready[worker]) {
        /* each worker packs its own copy, so it sits in its core's L2 */
        fokus_gemm_pack_at(pl->A, pl->lda, pl->M, pl->K, pl->mp, at);
        pl->ready[worker] = 1;
    }
    for (int64_t t = begin; t < end; t++) {
        const int64_t g0 = pl->bound[t], g1 = pl->bound[t + 1];
        for (int i = 0; i < pl->nparts; i++) {
            const rows_part *p = &pl->part[i];
            const int64_t pg1 = i + 1 < pl->nparts ? pl->part[i + 1].g0 : pl->bound[pl->ntasks];
            if (g1 <= p->g0 || g0 >= pg1) continue;
            int64_t n0 = ((g0 > p->g0 ? g0 : p->g0) - p->g0) * pl->R;
            const int64_t nend = ((g1 < pg1 ? g1 : pg1) - p->g0) * pl->R, n1 = nend < p->N ? nend : p->N;
            for (; n0 < n1; n0 += pl->unit) rows_piece(pl, p, at, ct, n0, n0 + pl->unit < n1 ? n0 + pl->unit : n1);
        }
    }
}

/* Task boundaries in groups: guided sizes ceil(left / (2 * workers)), at most `cap`,
 * at least 1. Returns the number of tasks, filling bound[0..ntasks] when bound is set. */
static int64_t rows_bounds(int64_t groups, int workers, int64_t cap, int64_t *bound)
{
    int64_t t = 0, g = 0;
    if (bound) bound[0] = 0;
    while (g < groups) {
        const int64_t left = groups - g;
        int64_t s = workers > 1 ? (left + 2 * workers - 1) / (2 * workers) : left;
        if (s > cap) s = cap;
        if (s < 1) s = 1;
        g += s;
        t++;
        if (bound) bound[t] = g;
    }
    return t;
}

/* Runs a plan whose parts, M, K, A/shared_at are set; rows path conditions hold. */
static fokus_status rows_run(fokus_ctx *ctx, rows_plan *pl, fokus_error *err)
{
    pl->ctx = ctx;
    pl->mp = 16 * ((pl->M + 15) / 16);
    pl->R = rows_r(pl->M);
    pl->unit = ROWS_UNIT_COLS / pl->R * pl->R;
    int64_t groups = 0;
    double flops = 0;
    for (int i = 0; i < pl->nparts; i++) {
        pl->part[i].g0 = groups;
        groups += (pl->part[i].N + pl->R - 1) / pl->R;
        flops += 2.0 * (double)pl->M * (double)pl->part[i].N * (double)pl->K;
    }
    const int nthreads = ctx ? fokus_ctx_threads(ctx) : 1;
    const int workers = flops >= GEMM_PAR_FLOPS ? nthreads : 1;
    /* one worker: one task (the pieces keep C^T in L1) */
    const int64_t cap = workers > 1 ? pl->unit / pl->R : groups;
    pl->ntasks = rows_bounds(groups, workers, cap, NULL);
    if ((uint64_t)pl->K > SIZE_MAX / sizeof(float) / 128)
        return fokus_fail(err, FOKUS_ENOMEM, "gemm: K = %lld is too large for scratch", (long long)pl->K);
    pl->at_bytes = pl->shared_at ? 0 : (size_t)pl->mp * (size_t)pl->K * sizeof(float);
    pl->ct_bytes = (size_t)pl->unit * (size_t)pl->mp * sizeof(float);
    unsigned char ready[1024];
    if (nthreads > (int)sizeof ready) return fokus_fail(err, FOKUS_EINVAL, "gemm: more than 1024 workers");
    memset(ready, 0, (size_t)nthreads);
    pl->ready = ready;
    pl->bound = (int64_t *)malloc((size_t)(pl->ntasks + 1) * sizeof(int64_t));
    if (!pl->bound) return fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory");
    rows_bounds(groups, workers, cap, pl->bound);
    fokus_status st = FOKUS_OK;
    if (ctx) {
        for (int w = 0; w < nthreads; w++)
            if ((pl->at_bytes && !fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_A, w, pl->at_bytes)) ||
                !fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_B, w, pl->ct_bytes))
                st = fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory for packing buffers");
    } else {
        pl->own_at = pl->at_bytes ? (float *)fokus_alloc(pl->at_bytes) : NULL;
        pl->own_ct = (float *)fokus_alloc(pl->ct_bytes);
        if ((pl->at_bytes && !pl->own_at) || !pl->own_ct)
            st = fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory for packing buffers");
    }
    if (st == FOKUS_OK) {
        if (workers > 1) fokus_parallel(ctx, pl->ntasks, 1, rows_group_task, pl);
        else rows_group_task(pl, 0, pl->ntasks, 0);
    }
    fokus_free(pl->own_at);
    fokus_free(pl->own_ct);
    free(pl->bound);
    return st;
}

static bool rows_fits(int64_t M, const fokus_gemm_part *p)
{
    return M >= GEMM_ROWS_MIN && M <= GEMM_ROWS_MAX && p->dtype == FOKUS_F32;
}

static fokus_status check_part(const char *fn, int i, int64_t M, int64_t K, const fokus_gemm_part *p, bool need_c,
                               fokus_error *err)
{
    if (p->dtype != FOKUS_F32 && p->dtype != FOKUS_F16 && p->dtype != FOKUS_BF16)
        return fokus_fail(err, FOKUS_EINVAL, "%s: part %d: w dtype must be f32, f16 or bf16, got dtype %d", fn, i + 1,
                          (int)p->dtype);
    if (p->n < 0) return fokus_fail(err, FOKUS_EINVAL, "%s: part %d: n must be >= 0, got %lld", fn, i + 1, (long long)p->n);
    if ((unsigned)p->act > FOKUS_ACT_SILU)
        return fokus_fail(err, FOKUS_EINVAL, "%s: part %d: unknown activation %d", fn, i + 1, (int)p->act);
    if (p->n > 0 && K > 0 && (!p->w || p->ldw < K))
        return fokus_fail(err, FOKUS_EINVAL, "%s: part %d: w must be non-NULL with ldw >= K = %lld, got ldw %lld", fn,
                          i + 1, (long long)K, (long long)p->ldw);
    if (need_c && p->n > 0 && M > 0 && (!p->c || p->ldc < p->n))
        return fokus_fail(err, FOKUS_EINVAL, "%s: part %d: c must be non-NULL with ldc >= n = %lld, got ldc %lld", fn,
                          i + 1, (long long)p->n, (long long)p->ldc);
    return FOKUS_OK;
}

/* The general path of one part: fokus_gemm, then the activation; with both an
 * activation and accumulate, through a temporary so act sees only the product. */
static fokus_status part_plain(fokus_ctx *ctx, int64_t M, int64_t K, const float *A, int64_t lda,
                               const fokus_gemm_part *p, fokus_error *err)
{
    if (p->act == FOKUS_ACT_NONE)
        return fokus_gemm(ctx, M, p->n, K, A, lda, p->w, p->dtype, true, p->ldw, p->bias, p->accumulate, p->c, p->ldc, err);
    float *t = p->accumulate ? (float *)fokus_alloc((size_t)(M * p->n) * sizeof(float)) : p->c;
    const int64_t ldt = p->accumulate ? p->n : p->ldc;
    if (!t) return fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory");
    fokus_status st = fokus_gemm(ctx, M, p->n, K, A, lda, p->w, p->dtype, true, p->ldw, p->bias, false, t, ldt, err);
    if (st == FOKUS_OK)
        for (int64_t m = 0; m < M; m++) {
            fokus_activate(ctx, t + m * ldt, p->n, p->act);
            if (p->accumulate)
                for (int64_t n = 0; n < p->n; n++) p->c[m * p->ldc + n] += t[m * ldt + n];
        }
    if (p->accumulate) fokus_free(t);
    return st;
}

fokus_status fokus_gemm_group(fokus_ctx *ctx, int64_t M, int64_t K, const float *A, int64_t lda, int nparts,
                              const fokus_gemm_part *parts, fokus_error *err)
{
    if (nparts < 1 || nparts > ROWS_MAX_PARTS || !parts)
        return fokus_fail(err, FOKUS_EINVAL, "gemm_group: need 1..%d parts, got %d", ROWS_MAX_PARTS, nparts);
    if (M < 0 || K < 0) return fokus_fail(err, FOKUS_EINVAL, "gemm_group: M and K must be >= 0");
    if (M > 0 && K > 0 && (!A || lda < K))
        return fokus_fail(err, FOKUS_EINVAL, "gemm_group: A must be non-NULL with lda >= K = %lld", (long long)K);
    bool rows = K > 0;
    for (int i = 0; i < nparts; i++) {
        fokus_status st = check_part("gemm_group", i, M, K, &parts[i], true, err);
        if (st != FOKUS_OK) return st;
        rows = rows && rows_fits(M, &parts[i]) && parts[i].n > 0;
    }
    if (!rows) {
        for (int i = 0; i < nparts; i++) {
            fokus_status st = part_plain(ctx, M, K, A, lda, &parts[i], err);
            if (st != FOKUS_OK) return st;
        }
        return FOKUS_OK;
    }
    rows_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.M = M; pl.K = K; pl.A = A; pl.lda = lda; pl.nparts = nparts;
    for (int i = 0; i < nparts; i++) {
        const fokus_gemm_part *p = &parts[i];
        rows_part *q = &pl.part[i];
        q->B = (const float *)p->w; q->ldb = p->ldw; q->N = p->n;
        q->bias = p->bias; q->act = p->act; q->accumulate = p->accumulate;
        q->C = p->c; q->ldc = p->ldc;
    }
    return rows_run(ctx, &pl, err);
}

fokus_status fokus_gemm_mlp(fokus_ctx *ctx, int64_t M, int64_t K, const float *A, int64_t lda,
                            const fokus_gemm_part *fc1, const fokus_gemm_part *fc2, fokus_error *err)
{
    if (!fc1 || !fc2) return fokus_fail(err, FOKUS_EINVAL, "gemm_mlp: fc1 and fc2 must not be NULL");
    if (M < 0 || K < 0) return fokus_fail(err, FOKUS_EINVAL, "gemm_mlp: M and K must be >= 0");
    if (M > 0 && K > 0 && (!A || lda < K))
        return fokus_fail(err, FOKUS_EINVAL, "gemm_mlp: A must be non-NULL with lda >= K = %lld", (long long)K);
    fokus_status st;
    if ((st = check_part("gemm_mlp", 0, M, K, fc1, false, err)) != FOKUS_OK ||
        (st = check_part("gemm_mlp", 1, M, fc1->n, fc2, true, err)) != FOKUS_OK)
        return st;
    const int64_t hid = fc1->n;
    if (M == 0 || fc2->n == 0) return FOKUS_OK;
    if (!(K > 0 && hid > 0 && rows_fits(M, fc1) && rows_fits(M, fc2))) {
        /* the plain path: the hidden layer [M, I] in the context's scratch (fokus_gemm
         * does not use this slot's shared buffer) or a buffer of its own */
        const size_t hbytes = (size_t)(M * (hid > 0 ? hid : 1)) * sizeof(float);
        float *h = ctx ? (float *)fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_B, fokus_ctx_threads(ctx), hbytes)
                       : (float *)fokus_alloc(hbytes);
        if (!h) return fokus_fail(err, FOKUS_ENOMEM, "gemm_mlp: out of memory for the hidden layer");
        fokus_gemm_part p1 = *fc1;
        p1.accumulate = false;
        p1.c = h;
        p1.ldc = hid;
        if ((st = part_plain(ctx, M, K, A, lda, &p1, err)) == FOKUS_OK) st = part_plain(ctx, M, hid, h, hid, fc2, err);
        if (!ctx) fokus_free(h);
        return st;
    }
    /* the hidden layer stays transposed, [I][mp]: fc1 writes it as its C^T, fc2 reads
     * it as its packed A^T (no store of fc1's C, no packing of fc2's A) */
    const int64_t mp = 16 * ((M + 15) / 16);
    if ((uint64_t)hid > SIZE_MAX / sizeof(float) / (uint64_t)mp)
        return fokus_fail(err, FOKUS_ENOMEM, "gemm_mlp: hidden size %lld is too large", (long long)hid);
    const size_t hb = (size_t)hid * (size_t)mp * sizeof(float);
    const int nthreads = ctx ? fokus_ctx_threads(ctx) : 1;
    float *ht = ctx ? (float *)fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_B, nthreads, hb) : (float *)fokus_alloc(hb);
    if (!ht) return fokus_fail(err, FOKUS_ENOMEM, "gemm_mlp: out of memory for the hidden layer");
    rows_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.M = M; pl.K = K; pl.A = A; pl.lda = lda; pl.nparts = 1;
    pl.part[0].B = (const float *)fc1->w; pl.part[0].ldb = fc1->ldw; pl.part[0].N = hid;
    pl.part[0].bias = fc1->bias; pl.part[0].act = fc1->act;
    pl.part[0].ct_out = ht;
    st = rows_run(ctx, &pl, err);
    if (st == FOKUS_OK) {
        memset(&pl, 0, sizeof pl);
        pl.M = M; pl.K = hid; pl.shared_at = ht; pl.nparts = 1;
        pl.part[0].B = (const float *)fc2->w; pl.part[0].ldb = fc2->ldw; pl.part[0].N = fc2->n;
        pl.part[0].bias = fc2->bias; pl.part[0].act = fc2->act; pl.part[0].accumulate = fc2->accumulate;
        pl.part[0].C = fc2->c; pl.part[0].ldc = fc2->ldc;
        st = rows_run(ctx, &pl, err);
    }
    if (!ctx) fokus_free(ht);
    return st;
}
