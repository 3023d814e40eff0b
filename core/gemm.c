/*
 * fokus_gemm: the driver around the register tile of gemm_kernel.c, in the
 * GotoBLAS/BLIS arrangement, plus the double-precision reference.
 *
 * Loops, outermost first, for one task (a block of rows x a block of columns of C):
 *   i0: rows in blocks of mb (<= GEMM_MB)       A block mb x kc packed once per (i0,p0)
 *   p0: k in blocks of kc (~GEMM_KC)            C gets += for every block after the first
 *   j0: columns in blocks of nb (<= GEMM_NB)    B block kc x nb packed (widened) into L2
 *   ir: MR-row micro-panels of the A block      stays in L1 while ...
 *   jr: NR-column micro-panels of the B block   ... these stream from L2
 * kc bounds the micro-panels: an A micro-panel (MR x kc) must sit in L1 next to the B
 * micro-panel that streams past it; nb bounds the packed B block to part of L2.
 *
 * Threads: the output is cut into a grid of tm x tn tasks (one per worker), preferring
 * column cuts: at M = 77 (CLIP tokens) a row cut would leave one worker a sliver,
 * while N is in the thousands. Each task packs its own copy of the A rows it needs (for
 * M = 77, K = 768 that is 236 KB, ~1-2% of the task) so the whole product is one fork
 * and join, and B, the large operand, is packed exactly once overall.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_kernel.h"

#ifndef GEMM_KC
#define GEMM_KC 384
#endif
#ifndef GEMM_NB
#define GEMM_NB 320
#endif
#ifndef GEMM_MB
#define GEMM_MB 4096
#endif
/* Below this many flops (2*M*N*K) a fork/join (a few us) costs more than it saves. */
#ifndef GEMM_PAR_FLOPS
#define GEMM_PAR_FLOPS 3.0e6
#endif

/* Up to this many rows (half as many for B [K,N]), B is streamed without packing
 * (gemm_small.c): measured 1.1-2.5x faster than pack + kernel there, slower above. */
#ifndef GEMM_SMALL_M
#define GEMM_SMALL_M 8
#endif
/* ... and split over threads from this many elements of B. */
#ifndef GEMM_SMALL_PAR_ELEMS
#define GEMM_SMALL_PAR_ELEMS 65536.0
#endif

#define ROUND_UP(x, m) (((x) + (m) - 1) / (m) * (m))

typedef struct gemm_job {
    int64_t M, N, K;
    const float *A;
    int64_t lda;
    const void *B;
    fokus_dtype bt;
    int btrans;
    int64_t ldb;
    const float *bias;
    int accumulate;
    float *C;
    int64_t ldc;

    int64_t kc, mb, nb;        /* blocking */
    int tm, tn;                /* task grid */
    fokus_ctx *ctx;
    float *own_a, *own_b;      /* scratch when there is no context */
} gemm_job;

/* [begin, end) of part `i` of `n` equal parts of `units` units of `size` elements,
 * clipped to `total`. */
static void split_range(int64_t total, int64_t size, int parts, int i, int64_t *begin, int64_t *end)
{
    int64_t units = (total + size - 1) / size;
    int64_t b = units * i / parts, e = units * (i + 1) / parts;
    *begin = b * size < total ? b * size : total;
    *end = e * size < total ? e * size : total;
}

/* k-blocks of near-equal size (multiples of 16 where possible) so that no block is a
 * thin remainder whose store costs more than its FMAs. */
static int64_t choose_kc(int64_t K)
{
    if (K <= GEMM_KC) return K;
    int64_t nblk = (K + GEMM_KC - 1) / GEMM_KC;
    int64_t kc = ROUND_UP((K + nblk - 1) / nblk, 16);
    return kc < K ? kc : K;
}

