/* fokus_gemm against the double-precision fokus_gemm_ref on ragged shapes, every B
 * dtype and layout, bias/accumulate, padded leading dimensions, 1 and 2 threads.
 *
 * Tolerance. A float dot product of K terms summed in any order (here: FMA chains per
 * k-block, then one add per block into C) has |error| <= gamma_n * sum_k |a_k b_k|
 * with gamma_n ~ n * 2^-24 and n the number of roundings on the path, n <= K + 2
 * (the +2 for bias and the accumulated C). So each element is checked against
 * (K + 2) * 2^-24 * (sum_k |a_ik b_kj| + |bias_j| + |C_ij|), a bound the GEMM must
 * meet whatever its blocking, and yet far below the size of one missing or doubled
 * term (~ sum/K for the random data here): test_detects_errors checks that. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fokus.h"
#include "check.h"
#include "linalg/gemm_kernel.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static float rnd_f(void) /* uniform in [-1, 1) */
{
    return (float)((double)rnd_u32() / 2147483648.0 - 1.0);
}

/* An f16 bit pattern of a normal number with |x| in [2^-4, 2^2), random sign. */
static uint16_t rnd_f16(void)
{
    uint32_t r = rnd_u32();
    uint16_t sign = (uint16_t)((r & 1) << 15), exp = (uint16_t)(11 + (r >> 1) % 6), man = (uint16_t)((r >> 8) & 0x3ff);
    return (uint16_t)(sign | (exp << 10) | man);
}

/* bf16 of a random float: the top half of its bits (truncation; widening is exact). */
static uint16_t rnd_bf16(void)
{
    float f = rnd_f() * 2.0f;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
}

static double widen(const void *B, fokus_dtype dt, int64_t idx)
{
    if (dt == FOKUS_F32) return ((const float *)B)[idx];
    uint16_t h = ((const uint16_t *)B)[idx];
    if (dt == FOKUS_BF16) {
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    /* independent of the library's converter: value = (-1)^s 2^(e-15) (1 + m/1024) */
    int e = (h >> 10) & 31, m = h & 0x3ff;
    double v = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
    return (h & 0x8000) ? -v : v;
}

typedef struct gemm_case {
    int64_t M, N, K;
    fokus_dtype dt;
    bool trans, bias, acc;
    int pad;      /* extra elements per row of A, B, C */
} gemm_case;

/* Runs one case with `ctx` and returns the number of elements outside the tolerance
 * (and 0 when the call itself failed: that is checked separately). If `corrupt` is set,
 * one output element is perturbed by one term before comparing (a negative control). */
static int64_t run_case(fokus_ctx *ctx, const gemm_case *g, bool corrupt, double *worst)
{
    const int64_t M = g->M, N = g->N, K = g->K;
    const int64_t lda = K + g->pad, ldb = (g->trans ? K : N) + g->pad, ldc = N + g->pad;
    const int64_t brows = g->trans ? N : K;
    const size_t esz = g->dt == FOKUS_F32 ? 4 : 2;
    float *A = malloc(sizeof(float) * (size_t)(M * lda + 1));
    void *B = malloc(esz * (size_t)(brows * ldb + 1));
    float *bias = malloc(sizeof(float) * (size_t)(N + 1));
    float *C = malloc(sizeof(float) * (size_t)(M * ldc + 1));
    float *C0 = malloc(sizeof(float) * (size_t)(M * ldc + 1));
    for (int64_t i = 0; i < M * lda; i++) A[i] = rnd_f();
    for (int64_t i = 0; i < brows * ldb; i++) {
        if (g->dt == FOKUS_F32) ((float *)B)[i] = rnd_f();
        else if (g->dt == FOKUS_F16) ((uint16_t *)B)[i] = rnd_f16();
        else ((uint16_t *)B)[i] = rnd_bf16();
    }
    for (int64_t i = 0; i < N; i++) bias[i] = rnd_f();
    for (int64_t i = 0; i < M * ldc; i++) C0[i] = C[i] = rnd_f();

    fokus_error err = {{0}};
    fokus_status st = fokus_gemm(ctx, M, N, K, A, lda, B, g->dt, g->trans, ldb, g->bias ? bias : NULL, g->acc,
                                 C, ldc, &err);
    CHECK_MSG(st == FOKUS_OK, "gemm %lldx%lldx%lld: %s", (long long)M, (long long)N, (long long)K, err.msg);
    if (corrupt && M > 0 && N > 0 && K > 0) {
        /* 0.25 = the mean |a b| of two uniform [-1, 1) numbers: one typical term */
        C[(M / 2) * ldc + N / 2] += 0.25f;
    }

    /* reference in double: op(B) widened once, rows accumulated column-wise */
    double *Bd = malloc(sizeof(double) * (size_t)(K * N + 1));
    double *sum = malloc(sizeof(double) * (size_t)(N + 1)), *mag = malloc(sizeof(double) * (size_t)(N + 1));
    for (int64_t k = 0; k < K; k++)
        for (int64_t x = 0; x < N; x++) Bd[k * N + x] = widen(B, g->dt, g->trans ? x * ldb + k : k * ldb + x);
    int64_t bad = 0;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t x = 0; x < N; x++) {
            sum[x] = g->bias ? bias[x] : 0.0;
            mag[x] = fabs(sum[x]);
            if (g->acc) {
                sum[x] += C0[i * ldc + x];
                mag[x] += fabs(C0[i * ldc + x]);
            }
        }
        for (int64_t k = 0; k < K; k++) {
            const double a = A[i * lda + k];
            const double *bk = Bd + k * N;
            for (int64_t x = 0; x < N; x++) {
                double p = a * bk[x];
                sum[x] += p;
                mag[x] += fabs(p);
            }
        }
        for (int64_t x = 0; x < N; x++) {
            double tol = (double)(K + 2) * ldexp(1.0, -24) * mag[x] + 1e-30;
            double e = fabs((double)C[i * ldc + x] - sum[x]);
            if (worst && e / tol > *worst) *worst = e / tol;
            if (!(e <= tol)) {
                if (bad < 3 && !corrupt)
                    fprintf(stderr, "  [%lld,%lld] got %.9g want %.9g (tol %.3g)\n", (long long)i, (long long)x,
                            C[i * ldc + x], sum[x], tol);
                bad++;
            }
        }
        /* padding columns must be untouched */
        for (int64_t x = N; x < ldc; x++)
            if (C[i * ldc + x] != C0[i * ldc + x]) bad++;
    }
    free(Bd); free(sum); free(mag);
    free(A); free(B); free(bias); free(C); free(C0);
    return bad;
}

