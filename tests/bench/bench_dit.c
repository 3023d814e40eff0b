/* DiT speed: a DiT-XL/2-shaped model cut to 2 of its 28 blocks (width 1152, 16 heads,
 * MLP 4608, 256 tokens = a 32x32 latent at patch 2) with random weights made here, batch
 * 2 (a conditional and an unconditional row, as classifier-free guidance runs it), f32
 * and f16 weights, 1 and 2 threads; medians after warm-up, the GFLOP/s that implies and
 * the machine's FMA peak. The blocks are ~99% of the work, so 28 blocks take about 14x
 * the time printed.
 *
 *   build/bench/bench_dit [reps]      (default 7) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct run_arg {
    fokus_ctx *ctx;
    fokus_dit *m;
    fokus_tensor x, t, y, out;
} run_arg;

static void run_once(void *p)
{
    run_arg *r = p;
    fokus_error err;
    if (fokus_dit_forward(r->ctx, r->m, &r->x, &r->t, &r->y, &r->out, NULL, &err) != FOKUS_OK) {
        fprintf(stderr, "dit: %s\n", err.msg);
        exit(1);
    }
}

static fokus_dit *model(fokus_dtype dt, fokus_st_entry **keep, size_t *n)
{
    fokus_error err;
    fokus_dit_tiny_opts o = {.hidden_size = 1152, .depth = 2, .in_channels = 4, .patch_size = 2, .input_size = 32,
                             .num_classes = 1000};
    if (fokus_dit_tiny_weights(7, &o, keep, n, &err) != FOKUS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    for (size_t i = 0; dt != FOKUS_F32 && i < *n; i++) {
        fokus_tensor *t = &(*keep)[i].tensor;
        if (t->ndim < 2 || strcmp((*keep)[i].name, "pos_embed") == 0) continue;
        fokus_tensor h;
        if (fokus_tensor_to(&h, t, dt, &err) != FOKUS_OK) exit(1);
        fokus_tensor_release(t);
        *t = h;
    }
    fokus_dit *m;
    if (fokus_dit_new(&m, *keep, *n, "", NULL, &err) != FOKUS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return m;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    fokus_ctx *ctx;
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) return 1;
    double peak2 = bench_fma_peak(ctx);
    fokus_ctx_set_threads(ctx, 1, &err);
    double peak1 = bench_fma_peak(ctx);
    fokus_ctx_set_threads(ctx, 2, &err);
    const double D = 1152, M = 4608, T = 256, N = 2, R = N * T, blocks = 2;
    /* per block: qkv, proj, fc1, fc2 GEMMs over R rows, attention (QK^T and PV), adaLN */
    const double block = 2 * R * (4 * D * D + 2 * D * M) + 4 * N * T * T * D + 2 * N * 6 * D * D;
    const double gflop = (blocks * block + 2 * R * D * 16 + 2 * R * D * 32 + 2 * N * (256 * D + D * D + 2 * D * D)) / 1e9;
    printf("dit: DiT-XL/2 shape cut to 2 blocks (1152 wide, 16 heads, 256 tokens, batch 2), %.1f GFLOP; "
           "FMA peak %.0f GFLOP/s on 2 threads, %.0f on 1\n", gflop, peak2, peak1);
    printf("%-8s %8s %12s %10s %10s %8s\n", "weights", "threads", "median ms", "best ms", "GFLOP/s", "/peak");
    run_arg r = {ctx, NULL, {0}, {0}, {0}, {0}};
    int64_t xs[4] = {2, 4, 32, 32}, ns[1] = {2}, os[4] = {2, 8, 32, 32};
    fokus_tensor_new(&r.x, FOKUS_F32, 4, xs, &err);
    fokus_tensor_randn(&r.x, 1, &err);
    fokus_tensor_new(&r.t, FOKUS_F32, 1, ns, &err);
    fokus_tensor_new(&r.y, FOKUS_I32, 1, ns, &err);
    fokus_tensor_set(&r.t, 0, 500), fokus_tensor_set(&r.t, 1, 500);
    fokus_tensor_set(&r.y, 0, 207), fokus_tensor_set(&r.y, 1, 1000);
    fokus_tensor_new(&r.out, FOKUS_F32, 4, os, &err);
    const fokus_dtype dts[2] = {FOKUS_F32, FOKUS_F16};
    for (int d = 0; d < 2; d++) {
        fokus_st_entry *keep;
        size_t n;
        r.m = model(dts[d], &keep, &n);
        for (int th = 1; th <= 2; th++) {
            fokus_ctx_set_threads(ctx, th, &err);
            double t[64], best = 1e9;
            bench_time(run_once, &r, 2, 1);
            int k = reps > 64 ? 64 : reps < 1 ? 1 : reps;
            for (int i = 0; i < k; i++) {
                double t0 = fokus_clock();
                run_once(&r);
                t[i] = fokus_clock() - t0;
                if (t[i] < best) best = t[i];
            }
            double med = bench_median(t, k);
            printf("%-8s %8d %12.1f %10.1f %10.0f %8.2f\n", fokus_dtype_name(dts[d]), th, med * 1e3, best * 1e3,
                   gflop / med, gflop / med / (th == 1 ? peak1 : peak2));
        }
        fokus_dit_free(r.m);
        fokus_st_entries_free(keep, n);
        fokus_ctx_set_threads(ctx, 2, &err);
    }
    fokus_tensor_release(&r.x), fokus_tensor_release(&r.t), fokus_tensor_release(&r.y), fokus_tensor_release(&r.out);
    fokus_ctx_free(ctx);
    return 0;
}