static void run_block(const gemm_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *abuf,
                      float *bbuf)
{
    for (int64_t i0 = m0; i0 < m1; i0 += j->mb) {
        const int64_t mlen = m1 - i0 < j->mb ? m1 - i0 : j->mb;
        for (int64_t p0 = 0; p0 < j->K; p0 += j->kc) {
            const int64_t klen = j->K - p0 < j->kc ? j->K - p0 : j->kc;
            const int first = p0 == 0;
            fokus_gemm_pack_a(j->A, j->lda, i0, mlen, p0, klen, abuf);
            for (int64_t j0 = n0; j0 < n1; j0 += j->nb) {
                const int64_t nlen = n1 - j0 < j->nb ? n1 - j0 : j->nb;
                fokus_gemm_pack_b(j->B, j->bt, j->btrans, j->ldb, p0, klen, j0, nlen, bbuf);
                for (int64_t ir = 0; ir < mlen; ir += GEMM_MR) {
                    const float *ap = abuf + ir * klen;
                    gemm_store st;
                    st.ldc = j->ldc;
                    st.m = (int)(mlen - ir < GEMM_MR ? mlen - ir : GEMM_MR);
                    st.load_c = !first || j->accumulate;
                    for (int64_t jr = 0; jr < nlen; jr += GEMM_NR) {
                        st.c = j->C + (i0 + ir) * j->ldc + j0 + jr;
                        st.n = (int)(nlen - jr < GEMM_NR ? nlen - jr : GEMM_NR);
                        st.bias = first && j->bias ? j->bias + j0 + jr : NULL;
                        fokus_gemm_ukernel(klen, ap, bbuf + jr * klen, &st);
                    }
                }
            }
        }
    }
}

static size_t a_bytes(const gemm_job *j)
{
    return ((size_t)ROUND_UP(j->mb, GEMM_MR) * (size_t)j->kc + GEMM_PACK_SLACK) * sizeof(float);
}

static size_t b_bytes(const gemm_job *j)
{
    return (size_t)ROUND_UP(j->nb, GEMM_NR) * (size_t)j->kc * sizeof(float);
}

static void gemm_task(void *arg, int64_t begin, int64_t end, int worker)
{
    const gemm_job *j = (const gemm_job *)arg;
    float *abuf = j->own_a, *bbuf = j->own_b;
    if (j->ctx) {
        /* reserved before the parallel call, so this is a lookup */
        abuf = (float *)fokus_ctx_scratch(j->ctx, FOKUS_SCRATCH_GEMM_A, worker, a_bytes(j));
        bbuf = (float *)fokus_ctx_scratch(j->ctx, FOKUS_SCRATCH_GEMM_B, worker, b_bytes(j));
    }
    for (int64_t t = begin; t < end; t++) {
        int64_t m0, m1, n0, n1;
        split_range(j->M, GEMM_MR, j->tm, (int)(t / j->tn), &m0, &m1);
        split_range(j->N, GEMM_NR, j->tn, (int)(t % j->tn), &n0, &n1);
        if (m0 < m1 && n0 < n1) run_block(j, m0, m1, n0, n1, abuf, bbuf);
    }
}

/* ---- few rows: gemm_small.c, split over columns */

typedef struct small_job {
    gemm_small_args g;
    int64_t unit, N;
    int parts;
} small_job;

static void small_task(void *arg, int64_t begin, int64_t end, int worker)
{
    const small_job *s = (const small_job *)arg;
    (void)worker;
    for (int64_t t = begin; t < end; t++) {
        int64_t n0, n1;
        split_range(s->N, s->unit, s->parts, (int)t, &n0, &n1);
        if (n0 < n1) fokus_gemm_small(&s->g, n0, n1);
    }
}