static fokus_ctx *ctx1, *ctx2;

static void test_ragged_shapes(void)
{
    static const int64_t sizes[] = {1, 2, 7, 15, 16, 17, 31, 33, 77, 100};
    const int ns = (int)(sizeof sizes / sizeof *sizes);
    int n = 0;
    double worst = 0;
    /* every (M, N, K) from the list with rotating dtype/layout/options: ~1000 cases */
    for (int a = 0; a < ns; a++)
        for (int b = 0; b < ns; b++)
            for (int c = 0; c < ns; c++) {
                gemm_case g;
                g.M = sizes[a]; g.N = sizes[b]; g.K = sizes[c];
                g.dt = (fokus_dtype[]){FOKUS_F32, FOKUS_F16, FOKUS_BF16}[n % 3];
                g.trans = (n / 3) % 2;
                g.bias = (n / 6) % 2;
                g.acc = (n / 12) % 2;
                g.pad = (n % 5 == 0) ? 3 : 0;
                fokus_ctx *ctx = (n % 2) ? ctx2 : ctx1;
                int64_t bad = run_case(ctx, &g, false, &worst);
                CHECK_MSG(bad == 0, "M=%lld N=%lld K=%lld dt=%d trans=%d bias=%d acc=%d pad=%d: %lld bad", (long long)g.M,
                          (long long)g.N, (long long)g.K, (int)g.dt, g.trans, g.bias, g.acc, g.pad, (long long)bad);
                n++;
            }
    printf("  ragged: %d cases, worst error / tolerance = %.3g\n", n, worst);
}

/* Shapes that cross every blocking boundary (kc, nb, several k blocks, several
 * column blocks per thread), all combinations of dtype, layout and options. */
static void test_large_shapes(void)
{
    static const int64_t shapes[][3] = {
        {77, 768, 768}, {1000, 70, 33}, {33, 1000, 1000}, {129, 700, 1537}, {3, 2049, 260}, {300, 64, 900},
        {4100, 40, 30}, {200, 2000, 800}, {1000, 1000, 100},
        {2100, 20, 1100}, {5000, 40, 520}, /* A over 8 MB: packed per (row block, k block) */
        {80, 650, 390}, {81, 1000, 777},   /* either side of GEMM_DIRECT_M: B [K,N] in place / packed row by row */
    };
    double worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int v = 0; v < 12; v++) {
            gemm_case g;
            g.M = shapes[s][0]; g.N = shapes[s][1]; g.K = shapes[s][2];
            g.dt = (fokus_dtype[]){FOKUS_F32, FOKUS_F16, FOKUS_BF16}[v % 3];
            g.trans = (v / 3) % 2;
            g.bias = (v / 6) % 2;
            g.acc = ((v + s) % 2) == 0;
            g.pad = (v % 4 == 1) ? 5 : 0;
            for (int t = 0; t < 2; t++) {
                int64_t bad = run_case(t ? ctx2 : ctx1, &g, false, &worst);
                CHECK_MSG(bad == 0, "M=%lld N=%lld K=%lld dt=%d trans=%d bias=%d acc=%d threads=%d: %lld bad",
                          (long long)g.M, (long long)g.N, (long long)g.K, (int)g.dt, g.trans, g.bias, g.acc, t + 1,
                          (long long)bad);
            }
        }
    printf("  large: worst error / tolerance = %.3g\n", worst);
}

/* Few rows (the unpacked path for M <= 8 / <= 4) and the rows just past it, with k
 * and column tails, large enough for the 2-thread split. */
static void test_small_rows(void)
{
    static const int64_t nk[][2] = {{301, 250}, {64, 1024}, {130, 17}, {5, 1000}};
    double worst = 0;
    int n = 0;
    for (int64_t M = 1; M <= 10; M++)
        for (size_t s = 0; s < sizeof nk / sizeof *nk; s++)
            for (int v = 0; v < 6; v++) {
                gemm_case g;
                g.M = M; g.N = nk[s][0]; g.K = nk[s][1];
                g.dt = (fokus_dtype[]){FOKUS_F32, FOKUS_F16, FOKUS_BF16}[v % 3];
                g.trans = v / 3;
                g.bias = (n % 2) == 0;
                g.acc = (n % 3) == 0;
                g.pad = (n % 4 == 1) ? 7 : 0;
                int64_t bad = run_case((n % 2) ? ctx2 : ctx1, &g, false, &worst);
                CHECK_MSG(bad == 0, "M=%lld N=%lld K=%lld dt=%d trans=%d bias=%d acc=%d: %lld bad", (long long)g.M,
                          (long long)g.N, (long long)g.K, (int)g.dt, g.trans, g.bias, g.acc, (long long)bad);
                n++;
            }
    printf("  small rows: %d cases, worst error / tolerance = %.3g\n", n, worst);
}

/* The unpacked path for 33..96 rows (gemm_rows.c): every register-tile height (V = 3..6
 * vectors of rows, M on both sides of each multiple of 16), column counts that leave
 * every tail of R = 4..8 columns, k tails, both layouts and dtypes, bias, accumulate,
 * padded C, 1 and 2 threads; and the neighbours 32 and 97 that take the packed path. */
static void test_rows_path(void)
{
    static const int64_t ms[] = {32, 33, 47, 48, 49, 64, 65, 77, 80, 81, 95, 96, 97};
    static const int64_t nk[][2] = {{1, 40}, {7, 17}, {29, 300}, {203, 64}, {1001, 130}};
    double worst = 0;
    int n = 0;
    for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
        for (size_t s = 0; s < sizeof nk / sizeof *nk; s++)
            for (int v = 0; v < 6; v++) {
                gemm_case g;
                g.M = ms[a]; g.N = nk[s][0]; g.K = nk[s][1];
                g.dt = (fokus_dtype[]){FOKUS_F32, FOKUS_F16, FOKUS_BF16}[v % 3];
                g.trans = v / 3;
                g.bias = (n % 2) == 0;
                g.acc = (n % 3) == 0;
                g.pad = (n % 4 == 1) ? 5 : 0;
                int64_t bad = run_case((n % 2) ? ctx2 : ctx1, &g, false, &worst);
                CHECK_MSG(bad == 0, "M=%lld N=%lld K=%lld dt=%d trans=%d bias=%d acc=%d: %lld bad", (long long)g.M,
                          (long long)g.N, (long long)g.K, (int)g.dt, g.trans, g.bias, g.acc, (long long)bad);
                n++;
            }
    printf("  rows path: %d cases, worst error / tolerance = %.3g\n", n, worst);
}

