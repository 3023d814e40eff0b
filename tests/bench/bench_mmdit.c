/* SD3 MMDiT speed and memory, with random weights made here (no checkpoint needed):
 *
 *  blocks   SD3-medium-shaped forward cut to 2 joint blocks (width 1536, 24 heads, MLP
 *           6144, 1024 image tokens = a 64x64 latent at patch 2, 154 text tokens of
 *           width 4096, pooled 2048), batch 2 (cond + uncond, as CFG runs it), f32 and
 *           f16 weights, 1 and 2 threads: medians after warm-up, GFLOP/s, the ratio to
 *           the machine's FMA peak measured in the same run. Block 2's context stream is
 *           pre_only, as SD3's last block.
 *  step512  the full SD3-medium (24 blocks, mmdit_sd3_medium.config.json shapes, pos_embed
 *           192x192) with f16 weights: one sampler step at 512x512 (64x64 latent, batch 2
 *           for CFG): seconds per step and the process's peak RSS (VmHWM).
 *  mem1024  the same model at 1024x1024 (128x128 latent, 4096 patches), batch 1: one
 *           forward, seconds and peak RSS (the bound: under 8 GiB with f16
 *           weights; the weights alone are 4.2 GB).
 *
 *   build/bench/bench_mmdit [reps [parts]]     reps default 3; parts a comma list of
 *                                              blocks,step512,mem1024 (default all) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct run_arg {
    fokus_ctx *ctx;
    fokus_mmdit *m;
    fokus_tensor x, t, c, y, out;
} run_arg;

static void run_once(void *p)
{
    run_arg *r = p;
    fokus_error err;
    if (fokus_mmdit_forward(r->ctx, r->m, &r->x, &r->t, &r->c, &r->y, NULL, &r->out, &err) != FOKUS_OK) {
        fprintf(stderr, "mmdit: %s\n", err.msg);
        exit(1);
    }
}

static fokus_mmdit *model(int64_t depth, int64_t pos, fokus_dtype dt, fokus_st_entry **keep, size_t *n)
{
    fokus_error err;
    fokus_mmdit_tiny_opts o = {.hidden_size = 1536, .num_heads = 24, .depth = depth, .in_channels = 16, .patch_size = 2,
                               .context_dim = 4096, .pooled_dim = 2048, .pos_embed_max_size = pos, .dtype = dt};
    if (fokus_mmdit_tiny_weights(11, &o, keep, n, &err) != FOKUS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    fokus_mmdit *m;
    if (fokus_mmdit_new(&m, *keep, *n, "", NULL, &err) != FOKUS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return m;
}

static void inputs(run_arg *r, int64_t N, int64_t side, int64_t Lc)
{
    fokus_error err;
    int64_t xs[4] = {N, 16, side, side}, ns[1] = {N}, cs[3] = {N, Lc, 4096}, ys[2] = {N, 2048};
    fokus_tensor_release(&r->x), fokus_tensor_release(&r->t), fokus_tensor_release(&r->c);
    fokus_tensor_release(&r->y), fokus_tensor_release(&r->out);
    fokus_tensor_new(&r->x, FOKUS_F32, 4, xs, &err);
    fokus_tensor_randn(&r->x, 1, &err);
    fokus_tensor_new(&r->t, FOKUS_F32, 1, ns, &err);
    for (int64_t i = 0; i < N; i++) fokus_tensor_set(&r->t, i, 750);
    fokus_tensor_new(&r->c, FOKUS_F32, 3, cs, &err);
    fokus_tensor_randn(&r->c, 2, &err);
    fokus_tensor_new(&r->y, FOKUS_F32, 2, ys, &err);
    fokus_tensor_randn(&r->y, 3, &err);
    fokus_tensor_new(&r->out, FOKUS_F32, 4, xs, &err);
}

/* FLOPs of one forward (multiply-add = 2): every GEMM and both attention products. */
static double flops(int64_t N, int64_t T, int64_t Lc, int64_t depth)
{
    const double D = 1536, M = 6144, L = (double)(T + Lc);
    double f = 0;
    for (int64_t i = 0; i < depth; i++) {
        const bool last = i == depth - 1;
        f += 2.0 * N * T * D * (3 * D + D + 2 * M);                   /* x stream */
        f += 2.0 * N * Lc * D * (last ? 3 * D : 3 * D + D + 2 * M);   /* context stream (pre_only: qkv) */
        f += 4.0 * N * L * L * D;                                     /* QK^T and PV */
        f += 2.0 * N * D * D * (6 + (last ? 2 : 6));                  /* adaLN */
    }
    f += 2.0 * N * Lc * 4096 * D + 2.0 * N * T * 64 * D * 2;         /* context / patch / final */
    f += 2.0 * N * (256 * D + 2048 * D + 2 * D * D + 2 * D * D);      /* t, y embedders, final adaLN */
    return f;
}