static fokus_status gemm_small_path(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                    const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb,
                                    const float *bias, bool accumulate, float *C, int64_t ldc, fokus_error *err)
{
    small_job s;
    memset(&s, 0, sizeof s);
    s.g.M = M; s.g.K = K;
    s.g.A = A; s.g.lda = lda;
    s.g.B = B; s.g.bt = b_dtype; s.g.btrans = b_trans; s.g.ldb = ldb;
    s.g.bias = bias; s.g.accumulate = accumulate;
    s.g.C = C; s.g.ldc = ldc;
    s.N = N;
    s.unit = b_trans ? 4 : 64;
    const int nthreads = fokus_ctx_threads(ctx);
    const int64_t units = (N + s.unit - 1) / s.unit;
    /* B bytes decide: the product streams B once */
    s.parts = 1;
    if (ctx && nthreads > 1 && (double)N * (double)K >= GEMM_SMALL_PAR_ELEMS)
        s.parts = (int)(units < nthreads ? units : nthreads);

    float *own = NULL;
    if (b_trans) {
        /* A rows zero-padded to a multiple of 16, shared by all workers */
        if ((uint64_t)K > (SIZE_MAX / sizeof(float) - 16) / (uint64_t)M)
            return fokus_fail(err, FOKUS_ENOMEM, "gemm: K = %lld is too large for scratch", (long long)K);
        s.g.kpad = ROUND_UP(K, 16);
        size_t bytes = (size_t)M * (size_t)s.g.kpad * sizeof(float);
        float *ap = ctx ? (float *)fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_A, nthreads, bytes)
                        : (own = (float *)fokus_alloc(bytes));
        if (!ap) return fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory for %zu bytes of scratch", bytes);
        for (int64_t i = 0; i < M; i++) {
            memcpy(ap + i * s.g.kpad, A + i * lda, (size_t)K * sizeof(float));
            memset(ap + i * s.g.kpad + K, 0, (size_t)(s.g.kpad - K) * sizeof(float));
        }
        s.g.Apad = ap;
    }
    if (s.parts > 1) fokus_parallel(ctx, s.parts, 1, small_task, &s);
    else small_task(&s, 0, 1, 0);
    fokus_free(own);
    return FOKUS_OK;
}

/* C = bias (or C += bias): the K = 0 product. */
static void bias_only(int64_t M, int64_t N, const float *bias, bool accumulate, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        for (int64_t x = 0; x < N; x++) {
            float v = bias ? bias[x] : 0.0f;
            c[x] = accumulate ? c[x] + v : v;
        }
    }
}

static fokus_status check_args(const char *fn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                               const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb, float *C,
                               int64_t ldc, fokus_error *err)
{
    if (M < 0 || N < 0 || K < 0)
        return fokus_fail(err, FOKUS_EINVAL, "%s: M, N, K must be >= 0, got %lld, %lld, %lld", fn,
                          (long long)M, (long long)N, (long long)K);
    if (b_dtype != FOKUS_F32 && b_dtype != FOKUS_F16 && b_dtype != FOKUS_BF16)
        return fokus_fail(err, FOKUS_EINVAL, "%s: B dtype must be f32, f16 or bf16, got dtype %d", fn,
                          (int)b_dtype);
    if (M > 0 && N > 0 && K > 0) {
        if (!A || !B) return fokus_fail(err, FOKUS_EINVAL, "%s: A and B must not be NULL", fn);
        if (lda < K)
            return fokus_fail(err, FOKUS_EINVAL, "%s: lda must be >= K = %lld, got %lld", fn, (long long)K,
                              (long long)lda);
        int64_t bw = b_trans ? K : N, bh = b_trans ? N : K;
        if (ldb < bw)
            return fokus_fail(err, FOKUS_EINVAL, "%s: ldb must be >= %s = %lld, got %lld", fn,
                              b_trans ? "K" : "N", (long long)bw, (long long)ldb);
        if (lda > INT64_MAX / M || ldb > INT64_MAX / bh)
            return fokus_fail(err, FOKUS_ERANGE, "%s: matrix extent overflows", fn);
    }
    if (M > 0 && N > 0) {
        if (!C) return fokus_fail(err, FOKUS_EINVAL, "%s: C must not be NULL", fn);
        if (ldc < N)
            return fokus_fail(err, FOKUS_EINVAL, "%s: ldc must be >= N = %lld, got %lld", fn, (long long)N,
                              (long long)ldc);
        if (ldc > INT64_MAX / M) return fokus_fail(err, FOKUS_ERANGE, "%s: C extent overflows", fn);
    }
    return FOKUS_OK;
}