/* The direct path (f32 b [K,N] read in place, 9..80 rows) with rows a multiple of 4 KiB
 * apart, where it takes shorter k blocks (gemm.c GEMM_DIRECT_KC): k tails, a ragged
 * last column panel, bias, accumulate, 1 and 2 threads; and a padded stride beside it. */
static void test_direct_aliasing(void)
{
    static const int64_t mnk[][3] = {{77, 1024, 600}, {40, 2048, 257}, {9, 1024, 1000}, {80, 3072, 768}, {33, 1024, 256}};
    double worst = 0;
    int n = 0;
    for (size_t s = 0; s < sizeof mnk / sizeof *mnk; s++)
        for (int v = 0; v < 3; v++) {
            gemm_case g;
            g.M = mnk[s][0]; g.N = mnk[s][1]; g.K = mnk[s][2];
            g.dt = FOKUS_F32;
            g.trans = false;
            g.bias = v != 1;
            g.acc = v >= 1;
            g.pad = v == 2 ? 16 : 0; /* 16: rows no longer 4 KiB multiples (the usual k blocks) */
            int64_t bad = run_case((n % 2) ? ctx2 : ctx1, &g, false, &worst);
            CHECK_MSG(bad == 0, "M=%lld N=%lld K=%lld bias=%d acc=%d pad=%d: %lld bad", (long long)g.M, (long long)g.N,
                      (long long)g.K, g.bias, g.acc, g.pad, (long long)bad);
            n++;
        }
    printf("  direct path, aliasing rows: %d cases, worst error / tolerance = %.3g\n", n, worst);
}

/* A larger than 4 MB: passes of k blocks, and with 2 threads a pass's A (> 1 MB) is
 * packed once and shared by the workers (gemm.c GEMM_A_SHARED), group by group by the
 * first worker that needs it, and the column blocks' panels are taken by both workers
 * (share_task: 2 blocks at N <= 90, 2-4 at N = 400..700 with a ragged last block and
 * a ragged last group of panels); 1 thread keeps its own copy. */
static void test_shared_a(void)
{
    double worst = 0;
    for (int v = 0; v < 6; v++) {
        gemm_case g;
        g.M = 1100 + v; g.N = 90 - 7 * v; g.K = 1100 - 3 * v;
        if (v >= 4) {
            g.M = v == 4 ? 1201 : 1150;
            g.N = v == 4 ? 400 : 700;
            g.K = v == 4 ? 1100 : 1030;
        }
        g.dt = v == 3 ? FOKUS_BF16 : v == 5 ? FOKUS_F16 : FOKUS_F32;
        g.trans = v % 2;
        g.bias = v >= 2;
        g.acc = v == 1 || v >= 3;
        g.pad = v == 2 ? 3 : 0;
        int64_t bad = run_case(v == 2 ? ctx1 : ctx2, &g, false, &worst);
        CHECK_MSG(bad == 0, "M=%lld N=%lld K=%lld: %lld bad", (long long)g.M, (long long)g.N, (long long)g.K, (long long)bad);
    }
    printf("  shared A: worst error / tolerance = %.3g\n", worst);
}

/* The comparison above must be able to fail: one perturbed element per case. */
static void test_detects_errors(void)
{
    static const int64_t shapes[][3] = {{7, 17, 15}, {77, 100, 1000}, {2, 33, 77}, {3, 500, 700}};
    for (size_t s = 0; s < 4; s++) {
        gemm_case g = {shapes[s][0], shapes[s][1], shapes[s][2], FOKUS_F32, s % 2 == 1, true, false, 0};
        CHECK(run_case(ctx2, &g, true, NULL) >= 1);
    }
}

/* Without a context (scratch allocated per call), and with K = 0 / empty outputs. */
static void test_edge_cases(void)
{
    double worst = 0;
    gemm_case g = {40, 50, 60, FOKUS_F16, true, true, true, 2};
    CHECK(run_case(NULL, &g, false, &worst) == 0);

    float C[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {10, 20, 30};
    fokus_error err;
    /* K = 0: C = bias, or C += bias */
    CHECK(fokus_gemm(ctx1, 2, 3, 0, NULL, 0, NULL, FOKUS_F32, false, 3, bias, true, C, 3, &err) == FOKUS_OK);
    CHECK(C[0] == 11 && C[4] == 25 && C[5] == 36);
    CHECK(fokus_gemm(ctx1, 2, 3, 0, NULL, 0, NULL, FOKUS_F32, false, 3, NULL, false, C, 3, &err) == FOKUS_OK);
    CHECK(C[0] == 0 && C[5] == 0);
    /* M = 0 or N = 0: nothing written, NULL pointers fine */
    CHECK(fokus_gemm(ctx1, 0, 3, 4, NULL, 4, NULL, FOKUS_F32, false, 3, NULL, false, NULL, 3, &err) == FOKUS_OK);
    CHECK(fokus_gemm(ctx1, 3, 0, 4, NULL, 4, NULL, FOKUS_F32, false, 0, NULL, false, NULL, 0, &err) == FOKUS_OK);

    /* exact small product with f16 specials in B: 1, -2, 65504, 2^-24 (subnormal) */
    float A[2] = {1.0f, 2.0f};
    uint16_t Bh[8] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x3c00, 0x3c00, 0x3c00, 0x0000}; /* [2][4] */
    float out[4];
    CHECK(fokus_gemm(ctx1, 1, 4, 2, A, 2, Bh, FOKUS_F16, false, 4, NULL, false, out, 4, &err) == FOKUS_OK);
    CHECK(out[0] == 3.0f && out[1] == 0.0f && out[2] == 65506.0f);
    CHECK(out[3] == (float)ldexp(1.0, -24));
}

