/* Attention speed: fokus_attend on the standard shapes, 1 and 2 threads, GFLOP/s
 * (FLOPs = 4 B H Nq Nk d, the two matrix products) as medians after warm-up, next to
 * the machine's FMA peak and to baselines measured in the same run:
 *   naive  plain float32 attention, one query row at a time (dot products, max,
 *          expf, weighted sum of V rows), 1 thread, compiled with the same flags;
 *          timed on a subset of heads/rows and scaled (said in the output);
 *   blas   (when OpenBLAS is installed) QK^T and PV with cblas_sgemm per head and
 *          256-row query block plus a vectorized row softmax (blas_attend.h), the
 *          faster of OpenBLAS threaded inside and heads over threads; materialises
 *          256 x Nk scores per thread.
 * Then the peak memory of one (1, 32768, 32768, 64) call, in a child process.
 *
 *   bench_attend            the whole table
 *   bench_attend quick      fewer repetitions
 *   bench_attend S T [b]    only shape S (0-based) with T threads [and the baselines]
 *   bench_attend mem        only the peak-memory measurement
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "linalg/simd_math.h"

#ifdef FOKUS_HAVE_OPENBLAS
#include "blas_attend.h"
#endif

typedef struct shape {
    int H, Nq, Nk, d;
    fokus_causal causal;
    int extra; /* 1: bool key-padding mask [Nk] (last 10% off), 2: f32 bias [Nq, Nk] */
} shape;

static const shape shapes[] = {
    {12, 77, 77, 64, FOKUS_CAUSAL_NONE, 0},       {8, 1024, 1024, 64, FOKUS_CAUSAL_NONE, 0},
    {8, 4096, 4096, 64, FOKUS_CAUSAL_NONE, 0},    {24, 1178, 1178, 64, FOKUS_CAUSAL_NONE, 0},
    {16, 4096, 4096, 128, FOKUS_CAUSAL_NONE, 0},  {8, 4096, 77, 64, FOKUS_CAUSAL_NONE, 0},
    {8, 4096, 4096, 64, FOKUS_CAUSAL_TOP_LEFT, 0}, {12, 77, 77, 64, FOKUS_CAUSAL_TOP_LEFT, 0},
    {24, 1178, 1178, 64, FOKUS_CAUSAL_NONE, 1},   {24, 1178, 1178, 64, FOKUS_CAUSAL_NONE, 2},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* CPU seconds of this process: with other jobs on the machine, flops per CPU-second
 * (times the thread count) shows what the kernel does when it has the cores. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The FMA peak of one core per CPU-second of the thread (bench.h's loop, timed on
 * CLOCK_THREAD_CPUTIME_ID): what bench_fma_peak shows on an idle machine. */
static volatile float peak_sink;
static double cpu_peak(void)
{
    bench_peak_arg a;
    double best = 0;
    memset(&a, 0, sizeof a);
    a.iters = 2000000;
    for (int r = 0; r < 5; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        bench_peak_task(&a, 0, 1, 0);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        peak_sink += a.sink[0]; /* keeps the loop from being optimised away */
        double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        double g = 2.0 * 16 * 12 * (double)a.iters / sec / 1e9;
        if (g > best) best = g;
    }
    return best;
}

static void fill(fokus_tensor *t, uint64_t seed)
{
    float *p = t->data;
    int64_t n = fokus_tensor_numel(t);
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        p[i] = (float)((double)(s >> 40) / (double)(1 << 24) * 2.0 - 1.0) * 1.7f;
    }
}

typedef struct run_arg {
    fokus_ctx *ctx;
    fokus_tensor *q, *k, *v;
    fokus_attend_opts opts;
} run_arg;

static void run_attend(void *p)
{
    run_arg *a = p;
    fokus_tensor out = {0};
    fokus_error err;
    if (fokus_attend(a->ctx, a->q, a->k, a->v, &a->opts, &out, NULL, NULL, &err) != FOKUS_OK) {
        fprintf(stderr, "attend: %s\n", err.msg);
        exit(1);
    }
    fokus_tensor_release(&out);
}

