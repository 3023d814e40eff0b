/* GEMM speed: GFLOP/s (2*M*N*K / s) of fokus_gemm on the model shapes, B in the Linear
 * layout ([N,K], b_trans) as f32 and f16 and in the a·b layout ([K,N]) as f32, with 1 and 2 threads, next to the machine's
 * FMA peak and (when built with OpenBLAS) cblas_sgemm on the same data in the same run.
 *
 *   build/bench/bench_gemm [reps [threads]]
 *     reps: interleaved rounds per figure after a warm-up (default 9); threads: only
 *     this worker count (default: 1, then 2)
 *
 * Each figure is the median over the rounds of a block's time per call; "best" is the
 * fastest block. fokus and OpenBLAS blocks alternate within every round. The f16 row
 * is compared with OpenBLAS f32 (OpenBLAS has no f16 weights; a caller would otherwise
 * have to keep an f32 copy). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifdef FOKUS_HAVE_OPENBLAS
#include <cblas.h>
extern void openblas_set_num_threads(int);
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
#endif

typedef struct run_arg {
    fokus_ctx *ctx;
    int64_t M, N, K;
    const float *A;
    const void *B;
    fokus_dtype dt;
    float *C;
    int openblas;
    int kn; /* B [K,N] (a·b) instead of [N,K] */
} run_arg;

static void run_once(void *p)
{
    run_arg *r = (run_arg *)p;
#ifdef FOKUS_HAVE_OPENBLAS
    if (r->openblas) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, r->kn ? CblasNoTrans : CblasTrans, (int)r->M, (int)r->N, (int)r->K,
                    1.0f, r->A, (int)r->K, (const float *)r->B, r->kn ? (int)r->N : (int)r->K, 0.0f, r->C, (int)r->N);
        return;
    }
#endif
    fokus_error err;
    if (fokus_gemm(r->ctx, r->M, r->N, r->K, r->A, r->K, r->B, r->dt, !r->kn, r->kn ? r->N : r->K, NULL, false, r->C,
                   r->N, &err) != FOKUS_OK) {
        fprintf(stderr, "gemm: %s\n", err.msg);
        exit(1);
    }
}

/* Median and best GFLOP/s of several variants (r[0..n)), measured interleaved: each
 * of `reps` rounds times a block of calls (>= ~20 ms) of every variant in turn, so a
 * busy moment on a shared machine hits them all alike. After the OpenBLAS variants
 * (marked by r->openblas, last in the list) a round waits until the process is idle
 * (bench_quiesce): OpenBLAS's workers spin for 80-120 ms after its calls and would take
 * a core from the next block. */
static void measure_all(run_arg *r, int n, int reps, double *med, double *best)
{
    double t[8][64];
    int calls[8];
    if (reps > 64) reps = 64;
    for (int v = 0; v < n; v++) { /* warm-up (~0.1 s) and block size */
        double t0 = fokus_clock();
        int warm = 0;
        do {
            run_once(&r[v]);
            warm++;
        } while (fokus_clock() - t0 < 0.1 || warm < 2);
        double one = (fokus_clock() - t0) / warm;
        calls[v] = one > 0.02 ? 1 : (int)(0.02 / (one > 1e-7 ? one : 1e-7)) + 1;
    }
    bench_quiesce(1.0);
    for (int i = 0; i < reps; i++) {
        bool slept = false;
        for (int v = 0; v < n; v++) {
            double s = fokus_clock();
            for (int c = 0; c < calls[v]; c++) run_once(&r[v]);
            t[v][i] = (fokus_clock() - s) / calls[v];
            if (r[v].openblas && (v == n - 1 || !r[v + 1].openblas)) {
                bench_quiesce(1.0);
                slept = true;
            }
        }
        (void)slept;
    }
    for (int v = 0; v < n; v++) {
        double flops = 2.0 * (double)r[v].M * (double)r[v].N * (double)r[v].K;
        double m = bench_median(t[v], reps); /* sorts: t[v][0] is the fastest */
        med[v] = flops / m / 1e9;
        best[v] = flops / t[v][0] / 1e9;
    }
}