static void test_bad_arguments(void)
{
    float A[16] = {0}, B[16] = {0}, C[16] = {0};
    fokus_error err;
    err.msg[0] = 0;
    CHECK(fokus_gemm(ctx1, -1, 2, 2, A, 2, B, FOKUS_F32, false, 2, NULL, false, C, 2, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "M, N, K") != NULL);
    CHECK(fokus_gemm(ctx1, 2, 2, 3, A, 2, B, FOKUS_F32, false, 2, NULL, false, C, 2, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "lda") != NULL);
    CHECK(fokus_gemm(ctx1, 2, 3, 2, A, 2, B, FOKUS_F32, true, 1, NULL, false, C, 3, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "ldb must be >= K") != NULL);
    CHECK(fokus_gemm(ctx1, 2, 3, 2, A, 2, B, FOKUS_F32, false, 2, NULL, false, C, 3, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "ldb must be >= N") != NULL);
    CHECK(fokus_gemm(ctx1, 2, 3, 2, A, 2, B, FOKUS_F32, false, 3, NULL, false, C, 2, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "ldc") != NULL);
    CHECK(fokus_gemm(ctx1, 2, 2, 2, A, 2, B, FOKUS_I32, false, 2, NULL, false, C, 2, &err) == FOKUS_EINVAL);
    CHECK(fokus_gemm(ctx1, 2, 2, 2, NULL, 2, B, FOKUS_F32, false, 2, NULL, false, C, 2, &err) == FOKUS_EINVAL);
    CHECK(fokus_gemm(ctx1, 2, 2, 2, A, 2, B, FOKUS_F32, false, 2, NULL, false, NULL, 2, &err) == FOKUS_EINVAL);
    CHECK(fokus_gemm(ctx1, 2, 2, 2, A, INT64_MAX, B, FOKUS_F32, false, 2, NULL, false, C, 2, &err) == FOKUS_ERANGE);
    CHECK(fokus_gemm_ref(2, 2, 3, A, 2, B, FOKUS_F32, false, 2, NULL, false, C, 2, &err) == FOKUS_EINVAL);
}

/* The reference itself on a hand-computed product (it is what everything else is
 * measured against). */
static void test_reference(void)
{
    float A[6] = {1, 2, 3, 4, 5, 6};          /* [2][3] */
    float B[6] = {1, 0, -1, 2, 0.5f, 3};      /* [3][2] */
    float Bt[6] = {1, -1, 0.5f, 0, 2, 3};     /* the same, [2][3] */
    float bias[2] = {100, 200}, C[4] = {1, 1, 1, 1};
    fokus_error err;
    CHECK(fokus_gemm_ref(2, 2, 3, A, 3, B, FOKUS_F32, false, 2, bias, true, C, 2, &err) == FOKUS_OK);
    /* row0: 1*1+2*(-1)+3*0.5 = 0.5; 1*0+2*2+3*3 = 13 */
    CHECK(C[0] == 101.5f && C[1] == 214.0f);
    /* row1: 4-5+3 = 2; 0+10+18 = 28 */
    CHECK(C[2] == 103.0f && C[3] == 229.0f);
    CHECK(fokus_gemm_ref(2, 2, 3, A, 3, Bt, FOKUS_F32, true, 3, NULL, false, C, 2, &err) == FOKUS_OK);
    CHECK(C[0] == 0.5f && C[1] == 13.0f && C[2] == 2.0f && C[3] == 28.0f);
}


/* ---------------------------------------------------------------- tensor forms */

static void fill_random(fokus_tensor *t)
{
    int64_t n = fokus_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) fokus_tensor_set(t, i, rnd_f());
}

static fokus_tensor make(fokus_dtype dt, int ndim, const int64_t *shape)
{
    fokus_tensor t = {0};
    fokus_error err;
    if (fokus_tensor_new(&t, dt, ndim, shape, &err) != FOKUS_OK) {
        fprintf(stderr, "tensor_new: %s\n", err.msg);
        exit(1);
    }
    fill_random(&t);
    return t;
}

/* Flat row-major index of t for the multi-index `idx` of a broadcast shape of `nd`
 * dims (aligned from the right; size-1 dims of t read index 0). */
static int64_t flat_of(const fokus_tensor *t, int nd, const int64_t *idx)
{
    int64_t f = 0;
    for (int i = 0; i < t->ndim; i++) {
        int64_t v = idx[i + nd - t->ndim];
        f = f * t->shape[i] + (t->shape[i] == 1 ? 0 : v);
    }
    return f;
}

/* out must equal a · b (batched, broadcast) within the GEMM tolerance; returns #bad. */
static int64_t check_matmul_result(const fokus_tensor *a, const fokus_tensor *b, const fokus_tensor *out)
{
    const int nd = out->ndim;
    const int64_t M = out->shape[nd - 2], N = out->shape[nd - 1], K = a->shape[a->ndim - 1];
    int64_t total = fokus_tensor_numel(out), bad = 0;
    int64_t idx[FOKUS_MAX_DIMS], ia[FOKUS_MAX_DIMS], ib[FOKUS_MAX_DIMS];
    for (int64_t f = 0; f < total; f++) {
        int64_t r = f;
        for (int i = nd - 1; i >= 0; i--) {
            idx[i] = r % out->shape[i];
            r /= out->shape[i];
        }
        memcpy(ia, idx, sizeof idx);
        memcpy(ib, idx, sizeof idx);
        double s = 0, mag = 0;
        for (int64_t k = 0; k < K; k++) {
            ia[nd - 1] = k;
            ib[nd - 2] = k;
            double p = fokus_tensor_get(a, flat_of(a, nd, ia)) * fokus_tensor_get(b, flat_of(b, nd, ib));
            s += p;
            mag += fabs(p);
        }
        (void)M; (void)N;
        double tol = (double)(K + 2) * ldexp(1.0, -24) * mag + 1e-30;
        if (!(fabs(fokus_tensor_get(out, f) - s) <= tol)) bad++;
    }
    return bad;
}