fokus_status fokus_gemm(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb, const float *bias,
                        bool accumulate, float *C, int64_t ldc, fokus_error *err)
{
    fokus_status st = check_args("gemm", M, N, K, A, lda, B, b_dtype, b_trans, ldb, C, ldc, err);
    if (st != FOKUS_OK) return st;
    if (M == 0 || N == 0) return FOKUS_OK;
    if (K == 0) {
        bias_only(M, N, bias, accumulate, C, ldc);
        return FOKUS_OK;
    }

    if (M <= (b_trans ? GEMM_SMALL_M : GEMM_SMALL_M / 2))
        return gemm_small_path(ctx, M, N, K, A, lda, B, b_dtype, b_trans, ldb, bias, accumulate, C, ldc, err);

    gemm_job j;
    memset(&j, 0, sizeof j);
    j.M = M; j.N = N; j.K = K;
    j.A = A; j.lda = lda;
    j.B = B; j.bt = b_dtype; j.btrans = b_trans; j.ldb = ldb;
    j.bias = bias; j.accumulate = accumulate;
    j.C = C; j.ldc = ldc;
    j.ctx = ctx;

    /* task grid: columns first (see the top comment) */
    const int nthreads = fokus_ctx_threads(ctx);
    const int64_t npan = (N + GEMM_NR - 1) / GEMM_NR, mtiles = (M + GEMM_MR - 1) / GEMM_MR;
    j.tm = j.tn = 1;
    if (ctx && nthreads > 1 && 2.0 * (double)M * (double)N * (double)K >= GEMM_PAR_FLOPS) {
        j.tn = (int)(npan < nthreads ? npan : nthreads);
        j.tm = nthreads / j.tn;
        if (j.tm > mtiles) j.tm = (int)mtiles;
    }

    /* blocking for the largest task */
    int64_t task_m = ROUND_UP((mtiles + j.tm - 1) / j.tm * GEMM_MR, GEMM_MR);
    int64_t task_n = (npan + j.tn - 1) / j.tn * GEMM_NR;
    j.kc = choose_kc(K);
    j.mb = task_m < (GEMM_MB / GEMM_MR) * GEMM_MR ? task_m : (GEMM_MB / GEMM_MR) * GEMM_MR;
    {
        /* equal column blocks of at most GEMM_NB */
        int64_t nblk = (task_n + GEMM_NB - 1) / GEMM_NB;
        j.nb = ROUND_UP((task_n + nblk - 1) / nblk, GEMM_NR);
    }

    const int ntasks = j.tm * j.tn;
    if (ctx) {
        /* every worker, even for one task: a call nested in another pool task runs
         * inline under that task's worker index */
        for (int w = 0; w < nthreads; w++) {
            if (!fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_A, w, a_bytes(&j)) ||
                !fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_B, w, b_bytes(&j)))
                return fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory for packing buffers");
        }
        fokus_parallel(ctx, ntasks, 1, gemm_task, &j);
    } else {
        j.own_a = (float *)fokus_alloc(a_bytes(&j));
        j.own_b = (float *)fokus_alloc(b_bytes(&j));
        if (!j.own_a || !j.own_b) {
            fokus_free(j.own_a);
            fokus_free(j.own_b);
            return fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory for packing buffers");
        }
        gemm_task(&j, 0, 1, 0);
        fokus_free(j.own_a);
        fokus_free(j.own_b);
    }
    return FOKUS_OK;
}

fokus_status fokus_gemm_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                            fokus_dtype b_dtype, bool b_trans, int64_t ldb, const float *bias, bool accumulate,
                            float *C, int64_t ldc, fokus_error *err)
{
    fokus_status st = check_args("gemm_ref", M, N, K, A, lda, B, b_dtype, b_trans, ldb, C, ldc, err);
    if (st != FOKUS_OK) return st;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t x = 0; x < N; x++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++) {
                int64_t idx = b_trans ? x * ldb + k : k * ldb + x;
                s += (double)A[i * lda + k] * (double)fokus_gemm_b_at(B, b_dtype, idx);
            }
            if (bias) s += bias[x];
            if (accumulate) s += C[i * ldc + x];
            C[i * ldc + x] = (float)s;
        }
    }
    return FOKUS_OK;
}