static uint16_t f32_to_f16(float f) /* round to nearest even, normal range only (bench data) */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    int32_t e = (int32_t)((u >> 23) & 0xff) - 127 + 15;
    uint32_t man = u & 0x7fffffu;
    if (e <= 0) return (uint16_t)sign;
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 9;
    if (reps < 3) reps = 3;
    const int only = argc > 2 ? atoi(argv[2]) : 0;
    static const int64_t shapes[][3] = {
        {77, 3072, 768}, {77, 768, 768}, {1024, 1536, 1536}, {1024, 6144, 1536}, {2048, 2048, 2048},
        {2, 6912, 1152}, /* adaLN modulation at batch 2 (the unpacked few-row path) */
    };
    const int nshapes = (int)(sizeof shapes / sizeof *shapes);
    int64_t maxa = 0, maxb = 0, maxc = 0;
    for (int s = 0; s < nshapes; s++) {
        if (shapes[s][0] * shapes[s][2] > maxa) maxa = shapes[s][0] * shapes[s][2];
        if (shapes[s][1] * shapes[s][2] > maxb) maxb = shapes[s][1] * shapes[s][2];
        if (shapes[s][0] * shapes[s][1] > maxc) maxc = shapes[s][0] * shapes[s][1];
    }
    /* operands from a fokus allocator: the memory fokus tensors get (transparent huge
     * pages from 2 MiB unless FOKUS_THP=0), for fokus and OpenBLAS alike */
    fokus_allocator *al;
    fokus_error aerr;
    if (fokus_allocator_new(&al, 0, &aerr) != FOKUS_OK) return 1;
    float *A = fokus_allocator_alloc(al, sizeof(float) * (size_t)maxa, false);
    float *B = fokus_allocator_alloc(al, sizeof(float) * (size_t)maxb, false);
    uint16_t *Bh = fokus_allocator_alloc(al, 2 * (size_t)maxb, false);
    float *C = fokus_allocator_alloc(al, sizeof(float) * (size_t)maxc, false);
    if (!A || !B || !Bh || !C) return 1;
    uint64_t x = 88172645463325252ull;
    for (int64_t i = 0; i < maxa; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        A[i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
    }
    for (int64_t i = 0; i < maxb; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        B[i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5) * 0.1f;
        Bh[i] = f32_to_f16(B[i]);
    }
    memset(C, 0, sizeof(float) * (size_t)maxc);

    char targets[8][192];
    int ntargets = 0;
    printf("fokus_gemm, C = A * B^T (B [N,K], the Linear layout) and A * B (B [K,N]); GFLOP/s median (best) of %d runs\n",
           reps);
#ifdef FOKUS_HAVE_OPENBLAS
    printf("OpenBLAS: %s (%s)\n", openblas_get_corename(), openblas_get_config());
#endif
    for (int threads = only > 0 ? only : 1; threads <= (only > 0 ? only : 2); threads++) {
        fokus_ctx *ctx;
        fokus_error err;
        if (fokus_ctx_new(&ctx, threads, &err) != FOKUS_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double peak = bench_fma_peak(ctx);
        printf("\n%d thread%s, FMA peak %.0f GFLOP/s\n", threads, threads > 1 ? "s" : "", peak);
        printf("%-18s %-9s %15s %15s %7s %9s\n", "M,N,K", "B", "fokus", "openblas f32", "/peak", "/openblas");
#ifdef FOKUS_HAVE_OPENBLAS
        openblas_set_num_threads(threads);
#endif
        for (int s = 0; s < nshapes; s++) {
            /* variants 0 f32 [N,K], 1 f16 [N,K], 2 f32 [K,N] (fokus), then 3 [N,K] and
             * 4 [K,N] (OpenBLAS f32), timed interleaved */
            run_arg rv[5];
            int nv = 3;
            for (int v = 0; v < 5; v++) {
                run_arg r = {ctx, shapes[s][0], shapes[s][1], shapes[s][2], A, B, FOKUS_F32, C, v >= 3, v == 2 || v == 4};
                if (v == 1) r.dt = FOKUS_F16, r.B = Bh;
                rv[v] = r;
            }
#ifdef FOKUS_HAVE_OPENBLAS
            nv = 5;
#endif
            double med[5] = {0}, best[5] = {0}, ob_med[2] = {0, 0}, ob_best[2] = {0, 0};
            measure_all(rv, nv, reps, med, best);
            if (nv == 5)
                for (int kn = 0; kn < 2; kn++) ob_med[kn] = med[3 + kn], ob_best[kn] = best[3 + kn];
            run_arg r = rv[0];
            /* issue 7's C-level counterparts (the Lua ones are in bench_lua.lua) */
            if (threads == 2 && nv == 5 && (r.M == 77 || r.M == 2048) && r.K <= 2048) {
                const double want = r.M == 77 ? 1.4 : 1.0;
                for (int kn = 0; kn < 2; kn++) {
                    char t[96];
                    snprintf(t, sizeof t, "%lld,%lld,%lld f32 %s / OpenBLAS", (long long)r.M, (long long)r.N,
                             (long long)r.K, kn ? "[K,N]" : "[N,K]");
                    const double got = med[kn ? 2 : 0] / ob_med[kn];
                    if (ntargets < 8)
                        snprintf(targets[ntargets++], sizeof targets[0], "  %-40s %5.2f (target >= %.2f) %s", t, got,
                                 want, got >= want ? "met" : "NOT MET");
                }
            }
            for (int d = 0; d < 3; d++) {
                char shape[32], ours[32], ob[32];
                snprintf(shape, sizeof shape, "%lld,%lld,%lld", (long long)r.M, (long long)r.N, (long long)r.K);
                snprintf(ours, sizeof ours, "%.0f (%.0f)", med[d], best[d]);
                const int kn = d == 2;
                snprintf(ob, sizeof ob, "%.0f (%.0f)", ob_med[kn], ob_best[kn]);
                printf("%-18s %-9s %15s %15s %7.2f %9.2f\n", shape, d == 1 ? "f16 [N,K]" : kn ? "f32 [K,N]" : "f32 [N,K]",
                       ours, ob_med[kn] > 0 ? ob : "-", med[d] / peak, ob_med[kn] > 0 ? med[d] / ob_med[kn] : 0.0);
                fflush(stdout);
            }
        }
        fokus_ctx_free(ctx);
    }
    if (ntargets) printf("\ntargets, C kernel, 2 threads (this run):\n");
    for (int i = 0; i < ntargets; i++) printf("%s\n", targets[i]);
    fokus_allocator_free(al, A, sizeof(float) * (size_t)maxa);
    fokus_allocator_free(al, B, sizeof(float) * (size_t)maxb);
    fokus_allocator_free(al, Bh, 2 * (size_t)maxb);
    fokus_allocator_free(al, C, sizeof(float) * (size_t)maxc);
    fokus_allocator_release(al);
    return 0;
}