static void test_matmul(void)
{
    fokus_error err;
    static const fokus_dtype dts[3] = {FOKUS_F32, FOKUS_F16, FOKUS_BF16};
    for (int d = 0; d < 3; d++) {
        /* [2,1,5,7] x [3,7,19] -> [2,3,5,19], b of every dtype used in place */
        fokus_tensor a = make(FOKUS_F32, 4, (int64_t[]){2, 1, 5, 7});
        fokus_tensor b = make(dts[d], 3, (int64_t[]){3, 7, 19});
        fokus_tensor out = {0};
        CHECK(fokus_matmul(ctx2, &a, &b, &out, &err) == FOKUS_OK);
        CHECK(out.ndim == 4 && out.shape[0] == 2 && out.shape[1] == 3 && out.shape[2] == 5 && out.shape[3] == 19);
        CHECK(out.dtype == FOKUS_F32);
        CHECK_EQ_INT(check_matmul_result(&a, &b, &out), 0);
        fokus_tensor_release(&out);

        /* b shared by every batch entry (the folded single-GEMM path): [4,33,40] x [40,50] */
        fokus_tensor a2 = make(dts[(d + 1) % 3], 3, (int64_t[]){4, 33, 40});
        fokus_tensor b2 = make(dts[d], 2, (int64_t[]){40, 50});
        CHECK(fokus_matmul(ctx2, &a2, &b2, &out, &err) == FOKUS_OK);
        CHECK(out.ndim == 3 && out.shape[0] == 4 && out.shape[1] == 33 && out.shape[2] == 50);
        CHECK_EQ_INT(check_matmul_result(&a2, &b2, &out), 0);
        fokus_tensor_release(&out);

        /* b as a transposed view (column-contiguous: the b_trans path), a as a narrowed view */
        fokus_tensor bt = make(dts[d], 3, (int64_t[]){3, 50, 40}), btv = {0}, av = {0};
        CHECK(fokus_tensor_permute(&btv, &bt, (int[]){0, 2, 1}, &err) == FOKUS_OK); /* [3,40,50] */
        CHECK(fokus_tensor_narrow(&av, &a2, 1, 3, 20, &err) == FOKUS_OK);            /* [4,20,40] */
        fokus_tensor a3 = {0};
        CHECK(fokus_tensor_narrow(&a3, &av, 0, 1, 3, &err) == FOKUS_OK);             /* [3,20,40] */
        CHECK(fokus_matmul(ctx1, &a3, &btv, &out, &err) == FOKUS_OK);
        CHECK(out.ndim == 3 && out.shape[0] == 3 && out.shape[1] == 20 && out.shape[2] == 50);
        CHECK_EQ_INT(check_matmul_result(&a3, &btv, &out), 0);
        fokus_tensor_release(&out);

        /* a fully strided (permuted) left operand and b with neither unit stride (copied) */
        fokus_tensor ap = {0}, bp = {0}, bq = {0};
        CHECK(fokus_tensor_permute(&ap, &b2, (int[]){1, 0}, &err) == FOKUS_OK);   /* [50,40], strided */
        fokus_tensor b4 = make(dts[d], 3, (int64_t[]){40, 2, 9});
        CHECK(fokus_tensor_select(&bp, &b4, 1, 1, &err) == FOKUS_OK);              /* [40,9], strides (18, 1) */
        CHECK(fokus_tensor_narrow(&bq, &b4, 2, 0, 1, &err) == FOKUS_OK);
        CHECK(fokus_matmul(ctx2, &ap, &bp, &out, &err) == FOKUS_OK);
        CHECK_EQ_INT(check_matmul_result(&ap, &bp, &out), 0);
        fokus_tensor_release(&out);

        fokus_tensor_release(&a); fokus_tensor_release(&b); fokus_tensor_release(&a2); fokus_tensor_release(&b2);
        fokus_tensor_release(&bt); fokus_tensor_release(&btv); fokus_tensor_release(&av); fokus_tensor_release(&a3);
        fokus_tensor_release(&ap); fokus_tensor_release(&bp); fokus_tensor_release(&bq); fokus_tensor_release(&b4);
    }
    /* a permuted b whose matrices have no unit stride at all: [K,N] view with strides (1*?, ...) */
    {
        fokus_tensor base = make(FOKUS_F16, 3, (int64_t[]){6, 5, 2}), v = {0}, sel = {0}, a = make(FOKUS_F32, 2, (int64_t[]){3, 6});
        fokus_tensor out = {0};
        CHECK(fokus_tensor_select(&sel, &base, 2, 1, &err) == FOKUS_OK); /* [6,5] strides (10, 2) */
        CHECK(fokus_matmul(ctx1, &a, &sel, &out, &err) == FOKUS_OK);
        CHECK_EQ_INT(check_matmul_result(&a, &sel, &out), 0);
        fokus_tensor_release(&out);
        fokus_tensor_release(&base); fokus_tensor_release(&v); fokus_tensor_release(&sel); fokus_tensor_release(&a);
    }
    /* errors: inner dims, batch broadcast, 1-d, integer dtype; out stays empty */
    {
        fokus_tensor a = make(FOKUS_F32, 3, (int64_t[]){2, 3, 4}), b = make(FOKUS_F32, 3, (int64_t[]){3, 4, 5});
        fokus_tensor c = make(FOKUS_F32, 2, (int64_t[]){5, 6}), v = make(FOKUS_F32, 1, (int64_t[]){4});
        fokus_tensor ii = make(FOKUS_I32, 2, (int64_t[]){4, 5});
        fokus_tensor out = {0};
        CHECK(fokus_matmul(ctx1, &a, &b, &out, &err) == FOKUS_EINVAL);
        CHECK(strstr(err.msg, "broadcast") != NULL);
        CHECK(fokus_matmul(ctx1, &a, &c, &out, &err) == FOKUS_EINVAL);
        CHECK(strstr(err.msg, "inner dims 4 and 5") != NULL);
        CHECK(fokus_matmul(ctx1, &a, &v, &out, &err) == FOKUS_EINVAL);
        CHECK(fokus_matmul(ctx1, &a, &ii, &out, &err) == FOKUS_EINVAL);
        CHECK(out.storage == NULL);
        fokus_tensor_release(&a); fokus_tensor_release(&b); fokus_tensor_release(&c); fokus_tensor_release(&v);
        fokus_tensor_release(&ii);
    }
    /* empty batch and K = 0 */
    {
        fokus_tensor a = make(FOKUS_F32, 3, (int64_t[]){0, 3, 4}), b = make(FOKUS_F32, 2, (int64_t[]){4, 5});
        fokus_tensor a0 = make(FOKUS_F32, 2, (int64_t[]){3, 0}), b0 = make(FOKUS_F32, 2, (int64_t[]){0, 5});
        fokus_tensor out = {0};
        CHECK(fokus_matmul(ctx2, &a, &b, &out, &err) == FOKUS_OK);
        CHECK(out.ndim == 3 && out.shape[0] == 0 && out.shape[2] == 5);
        fokus_tensor_release(&out);
        CHECK(fokus_matmul(ctx2, &a0, &b0, &out, &err) == FOKUS_OK);
        CHECK(out.shape[0] == 3 && out.shape[1] == 5 && fokus_tensor_get(&out, 14) == 0.0);
        fokus_tensor_release(&out);
        fokus_tensor_release(&a); fokus_tensor_release(&b); fokus_tensor_release(&a0); fokus_tensor_release(&b0);
    }
}

