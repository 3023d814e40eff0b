/* Shared helpers for the benchmark programs (make bench): medians, the machine's own
 * f32 FMA peak measured in the same process, and table formatting.
 * Timings are never asserted; they are printed next to a baseline and the peak. */
#ifndef FOKUS_BENCH_H
#define FOKUS_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <simde/x86/avx512.h>

#include "fokus.h"

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n samples (sorts them in place). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return (n & 1) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Times fn(arg) `reps` times after `warm` warm-up calls; returns the median seconds. */
static inline double bench_time(void (*fn)(void *), void *arg, int warm, int reps)
{
    double t[64];
    if (reps > 64) reps = 64;
    for (int i = 0; i < warm; i++) fn(arg);
    for (int i = 0; i < reps; i++) {
        double t0 = fokus_clock();
        fn(arg);
        t[i] = fokus_clock() - t0;
    }
    return bench_median(t, reps);
}

/* Chooses a repetition count so a measurement takes roughly `budget` seconds. */
static inline int bench_reps_for(double one_run_seconds, double budget)
{
    int r = one_run_seconds > 0 ? (int)(budget / one_run_seconds) : 64;
    return r < 3 ? 3 : r > 25 ? 25 : r;
}

/* Waits until this process is idle: OpenBLAS's workers keep spinning after its calls
 * (measured 80-120 ms here; its timeout is 2^28 TSC cycles), and a fokus block timed
 * while they spin runs at half speed on 2 cores. A fixed sleep was too short at times,
 * so this sleeps in 10 ms slices until one slice costs the whole process < 1 ms of
 * CPU time (at most `max_seconds`). Returns the seconds waited. */
static inline double bench_quiesce(double max_seconds)
{
    const double t0 = fokus_clock();
    for (;;) {
        struct timespec c0, c1, ts = {0, 10 * 1000 * 1000};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        nanosleep(&ts, NULL);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        double used = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
        double waited = fokus_clock() - t0;
        if (used < 1e-3 || waited >= max_seconds) return waited;
    }
}

/* FMA peak: 12 independent 16-lane FMA chains per worker (enough to cover latency x
 * ports), iterated; flops = 2 * 16 * 12 * iters per worker. */
typedef struct { long iters; float sink[64]; } bench_peak_arg;

static void bench_peak_task(void *argp, int64_t b, int64_t e, int worker)
{
    bench_peak_arg *a = (bench_peak_arg *)argp;
    (void)b; (void)e;
    simde__m512 acc[12], x = simde_mm512_set1_ps(0.999999f), y = simde_mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = simde_mm512_set1_ps((float)i);
    for (long it = 0; it < a->iters; it++) {
        for (int i = 0; i < 12; i++) acc[i] = simde_mm512_fmadd_ps(acc[i], x, y);
    }
    simde__m512 s = acc[0];
    for (int i = 1; i < 12; i++) s = simde_mm512_add_ps(s, acc[i]);
    float tmp[16];
    simde_mm512_storeu_ps(tmp, s);
    a->sink[worker % 64] = tmp[0];
}

/* GFLOP/s of the f32 FMA peak with the context's workers (median of 5). */
static inline double bench_fma_peak(fokus_ctx *ctx)
{
    int nt = ctx ? fokus_ctx_threads(ctx) : 1;
    bench_peak_arg a;
    double t[5];
    memset(&a, 0, sizeof a);
    a.iters = 2000000;
    fokus_parallel(ctx, nt, 1, bench_peak_task, &a); /* warm-up, clocks up */
    for (int r = 0; r < 5; r++) {
        double t0 = fokus_clock();
        fokus_parallel(ctx, nt, 1, bench_peak_task, &a);
        t[r] = fokus_clock() - t0;
    }
    double sec = bench_median(t, 5);
    return 2.0 * 16 * 12 * (double)a.iters * nt / sec / 1e9;
}

#endif