/* Naive float32 attention of heads [0, nh) and rows [0, nr) of one [H, N, d] problem. */
static void naive(const float *q, const float *k, const float *v, float *out, const shape *s, int nh, int nr,
                  float *row)
{
    const float scale = 1.0f / sqrtf((float)s->d);
    for (int h = 0; h < nh; h++)
        for (int i = 0; i < nr; i++) {
            const float *qi = q + ((size_t)h * s->Nq + i) * s->d;
            int kend = s->causal ? (i + 1 < s->Nk ? i + 1 : s->Nk) : s->Nk;
            float m = -INFINITY, sum = 0;
            for (int j = 0; j < kend; j++) {
                const float *kj = k + ((size_t)h * s->Nk + j) * s->d;
                float x = 0;
                for (int c = 0; c < s->d; c++) x += qi[c] * kj[c];
                row[j] = x * scale;
                if (row[j] > m) m = row[j];
            }
            float *o = out + ((size_t)h * s->Nq + i) * s->d;
            for (int c = 0; c < s->d; c++) o[c] = 0;
            for (int j = 0; j < kend; j++) {
                float p = expf(row[j] - m);
                sum += p;
                const float *vj = v + ((size_t)h * s->Nk + j) * s->d;
                for (int c = 0; c < s->d; c++) o[c] += p * vj[c];
            }
            for (int c = 0; c < s->d; c++) o[c] /= sum;
        }
}

static double flops_of(const shape *s)
{
    double f = 4.0 * s->H * (double)s->Nq * s->Nk * s->d;
    /* causal: only the visible (i, j) pairs are work; count those (about half) */
    if (s->causal) {
        double vis = 0;
        for (int i = 0; i < s->Nq; i++) vis += (i + 1 < s->Nk ? i + 1 : s->Nk);
        f *= vis / ((double)s->Nq * s->Nk);
    }
    return f;
}