/* out must equal x · wᵀ + b; returns #bad. */
static int64_t check_linear_result(const fokus_tensor *x, const fokus_tensor *w, const fokus_tensor *b,
                                   const fokus_tensor *out)
{
    const int64_t N = w->shape[0], K = w->shape[1], rows = fokus_tensor_numel(x) / (K ? K : 1);
    int64_t bad = 0;
    if (fokus_tensor_numel(out) != rows * N) return 1;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t n = 0; n < N; n++) {
            double s = b ? fokus_tensor_get(b, n) : 0, mag = fabs(s);
            for (int64_t k = 0; k < K; k++) {
                double p = fokus_tensor_get(x, r * K + k) * fokus_tensor_get(w, n * K + k);
                s += p;
                mag += fabs(p);
            }
            double tol = (double)(K + 2) * ldexp(1.0, -24) * mag + 1e-30;
            if (!(fabs(fokus_tensor_get(out, r * N + n) - s) <= tol)) bad++;
        }
    return bad;
}

static void test_linear(void)
{
    fokus_error err;
    static const fokus_dtype dts[3] = {FOKUS_F32, FOKUS_F16, FOKUS_BF16};
    for (int d = 0; d < 3; d++) {
        fokus_tensor x = make(FOKUS_F32, 3, (int64_t[]){2, 77, 48});
        fokus_tensor w = make(dts[d], 2, (int64_t[]){70, 48});
        fokus_tensor b = make(dts[(d + 2) % 3], 1, (int64_t[]){70});
        fokus_tensor out = {0};
        CHECK(fokus_linear(ctx2, &x, &w, &b, &out, &err) == FOKUS_OK);
        CHECK(out.ndim == 3 && out.shape[0] == 2 && out.shape[1] == 77 && out.shape[2] == 70);
        CHECK_EQ_INT(check_linear_result(&x, &w, &b, &out), 0);
        fokus_tensor_release(&out);
        CHECK(fokus_linear(ctx1, &x, &w, NULL, &out, &err) == FOKUS_OK);
        CHECK_EQ_INT(check_linear_result(&x, &w, NULL, &out), 0);
        fokus_tensor_release(&out);

        /* strided x (a permuted view: copied to f32) and x in f16 */
        fokus_tensor xt = make(dts[d], 3, (int64_t[]){48, 5, 3}), xp = {0};
        CHECK(fokus_tensor_permute(&xp, &xt, (int[]){2, 1, 0}, &err) == FOKUS_OK); /* [3,5,48] */
        CHECK(fokus_linear(ctx2, &xp, &w, &b, &out, &err) == FOKUS_OK);
        CHECK(out.ndim == 3 && out.shape[0] == 3 && out.shape[1] == 5 && out.shape[2] == 70);
        CHECK_EQ_INT(check_linear_result(&xp, &w, &b, &out), 0);
        fokus_tensor_release(&out);

        /* x with padded rows (a narrowed view, used in place with lda > K) and w as the
         * transpose of a [K, N] tensor and as a narrowed [N, K] view (ldb > K) */
        fokus_tensor xw = make(FOKUS_F32, 2, (int64_t[]){9, 60}), xn = {0};
        CHECK(fokus_tensor_narrow(&xn, &xw, 1, 5, 48, &err) == FOKUS_OK);
        fokus_tensor wk = make(dts[d], 2, (int64_t[]){48, 70}), wkt = {0};
        CHECK(fokus_tensor_permute(&wkt, &wk, (int[]){1, 0}, &err) == FOKUS_OK);
        CHECK(fokus_linear(ctx2, &xn, &wkt, NULL, &out, &err) == FOKUS_OK);
        CHECK_EQ_INT(check_linear_result(&xn, &wkt, NULL, &out), 0);
        fokus_tensor_release(&out);
        fokus_tensor wwide = make(dts[d], 2, (int64_t[]){70, 64}), wn = {0};
        CHECK(fokus_tensor_narrow(&wn, &wwide, 1, 16, 48, &err) == FOKUS_OK);
        CHECK(fokus_linear(ctx2, &xn, &wn, &b, &out, &err) == FOKUS_OK);
        CHECK_EQ_INT(check_linear_result(&xn, &wn, &b, &out), 0);
        fokus_tensor_release(&out);

        /* 1-d x */
        fokus_tensor x1 = make(FOKUS_F32, 1, (int64_t[]){48});
        CHECK(fokus_linear(ctx1, &x1, &w, &b, &out, &err) == FOKUS_OK);
        CHECK(out.ndim == 1 && out.shape[0] == 70);
        CHECK_EQ_INT(check_linear_result(&x1, &w, &b, &out), 0);
        fokus_tensor_release(&out);

        fokus_tensor_release(&x); fokus_tensor_release(&w); fokus_tensor_release(&b); fokus_tensor_release(&xt);
        fokus_tensor_release(&xp); fokus_tensor_release(&xw); fokus_tensor_release(&xn); fokus_tensor_release(&wk);
        fokus_tensor_release(&wkt); fokus_tensor_release(&wwide); fokus_tensor_release(&wn); fokus_tensor_release(&x1);
    }
    /* errors */
    {
        fokus_tensor x = make(FOKUS_F32, 2, (int64_t[]){3, 8}), w = make(FOKUS_F32, 2, (int64_t[]){4, 7});
        fokus_tensor w3 = make(FOKUS_F32, 3, (int64_t[]){1, 4, 8}), b = make(FOKUS_F32, 1, (int64_t[]){5});
        fokus_tensor w8 = make(FOKUS_F32, 2, (int64_t[]){4, 8}), wi = make(FOKUS_I32, 2, (int64_t[]){4, 8});
        fokus_tensor out = {0};
        CHECK(fokus_linear(ctx1, &x, &w, NULL, &out, &err) == FOKUS_EINVAL);
        CHECK(strstr(err.msg, "8 features") != NULL);
        CHECK(fokus_linear(ctx1, &x, &w3, NULL, &out, &err) == FOKUS_EINVAL);
        CHECK(fokus_linear(ctx1, &x, &w8, &b, &out, &err) == FOKUS_EINVAL);
        CHECK(strstr(err.msg, "b must be [4]") != NULL);
        CHECK(fokus_linear(ctx1, &x, &wi, NULL, &out, &err) == FOKUS_EINVAL);
        CHECK(out.storage == NULL);
        fokus_tensor_release(&x); fokus_tensor_release(&w); fokus_tensor_release(&w3); fokus_tensor_release(&b);
        fokus_tensor_release(&w8); fokus_tensor_release(&wi);
    }
}