static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

static double weight_bytes(const fokus_st_entry *e, size_t n)
{
    double b = 0;
    for (size_t i = 0; i < n; i++) b += (double)fokus_tensor_numel(&e[i].tensor) * (double)fokus_dtype_size(e[i].tensor.dtype);
    return b;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    const char *parts = argc > 2 ? argv[2] : "blocks,step512,mem1024";
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    fokus_ctx *ctx;
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) return 1;
    run_arg r = {ctx, NULL, {0}, {0}, {0}, {0}, {0}};
    if (strstr(parts, "blocks")) {
        double peak2 = bench_fma_peak(ctx);
        fokus_ctx_set_threads(ctx, 1, &err);
        double peak1 = bench_fma_peak(ctx);
        fokus_ctx_set_threads(ctx, 2, &err);
        const double gflop = flops(2, 1024, 154, 2) / 1e9;
        printf("mmdit: SD3-medium shape cut to 2 blocks (1536 wide, 24 heads, 1024 image + 154 text tokens, batch 2), "
               "%.1f GFLOP; FMA peak %.0f GFLOP/s on 2 threads, %.0f on 1\n", gflop, peak2, peak1);
        printf("%-8s %8s %12s %10s %10s %8s\n", "weights", "threads", "median ms", "best ms", "GFLOP/s", "/peak");
        inputs(&r, 2, 64, 154);
        const fokus_dtype dts[2] = {FOKUS_F32, FOKUS_F16};
        for (int d = 0; d < 2; d++) {
            fokus_st_entry *keep;
            size_t n;
            r.m = model(2, 32, dts[d], &keep, &n);
            for (int th = 2; th >= 1; th--) {
                fokus_ctx_set_threads(ctx, th, &err);
                double t[64], best = 1e9;
                run_once(&r); /* warm-up: scratch grows once */
                for (int i = 0; i < reps; i++) {
                    double t0 = fokus_clock();
                    run_once(&r);
                    t[i] = fokus_clock() - t0;
                    if (t[i] < best) best = t[i];
                }
                double med = bench_median(t, reps);
                printf("%-8s %8d %12.1f %10.1f %10.0f %8.2f\n", fokus_dtype_name(dts[d]), th, med * 1e3, best * 1e3,
                       gflop / med, gflop / med / (th == 1 ? peak1 : peak2));
                fflush(stdout);
            }
            fokus_mmdit_free(r.m);
            fokus_st_entries_free(keep, n);
            fokus_ctx_set_threads(ctx, 2, &err);
        }
    }
    if (strstr(parts, "step512") || strstr(parts, "mem1024")) {
        fokus_st_entry *keep;
        size_t n;
        double t0 = fokus_clock();
        r.m = model(24, 192, FOKUS_F16, &keep, &n);
        printf("mmdit: full SD3-medium shapes (24 blocks, pos_embed 192x192), random f16 weights: %.2f GB, made in %.1f s; "
               "peak RSS so far %.2f GiB\n", weight_bytes(keep, n) / 1e9, fokus_clock() - t0, vm_hwm_kb() / 1048576.0);
        if (strstr(parts, "step512")) {
            inputs(&r, 2, 64, 154);
            const double gflop = flops(2, 1024, 154, 24) / 1e9;
            for (int i = 0; i < 2; i++) {
                t0 = fokus_clock();
                run_once(&r);
                double s = fokus_clock() - t0;
                printf("  512x512, batch 2 (CFG), 2 threads, step %d: %.2f s (%.0f GFLOP, %.0f GFLOP/s); peak RSS %.2f GiB\n",
                       i + 1, s, gflop, gflop / s, vm_hwm_kb() / 1048576.0);
                fflush(stdout);
            }
        }
        if (strstr(parts, "mem1024")) {
            inputs(&r, 1, 128, 154);
            const double gflop = flops(1, 4096, 154, 24) / 1e9;
            t0 = fokus_clock();
            run_once(&r);
            double s = fokus_clock() - t0;
            printf("  1024x1024, batch 1, 2 threads: %.2f s (%.0f GFLOP, %.0f GFLOP/s); peak RSS %.2f GiB (bound 8 GiB)\n", s,
                   gflop, gflop / s, vm_hwm_kb() / 1048576.0);
        }
        fokus_mmdit_free(r.m);
        fokus_st_entries_free(keep, n);
    }
    fokus_tensor_release(&r.x), fokus_tensor_release(&r.t), fokus_tensor_release(&r.c), fokus_tensor_release(&r.y);
    fokus_tensor_release(&r.out);
    fokus_ctx_free(ctx);
    return 0;
}
