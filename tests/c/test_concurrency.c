/* Two contexts used from two threads at once (as two Lua states in two threads would
 * use them): attention, GEMM and the CLIP encoder give the same bits as when run alone.
 * Nothing in the core may be shared mutable state. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#include "fokus.h"

typedef struct job {
    fokus_clip *m;
    fokus_tensor ids, q;
    float sum_attn, sum_cond;
    int failures;
} job;

static void run_job(job *j)
{
    fokus_ctx *ctx;
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) {
        j->failures++;
        return;
    }
    for (int rep = 0; rep < 20; rep++) {
        fokus_tensor o, cond, pooled, proj;
        fokus_attend_opts opts = {0};
        opts.causal = FOKUS_CAUSAL_TOP_LEFT;
        if (fokus_attend(ctx, &j->q, &j->q, &j->q, &opts, &o, NULL, NULL, &err) != FOKUS_OK ||
            fokus_clip_encode(ctx, j->m, &j->ids, 1, true, &cond, &pooled, &proj, &err) != FOKUS_OK) {
            j->failures++;
            break;
        }
        float sa = 0, sc = 0;
        for (int64_t i = 0; i < fokus_tensor_numel(&o); i++) sa += ((float *)o.data)[i];
        for (int64_t i = 0; i < fokus_tensor_numel(&cond); i++) sc += ((float *)cond.data)[i];
        if (rep == 0) {
            j->sum_attn = sa;
            j->sum_cond = sc;
        } else if (sa != j->sum_attn || sc != j->sum_cond) {
            j->failures++;
        }
        fokus_tensor_release(&o), fokus_tensor_release(&cond), fokus_tensor_release(&pooled), fokus_tensor_release(&proj);
    }
    fokus_ctx_free(ctx);
}

static void *thread_main(void *p)
{
    run_job(p);
    return NULL;
}

static void test_two_contexts_two_threads(void)
{
    fokus_error err;
    fokus_st_entry *w;
    size_t n;
    CHECK(fokus_clip_tiny_weights(5, 128, 2, &w, &n, &err) == FOKUS_OK);
    fokus_clip *m;
    CHECK(fokus_clip_new(&m, w, n, "", NULL, &err) == FOKUS_OK);
    job jobs[2];
    memset(jobs, 0, sizeof jobs);
    for (int k = 0; k < 2; k++) {
        int64_t is[2] = {1, 77}, qs[3] = {4, 300, 64};
        jobs[k].m = m; /* one model read by both: weights are read-only during forward */
        fokus_tensor_new(&jobs[k].ids, FOKUS_I32, 2, is, &err);
        for (int i = 0; i < 77; i++) ((int32_t *)jobs[k].ids.data)[i] = i == 0 ? 49406 : i < 10 + k ? 400 + 13 * i : 49407;
        fokus_tensor_new(&jobs[k].q, FOKUS_F32, 3, qs, &err);
        fokus_tensor_randn(&jobs[k].q, 100 + (uint64_t)k, &err);
    }
    /* alone first: the reference sums */
    job alone[2];
    memcpy(alone, jobs, sizeof jobs);
    run_job(&alone[0]);
    run_job(&alone[1]);
    pthread_t t[2];
    for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, thread_main, &jobs[k]);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(jobs[k].failures, 0);
        CHECK_EQ_INT(alone[k].failures, 0);
        CHECK(jobs[k].sum_attn == alone[k].sum_attn);
        CHECK(jobs[k].sum_cond == alone[k].sum_cond);
        fokus_tensor_release(&jobs[k].ids);
        fokus_tensor_release(&jobs[k].q);
    }
    fokus_clip_free(m);
    fokus_st_entries_free(w, n);
}

/* Sums i over [lo, hi). With `need_worker`, the caller's chunks wait (up to 5 s) until
 * a pool worker has run a chunk: proof that the pool has live workers. */
typedef struct sum_job {
    _Atomic long long total;
    atomic_int worker_ran;
    int need_worker;
} sum_job;

static void sum_range(void *arg, int64_t lo, int64_t hi, int worker)
{
    sum_job *s = (sum_job *)arg;
    if (worker != 0) atomic_store(&s->worker_ran, 1);
    if (worker == 0 && s->need_worker) {
        double t0 = fokus_clock();
        while (!atomic_load(&s->worker_ran) && fokus_clock() - t0 < 5.0) {
        }
    }
    long long t = 0;
    for (int64_t i = lo; i < hi; i++) t += i;
    s->total += t;
}

static long long parallel_sum(fokus_ctx *ctx, int64_t n)
{
    sum_job s = {0, 0, 0};
    fokus_parallel(ctx, n, 1000, sum_range, &s);
    return s.total;
}

/* 1 when a pool worker (not the caller) took part in a parallel call */
static int workers_alive(fokus_ctx *ctx)
{
    sum_job s = {0, 0, 1};
    fokus_parallel(ctx, 4000, 1000, sum_range, &s);
    return atomic_load(&s.worker_ran);
}

/* A context made before fork() still works in the child (its parent's workers are not
 * there: it starts its own) and can be freed there; the parent's keeps working. The
 * child runs under an alarm so a hang fails the test instead of stalling the suite. */
static void test_context_across_fork(void)
{
    fokus_ctx *ctx;
    fokus_error err;
    CHECK(fokus_ctx_new(&ctx, 2, &err) == FOKUS_OK);
    if (!ctx) return;
    const int64_t n = 1000000;
    const long long want = (long long)n * (n - 1) / 2;
    CHECK(parallel_sum(ctx, n) == want);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        int ok = 1;
        for (int r = 0; r < 100; r++) ok &= parallel_sum(ctx, n) == want;
        ok &= fokus_ctx_threads(ctx) == 2;
        if (!workers_alive(ctx)) ok = 0, fprintf(stderr, "child: no pool worker ran after fork\n");
        ok &= fokus_ctx_set_threads(ctx, 1, &err) == FOKUS_OK && parallel_sum(ctx, n) == want;
        ok &= fokus_ctx_set_threads(ctx, 2, &err) == FOKUS_OK && parallel_sum(ctx, n) == want;
        fokus_ctx_free(ctx);
        _exit(ok ? 0 : 1);
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s %d",
              WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    CHECK(parallel_sum(ctx, n) == want);
    CHECK(workers_alive(ctx));
    fokus_ctx_free(ctx);

    /* a fork of a child whose pool was started after the first fork */
    CHECK(fokus_ctx_new(&ctx, 2, &err) == FOKUS_OK);
    pid = fork();
    if (pid == 0) {
        alarm(20);
        int ok = parallel_sum(ctx, n) == want;
        fflush(NULL);
        pid_t g = fork();
        if (g == 0) {
            alarm(20);
            int ok2 = parallel_sum(ctx, n) == want;
            fokus_ctx_free(ctx);
            _exit(ok2 ? 0 : 1);
        }
        int st2 = 0;
        ok &= waitpid(g, &st2, 0) == g && WIFEXITED(st2) && WEXITSTATUS(st2) == 0;
        fokus_ctx_free(ctx);
        _exit(ok ? 0 : 1);
    }
    status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fokus_ctx_free(ctx);
}

int main(void)
{
    RUN(test_two_contexts_two_threads);
    RUN(test_context_across_fork);
    return check_summary("concurrency");
}