/* ------------------------------------------------- every layout of b, ragged sizes */

/* b [K,N] in six layouts over a fresh random tensor: 0 contiguous, 1 transposed view
 * of [N,K] (b = w:transpose), 2 [K,N] with padded rows, 3 transposed view of a padded
 * [N,K], 4 no unit stride (every other element of [K,N,2]), 5 its transposed kin.
 * *owner holds the storage; returns the view. */
static fokus_tensor b_view(int layout, fokus_dtype dt, int64_t K, int64_t N, fokus_tensor *owner)
{
    fokus_error err;
    fokus_tensor v = {0}, t = {0};
    bool ok = true;
    switch (layout) {
    case 0: *owner = make(dt, 2, (int64_t[]){K, N}); ok = fokus_tensor_narrow(&v, owner, 0, 0, K, &err) == FOKUS_OK; break;
    case 1: *owner = make(dt, 2, (int64_t[]){N, K}); ok = fokus_tensor_permute(&v, owner, (int[]){1, 0}, &err) == FOKUS_OK; break;
    case 2: *owner = make(dt, 2, (int64_t[]){K, N + 5}); ok = fokus_tensor_narrow(&v, owner, 1, 3, N, &err) == FOKUS_OK; break;
    case 3:
        *owner = make(dt, 2, (int64_t[]){N, K + 3});
        ok = fokus_tensor_narrow(&t, owner, 1, 1, K, &err) == FOKUS_OK &&
             fokus_tensor_permute(&v, &t, (int[]){1, 0}, &err) == FOKUS_OK;
        break;
    case 4: *owner = make(dt, 3, (int64_t[]){K, N, 2}); ok = fokus_tensor_select(&v, owner, 2, 1, &err) == FOKUS_OK; break;
    default:
        *owner = make(dt, 3, (int64_t[]){N, K, 2});
        ok = fokus_tensor_select(&t, owner, 2, 0, &err) == FOKUS_OK &&
             fokus_tensor_permute(&v, &t, (int[]){1, 0}, &err) == FOKUS_OK;
        break;
    }
    fokus_tensor_release(&t);
    if (!ok || v.shape[0] != K || v.shape[1] != N) {
        fprintf(stderr, "b_view %d: %s\n", layout, ok ? "wrong shape" : err.msg);
        exit(1);
    }
    return v;
}

static void test_layouts(void)
{
    static const int64_t sizes[][3] = {{1, 1, 1},  {3, 5, 7},    {4, 33, 17},  {9, 31, 40},  {14, 32, 16},
                                       {15, 65, 33}, {77, 50, 70}, {29, 97, 385}, {130, 45, 20}};
    static const fokus_dtype dts[3] = {FOKUS_F32, FOKUS_F16, FOKUS_BF16};
    fokus_error err;
    int cases = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const int64_t M = sizes[si][0], N = sizes[si][1], K = sizes[si][2];
        fokus_tensor a = make(FOKUS_F32, 2, (int64_t[]){M, K});
        for (int layout = 0; layout < 6; layout++)
            for (int d = 0; d < 3; d++) {
                fokus_tensor owner = {0}, b = b_view(layout, dts[d], K, N, &owner), w = {0}, out = {0};
                fokus_ctx *ctx = (layout + d + (int)si) % 2 ? ctx2 : ctx1;
                CHECK_MSG(fokus_matmul(ctx, &a, &b, &out, &err) == FOKUS_OK, "matmul layout %d: %s", layout, err.msg);
                CHECK_MSG(check_matmul_result(&a, &b, &out) == 0, "matmul M=%lld N=%lld K=%lld layout %d dtype %d",
                          (long long)M, (long long)N, (long long)K, layout, d);
                if (layout == 4 && d == 0 && M * N > 1) { /* the check can fail */
                    fokus_tensor_set(&out, M * N / 2, fokus_tensor_get(&out, M * N / 2) + 0.5);
                    CHECK_EQ_INT(check_matmul_result(&a, &b, &out), 1);
                }
                fokus_tensor_release(&out);
                /* the same matrix as a linear weight: w = bᵀ [N, K] */
                CHECK(fokus_tensor_permute(&w, &b, (int[]){1, 0}, &err) == FOKUS_OK);
                CHECK_MSG(fokus_linear(ctx, &a, &w, NULL, &out, &err) == FOKUS_OK, "linear layout %d: %s", layout,
                          err.msg);
                CHECK_MSG(check_linear_result(&a, &w, NULL, &out) == 0, "linear M=%lld N=%lld K=%lld layout %d dtype %d",
                          (long long)M, (long long)N, (long long)K, layout, d);
                fokus_tensor_release(&out);
                fokus_tensor_release(&w);
                fokus_tensor_release(&b);
                fokus_tensor_release(&owner);
                cases++;
            }
        fokus_tensor_release(&a);
    }
    printf("  layouts: %d cases (6 layouts of b x 3 dtypes x %d sizes, matmul and linear)\n", cases,
           (int)(sizeof sizes / sizeof *sizes));
}