static void bench_shape(int si, int nt, fokus_ctx *ctx, double peak, bool quick, bool baselines)
{
    const shape *s = &shapes[si];
    fokus_error err;
    int64_t qs[3] = {s->H, s->Nq, s->d}, ks[3] = {s->H, s->Nk, s->d};
    fokus_tensor q = {0}, k = {0}, v = {0};
    if (fokus_tensor_empty(&q, FOKUS_F32, 3, qs, &err) || fokus_tensor_empty(&k, FOKUS_F32, 3, ks, &err) ||
        fokus_tensor_empty(&v, FOKUS_F32, 3, ks, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    fill(&q, 1), fill(&k, 2), fill(&v, 3);
    run_arg ra;
    memset(&ra, 0, sizeof ra);
    ra.ctx = ctx, ra.q = &q, ra.k = &k, ra.v = &v;
    ra.opts.causal = s->causal;
    fokus_tensor extra = {0};
    if (s->extra == 1) {
        int64_t ms[1] = {s->Nk};
        if (fokus_tensor_empty(&extra, FOKUS_BOOL, 1, ms, &err)) exit(1);
        for (int j = 0; j < s->Nk; j++) ((uint8_t *)extra.data)[j] = j < s->Nk * 9 / 10;
        ra.opts.mask = &extra;
    } else if (s->extra == 2) {
        int64_t bs[2] = {s->Nq, s->Nk};
        if (fokus_tensor_empty(&extra, FOKUS_F32, 2, bs, &err)) exit(1);
        fill(&extra, 4);
        ra.opts.bias = &extra;
    }
    double fl = flops_of(s);
    double t0 = fokus_clock();
    run_attend(&ra);
    double one = fokus_clock() - t0;
    /* a sample is `inner` back-to-back calls (>= ~2 ms), so calls of 50 us are timed
     * like an application running them in a loop (a CLIP layer after another) */
    int inner = one < 0.002 ? (int)(0.002 / (one > 1e-6 ? one : 1e-6)) + 1 : 1;
    if (inner > 200) inner = 200;
    int reps = bench_reps_for(one * inner, quick ? 0.6 : 2.0);
    double times[64];
    int warm = one < 0.01 ? 20 : 1;
    for (int i = 0; i < warm; i++) run_attend(&ra);
    double best = 1e30, cpu = 0;
    for (int i = 0; i < reps; i++) {
        double a = fokus_clock(), c0 = cpu_seconds();
        for (int r = 0; r < inner; r++) run_attend(&ra);
        times[i] = (fokus_clock() - a) / inner;
        cpu += (cpu_seconds() - c0) / inner;
        if (times[i] < best) best = times[i];
    }
    double med = bench_median(times, reps);
    double g = fl / med / 1e9;
    printf("(%2d,%5d,%5d,%3d)%s  %d thr  %9.3f ms  %7.1f GFLOP/s (best %6.1f, per cpu-s x%d %6.1f)  %4.0f%% of peak",
           s->H, s->Nq, s->Nk, s->d,
           s->causal ? " causal " : s->extra == 1 ? " keymask" : s->extra == 2 ? " bias   " : "        ", nt,
           med * 1e3, g, fl / best / 1e9,
           nt, fl * reps / cpu / 1e9 * nt, 100 * g / peak);
    if (baselines && !s->extra) {
        /* naive baseline: 1 head (or fewer rows) so it stays ~0.3 s, scaled to the shape */
        float *out = malloc(sizeof(float) * (size_t)s->H * s->Nq * s->d), *row = malloc(sizeof(float) * s->Nk);
        int nr = s->Nq;
        double per_row = 2.0 * s->Nk * s->d * 2 / 1.5e9; /* ~1.5 GFLOP/s guess to size the sample */
        while (nr > 16 && nr * per_row > 0.15) nr /= 2;
        naive(q.data, k.data, v.data, out, s, 1, nr, row);
        double bt[5];
        for (int r = 0; r < 3; r++) {
            double a = fokus_clock();
            naive(q.data, k.data, v.data, out, s, 1, nr, row);
            bt[r] = fokus_clock() - a;
        }
        double bmed = bench_median(bt, 3);
        double vis = 0; /* visible (i, j) pairs of the sample */
        for (int i = 0; i < nr; i++) vis += s->causal ? (i + 1 < s->Nk ? i + 1 : s->Nk) : s->Nk;
        double bfl = 4.0 * s->d * vis;
        double bg = bfl / bmed / 1e9;
        printf("  | naive 1thr %5.2f GFLOP/s (1 head, %d rows) x%.0f", bg, nr, g / bg);
#ifdef FOKUS_HAVE_OPENBLAS
        {
            /* both ways of using the cores (blas_attend.h); the faster one is reported */
            blas_att ba;
            memset(&ba, 0, sizeof ba);
            ba.q = q.data, ba.k = k.data, ba.v = v.data, ba.out = out;
            ba.H = s->H, ba.Nq = s->Nq, ba.Nk = s->Nk, ba.d = s->d, ba.causal = s->causal != FOKUS_CAUSAL_NONE;
            if (!blas_att_init(&ba, nt)) exit(1);
            double gbest = 0;
            int mbest = 0;
            for (int mode = 0; mode < 2; mode++) {
                double bt2[9];
                double a0 = fokus_clock();
                blas_att_run(&ba, mode, ctx, nt);
                double once = fokus_clock() - a0;
                int in2 = once < 0.002 ? (int)(0.002 / (once > 1e-6 ? once : 1e-6)) + 1 : 1;
                for (int r = 0; r < 5; r++) {
                    double a = fokus_clock();
                    for (int x = 0; x < in2; x++) blas_att_run(&ba, mode, ctx, nt);
                    bt2[r] = (fokus_clock() - a) / in2;
                }
                double gb = fl / bench_median(bt2, 5) / 1e9;
                if (gb > gbest) gbest = gb, mbest = mode;
                bench_quiesce(1.0); /* OpenBLAS's workers spin a while after its calls */
            }
            /* the ratio from interleaved rounds (a fokus block, then a block of the
             * faster baseline, then a pause for OpenBLAS's spinning workers), so a busy
             * moment of the machine hits both alike */
            double tf[5], tb[5], rr[5];
            double a0 = fokus_clock();
            blas_att_run(&ba, mbest, ctx, nt);
            double once = fokus_clock() - a0;
            int in2 = once < 0.01 ? (int)(0.01 / (once > 1e-6 ? once : 1e-6)) + 1 : 1;
            int in1 = med < 0.01 ? (int)(0.01 / (med > 1e-6 ? med : 1e-6)) + 1 : 1;
            bench_quiesce(1.0);
            for (int r = 0; r < 5; r++) {
                double a = fokus_clock();
                for (int x = 0; x < in1; x++) run_attend(&ra);
                tf[r] = (fokus_clock() - a) / in1;
                a = fokus_clock();
                for (int x = 0; x < in2; x++) blas_att_run(&ba, mbest, ctx, nt);
                tb[r] = (fokus_clock() - a) / in2;
                rr[r] = tb[r] / tf[r];
                bench_quiesce(1.0);
            }
            printf("  | blas %d thr %6.1f GFLOP/s, interleaved x%.2f (%s)", nt, gbest, bench_median(rr, 5),
                   mbest == BLAS_ATT_HEADS ? "heads/thr" : "blocks");
            blas_att_free(&ba);
        }
#endif
        free(out);
        free(row);
    }
    printf("\n");
    fflush(stdout);
    fokus_tensor_release(&extra);
    fokus_tensor_release(&q);
    fokus_tensor_release(&k);
    fokus_tensor_release(&v);
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n)) v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Peak memory of one long call. A child process creates q, k, v (touched), resets
 * the kernel's high-water mark (/proc/self/clear_refs "5"), runs attend, and reports
 * VmHWM - VmRSS(before): the output plus everything attend allocated. */
static void bench_memory(int nt)
{
    const int N = 32768, d = 64;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fokus_ctx *ctx;
        fokus_error err;
        if (fokus_ctx_new(&ctx, nt, &err)) _exit(1);
        int64_t s[3] = {1, N, d};
        fokus_tensor q = {0}, k = {0}, v = {0}, out = {0};
        if (fokus_tensor_empty(&q, FOKUS_F32, 3, s, &err) || fokus_tensor_empty(&k, FOKUS_F32, 3, s, &err) ||
            fokus_tensor_empty(&v, FOKUS_F32, 3, s, &err))
            _exit(1);
        fill(&q, 1), fill(&k, 2), fill(&v, 3);
        long before = status_kb("VmRSS:");
        FILE *f = fopen("/proc/self/clear_refs", "w");
        bool reset = f && fputs("5", f) >= 0;
        if (f) fclose(f);
        double t0 = fokus_clock();
        if (fokus_attend(ctx, &q, &k, &v, NULL, &out, NULL, NULL, &err)) _exit(1);
        double t = fokus_clock() - t0;
        long hwm = status_kb("VmHWM:");
        double io = 4.0 * N * d * 4 / 1048576.0;
        printf("peak memory (1,32768,32768,64), %d thr: %.0f ms (%.1f GFLOP/s); inputs+output %.0f MiB; "
               "VmHWM - VmRSS before the call = %.1f MiB (the %.0f MiB output + %.1f MiB of attend's own)%s\n",
               nt, t * 1e3, 4.0 * N * (double)N * d / t / 1e9, io, (hwm - before) / 1024.0, io / 4,
               (hwm - before) / 1024.0 - io / 4, reset ? "" : " [clear_refs unavailable: HWM of the process]");
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
}

int main(int argc, char **argv)
{
    fokus_ctx *ctx[3] = {0};
    fokus_error err;
    bool quick = argc > 1 && !strcmp(argv[1], "quick");
    for (int t = 1; t <= 2; t++)
        if (fokus_ctx_new(&ctx[t], t, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    if (argc > 1 && !strcmp(argv[1], "mem")) {
        bench_memory(2);
        return 0;
    }
    if (argc > 2) {
        int si = atoi(argv[1]), nt = atoi(argv[2]);
        if (si < 0 || si >= NSHAPES || nt < 1 || nt > 2) return 1;
        double peak = bench_fma_peak(ctx[nt]);
        printf("FMA peak %d thr: %.1f GFLOP/s\n", nt, peak);
        bench_shape(si, nt, ctx[nt], peak, false, argc > 3);
        return 0;
    }
    /* first, while the heap is still clean (a child forked later would inherit freed
     * but resident buffers and reuse them for the output) */
    bench_memory(2);
    /* the best of three bench_fma_peak medians: one busy moment on a shared machine
     * should not make the reference look low */
    double peak[3] = {0, 0, 0};
    for (int t = 1; t <= 2; t++)
        for (int r = 0; r < 3; r++) {
            double p = bench_fma_peak(ctx[t]);
            if (p > peak[t]) peak[t] = p;
        }
    printf("fokus_attend, B=1, f32, GFLOP/s = 4 H Nq Nk d / median time (causal: visible pairs only)\n");
    printf("FMA peak (bench_fma_peak, best of 3, this run): 1 thr %.1f, 2 thr %.1f GFLOP/s; on CPU time\n"
           "(immune to other jobs): %.1f per core\n", peak[1], peak[2], cpu_peak());
    printf("naive = float32 row-at-a-time attention on 1 thread, timed on 1 head (and fewer rows for\n"
           "long shapes) and scaled by FLOPs; blas = OpenBLAS sgemm + vector softmax, the faster of\n"
           "256-row blocks with OpenBLAS threaded inside and heads over threads with OpenBLAS single-threaded;\n"
           "'xN' = fokus / baseline (blas: median of 5 interleaved fokus/blas rounds);\n"
           "'per cpu-s xT' = flops per CPU-second of the process times T\n"
           "(what the kernel does on the cores it actually got; meaningful for long calls);\n"
           "keymask/bias rows: a bool [Nk] mask / an f32 [Nq, Nk] bias broadcast over heads\n");
#ifdef FOKUS_HAVE_OPENBLAS
    printf("OpenBLAS: %s (%s)\n", openblas_get_corename(), openblas_get_config());
#endif
    for (int si = 0; si < NSHAPES; si++)
        for (int nt = 1; nt <= 2; nt++) bench_shape(si, nt, ctx[nt], peak[nt], quick, true);
    fokus_ctx_free(ctx[1]);
    fokus_ctx_free(ctx[2]);
    return 0;
}
