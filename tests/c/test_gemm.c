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

#include "../../core/fokus.h"
#include "check.h"

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

    int64_t bad = 0;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t x = 0; x < N; x++) {
            double s = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                double b = widen(B, g->dt, g->trans ? x * ldb + k : k * ldb + x);
                s += (double)A[i * lda + k] * b;
                mag += fabs((double)A[i * lda + k] * b);
            }
            if (g->bias) { s += bias[x]; mag += fabs(bias[x]); }
            if (g->acc) { s += C0[i * ldc + x]; mag += fabs(C0[i * ldc + x]); }
            double tol = (double)(K + 2) * ldexp(1.0, -24) * mag + 1e-30;
            double e = fabs((double)C[i * ldc + x] - s);
            if (worst && e / tol > *worst) *worst = e / tol;
            if (!(e <= tol)) {
                if (bad < 3 && !corrupt)
                    fprintf(stderr, "  [%lld,%lld] got %.9g want %.9g (tol %.3g)\n", (long long)i, (long long)x,
                            C[i * ldc + x], s, tol);
                bad++;
            }
        }
        /* padding columns must be untouched */
        for (int64_t x = N; x < ldc; x++)
            if (C[i * ldc + x] != C0[i * ldc + x]) bad++;
    }
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

/* The comparison above must be able to fail: one perturbed element per case. */
static void test_detects_errors(void)
{
    static const int64_t shapes[][3] = {{7, 17, 15}, {77, 100, 1000}, {2, 33, 77}};
    for (size_t s = 0; s < 3; s++) {
        gemm_case g = {shapes[s][0], shapes[s][1], shapes[s][2], FOKUS_F32, s == 1, true, false, 0};
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
    RUN(test_large_shapes);
    fokus_ctx_free(ctx1);
    fokus_ctx_free(ctx2);
    return check_summary("gemm");
}