/* fokus_gemm_strided directly: negative and zero strides, errors */
/* fokus_gemm called from inside tasks of the same pool (it then runs inline, one
 * worker): two tasks at once, each with a product big enough for the shared A and
 * column-block path at top level and a few-row one (its padded A), must not share
 * buffers. Results equal the top-level ones bit for bit (same kernel, same k order). */
typedef struct nested_arg {
    int64_t M[2], N[2], K[2];
    const float *A[2], *B[2];
    float *C[2][2];
    int failed;
} nested_arg;

static void nested_task(void *p, int64_t begin, int64_t end, int worker)
{
    nested_arg *a = p;
    (void)worker;
    for (int64_t t = begin; t < end; t++)
        for (int r = 0; r < 2; r++)
            for (int i = 0; i < 2; i++) {
                fokus_error err;
                if (fokus_gemm(ctx2, a->M[i], a->N[i], a->K[i], a->A[i], a->K[i], a->B[i], FOKUS_F32, true, a->K[i], NULL,
                               false, a->C[t][i], a->N[i], &err) != FOKUS_OK)
                    a->failed = 1;
            }
}

static void test_nested(void)
{
    nested_arg a = {{1100, 4}, {400, 900}, {1100, 700}, {NULL}, {NULL}, {{NULL}}, 0};
    float *ref[2];
    for (int i = 0; i < 2; i++) {
        float *A = malloc(sizeof(float) * (size_t)(a.M[i] * a.K[i])), *B = malloc(sizeof(float) * (size_t)(a.N[i] * a.K[i]));
        for (int64_t x = 0; x < a.M[i] * a.K[i]; x++) A[x] = rnd_f();
        for (int64_t x = 0; x < a.N[i] * a.K[i]; x++) B[x] = rnd_f();
        a.A[i] = A;
        a.B[i] = B;
        ref[i] = malloc(sizeof(float) * (size_t)(a.M[i] * a.N[i]));
        fokus_error err;
        CHECK(fokus_gemm(ctx2, a.M[i], a.N[i], a.K[i], A, a.K[i], B, FOKUS_F32, true, a.K[i], NULL, false, ref[i], a.N[i],
                         &err) == FOKUS_OK);
        for (int t = 0; t < 2; t++) a.C[t][i] = calloc((size_t)(a.M[i] * a.N[i]), sizeof(float));
    }
    fokus_parallel(ctx2, 2, 1, nested_task, &a);
    CHECK(!a.failed);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 2; i++)
            CHECK_MSG(memcmp(a.C[t][i], ref[i], sizeof(float) * (size_t)(a.M[i] * a.N[i])) == 0,
                      "nested task %d, product %d differs from the top-level result", t, i);
    for (int i = 0; i < 2; i++) {
        free((void *)a.A[i]);
        free((void *)a.B[i]);
        free(ref[i]);
        for (int t = 0; t < 2; t++) free(a.C[t][i]);
    }
}

static void test_strided(void)
{
    fokus_error err;
    const int64_t M = 20, N = 37, K = 45;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K * 3), *C = malloc(sizeof(float) * M * N);
    float *D = malloc(sizeof(float) * N * K), *R = malloc(sizeof(float) * M * N);
    for (int64_t i = 0; i < M * K; i++) A[i] = rnd_f();
    for (int64_t i = 0; i < N * K * 3; i++) B[i] = rnd_f();
    /* op(B)[k][n] = B[base + k*sk + n*sn]; D is the same matrix, dense [K,N] */
    static const int64_t strides[][2] = {{-3, -3 * K}, {3 * N, -3}, {0, 2}, {2, 0}};
    for (int s = 0; s < 4; s++) {
        const int64_t sk = strides[s][0], sn = strides[s][1];
        int64_t base = 0;
        if (sk < 0) base -= sk * (K - 1);
        if (sn < 0) base -= sn * (N - 1);
        for (int64_t k = 0; k < K; k++)
            for (int64_t n = 0; n < N; n++) D[k * N + n] = B[base + k * sk + n * sn];
        for (int t = 1; t <= 2; t++) {
            CHECK(fokus_gemm_strided(t == 1 ? ctx1 : ctx2, M, N, K, A, K, B + base, FOKUS_F32, sk, sn, NULL, false, C, N,
                                     &err) == FOKUS_OK);
            CHECK(fokus_gemm(ctx1, M, N, K, A, K, D, FOKUS_F32, false, N, NULL, false, R, N, &err) == FOKUS_OK);
            /* same packing order and kernel: bit-identical to the dense call */
            CHECK_MSG(memcmp(C, R, sizeof(float) * M * N) == 0, "strides (%lld, %lld), %d thr", (long long)sk,
                      (long long)sn, t);
        }
    }
    CHECK(fokus_gemm_strided(ctx1, M, N, K, A, K, B, FOKUS_F32, INT64_MAX / 4, 1, NULL, false, C, N, &err) == FOKUS_ERANGE);
    CHECK(fokus_gemm_strided(ctx1, M, N, K, A, K - 1, B, FOKUS_F32, 1, 1, NULL, false, C, N, &err) == FOKUS_EINVAL);
    CHECK(fokus_gemm_strided(ctx1, M, N, K, A, K, B, FOKUS_I32, 1, 1, NULL, false, C, N, &err) == FOKUS_EINVAL);
    CHECK(fokus_gemm_strided(ctx1, M, N, K, A, K, NULL, FOKUS_F32, 1, 1, NULL, false, C, N, &err) == FOKUS_EINVAL);
    free(A), free(B), free(C), free(D), free(R);
}

int main(void)
{
    fokus_error err;
    if (fokus_ctx_new(&ctx1, 1, &err) != FOKUS_OK || fokus_ctx_new(&ctx2, 2, &err) != FOKUS_OK) {
        fprintf(stderr, "context: %s\n", err.msg);
        return 1;
    }
    RUN(test_reference);
    RUN(test_bad_arguments);
    RUN(test_edge_cases);
    RUN(test_detects_errors);
    RUN(test_ragged_shapes);
    RUN(test_small_rows);
    RUN(test_rows_path);
    RUN(test_direct_aliasing);
    RUN(test_nested);
    RUN(test_shared_a);
    RUN(test_large_shapes);
    RUN(test_matmul);
    RUN(test_linear);
    RUN(test_layouts);
    RUN(test_strided);
    fokus_ctx_free(ctx1);
    fokus_ctx_free(ctx2);
    return check_summary("gemm");
}
