/* The context's thread pool: one job at a time, chunks handed out through an atomic
 * counter, the calling thread working as worker 0.
 *
 * Latency matters more than throughput here: a CLIP layer is a handful of calls of
 * ~100 us each, so a worker spins briefly on the job generation before it sleeps on
 * the condition variable, and the caller spins briefly before it waits for stragglers.
 *
 * The caller waits for the job's chunks, not for the workers: a worker that wakes late
 * (descheduled on a busy machine, or asleep) finds every chunk taken and does nothing,
 * instead of holding the caller for a scheduler time slice. For that, the chunk
 * counter carries the job's id (state = id << 32 | next chunk) and a claim is a
 * compare-and-swap that fails once the job has changed; the job's fields are read
 * under a seqlock on that id (id 0 while the caller rewrites them).
 *
 * fork(): only the forking thread survives in the child, so a context made before a
 * fork (an nginx/OpenResty master, a preforking server) would wait for workers that do
 * not exist there. The pool remembers the process that started its workers; the first
 * call in another process forgets the dead workers and starts its own. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fokus_base.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* How long a waiting thread polls before it sleeps: long enough to bridge the gap
 * between the back-to-back calls of a model layer, short enough that a preempted
 * partner on a busy machine does not make us burn its time slice. */
#define WORKER_SPIN_SECONDS 200e-6
#define MAIN_SPIN_SECONDS 50e-6

typedef struct scratch_buf {
    void *p;
    size_t cap;
} scratch_buf;

typedef struct worker_arg {
    fokus_ctx *ctx;
    int id;
    unsigned long long start_generation; /* jobs after this one are ours */
} worker_arg;

struct fokus_ctx {
    int nthreads;
    pthread_t *threads;            /* nthreads - 1 of them */
    worker_arg *wargs;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;

    /* current job: written by the caller while `state` holds id 0, read by workers
     * under the seqlock described above (relaxed atomics: the seqlock orders them) */
    _Atomic(fokus_range_fn) fn;
    _Atomic(void *) arg;
    atomic_llong n, grain, nchunks;
    atomic_ullong state;           /* job id << 32 | next chunk to hand out */
    atomic_llong done;             /* chunks of the current job finished */
    atomic_ullong generation;
    atomic_int stop;
    atomic_int sleeping_main;

    atomic_bool interrupt;
    pid_t pid;                     /* the process the workers run in */
    scratch_buf *scratch;          /* [FOKUS_SCRATCH_SLOTS][nthreads + 1] */
    fokus_allocator *alloc;        /* scratch and the *_ctx tensors come from here */
};

/* Which pool (and which worker of it) the current thread is running a task for, so a
 * nested fokus_parallel on the same context runs inline with the right worker index
 * (and hence the right scratch buffers). Thread-local, not shared between threads. */
static _Thread_local const fokus_ctx *tls_ctx;
static _Thread_local int tls_worker;

double fokus_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int fokus_online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

/* Polling budget: true while a waiter should keep spinning. The clock is read only
 * every 64 polls, since it costs more than a pause. */
static bool keep_spinning(unsigned *spins, double *t0, double limit)
{
    if ((++*spins & 63) != 0) return true;
    double now = fokus_clock();
    if (*t0 == 0) {
        *t0 = now;
        return true;
    }
    return now - *t0 < limit;
}

/* Job ids are never 0 (0 marks a job being written). */
static uint32_t job_id(unsigned long long generation)
{
    return (uint32_t)(generation & 0x7fffffffu) | 0x80000000u;
}

typedef struct job_view {
    fokus_range_fn fn;
    void *arg;
    int64_t n, grain, nchunks;
} job_view;

/* Claims and runs chunks of job `id` until none is left or the job is over. */
static void run_chunks(fokus_ctx *ctx, uint32_t id, const job_view *j, int worker)
{
    const fokus_ctx *saved_ctx = tls_ctx;
    int saved_worker = tls_worker;
    tls_ctx = ctx;
    tls_worker = worker;
    unsigned long long s = atomic_load_explicit(&ctx->state, memory_order_relaxed);
    for (;;) {
        if ((uint32_t)(s >> 32) != id || (int64_t)(s & 0xffffffffu) >= j->nchunks) break;
        if (!atomic_compare_exchange_weak_explicit(&ctx->state, &s, s + 1, memory_order_acq_rel,
                                                   memory_order_relaxed))
            continue; /* s was reloaded */
        int64_t b = (int64_t)(s & 0xffffffffu) * j->grain;
        int64_t e = b + j->grain < j->n ? b + j->grain : j->n;
        j->fn(j->arg, b, e, worker);
        if (atomic_fetch_add(&ctx->done, 1) == j->nchunks - 1 && atomic_load(&ctx->sleeping_main)) {
            pthread_mutex_lock(&ctx->mu);
            pthread_cond_signal(&ctx->cv_done);
            pthread_mutex_unlock(&ctx->mu);
        }
        s = atomic_load_explicit(&ctx->state, memory_order_relaxed);
    }
    tls_ctx = saved_ctx;
    tls_worker = saved_worker;
}

/* A worker's view of job `id`: false when that job is no longer the current one. */
static bool read_job(fokus_ctx *ctx, uint32_t id, job_view *j)
{
    unsigned long long s1 = atomic_load_explicit(&ctx->state, memory_order_acquire);
    if ((uint32_t)(s1 >> 32) != id) return false;
    j->fn = atomic_load_explicit(&ctx->fn, memory_order_relaxed);
    j->arg = atomic_load_explicit(&ctx->arg, memory_order_relaxed);
    j->n = atomic_load_explicit(&ctx->n, memory_order_relaxed);
    j->grain = atomic_load_explicit(&ctx->grain, memory_order_relaxed);
    j->nchunks = atomic_load_explicit(&ctx->nchunks, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    unsigned long long s2 = atomic_load_explicit(&ctx->state, memory_order_relaxed);
    return (uint32_t)(s2 >> 32) == id;
}

static void *worker_main(void *p)
{
    worker_arg *wa = (worker_arg *)p;
    fokus_ctx *ctx = wa->ctx;
    /* not the current generation: a job may be posted before this thread first runs */
    unsigned long long seen = wa->start_generation;
    for (;;) {
        unsigned long long g;
        unsigned spins = 0;
        double t0 = 0;
        while ((g = atomic_load_explicit(&ctx->generation, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&ctx->stop, memory_order_relaxed)) {
            if (keep_spinning(&spins, &t0, WORKER_SPIN_SECONDS)) {
                CPU_RELAX();
                continue;
            }
            pthread_mutex_lock(&ctx->mu);
            while (atomic_load(&ctx->generation) == seen && !atomic_load(&ctx->stop))
                pthread_cond_wait(&ctx->cv_work, &ctx->mu);
            pthread_mutex_unlock(&ctx->mu);
        }
        if (atomic_load(&ctx->stop)) break;
        seen = g;
        job_view j;
        if (read_job(ctx, job_id(g), &j)) run_chunks(ctx, job_id(g), &j, wa->id);
    }
    return NULL;
}

/* In a child of fork(): the parent's workers are not here. Forget them (joining
 * would wait forever) and re-make the locks, which a worker may have held at the fork. */
static void forget_forked_workers(fokus_ctx *ctx)
{
    free(ctx->threads);
    free(ctx->wargs);
    ctx->threads = NULL;
    ctx->wargs = NULL;
    pthread_mutex_init(&ctx->mu, NULL);
    pthread_cond_init(&ctx->cv_work, NULL);
    pthread_cond_init(&ctx->cv_done, NULL);
    atomic_store(&ctx->stop, 0);
    atomic_store(&ctx->sleeping_main, 0);
}

static void stop_workers(fokus_ctx *ctx)
{
    if (!ctx->threads) return;
    if (ctx->pid != getpid()) {
        forget_forked_workers(ctx);
        return;
    }
    pthread_mutex_lock(&ctx->mu);
    atomic_store(&ctx->stop, 1);
    pthread_cond_broadcast(&ctx->cv_work);
    pthread_mutex_unlock(&ctx->mu);
    for (int i = 0; i < ctx->nthreads - 1; i++) pthread_join(ctx->threads[i], NULL);
    free(ctx->threads);
    free(ctx->wargs);
    ctx->threads = NULL;
    ctx->wargs = NULL;
    atomic_store(&ctx->stop, 0);
}

static void free_scratch(fokus_ctx *ctx)
{
    if (!ctx->scratch) return;
    for (int i = 0; i < FOKUS_SCRATCH_SLOTS * (ctx->nthreads + 1); i++)
        fokus_allocator_free(ctx->alloc, ctx->scratch[i].p, ctx->scratch[i].cap);
    free(ctx->scratch);
    ctx->scratch = NULL;
}

static fokus_status start_workers(fokus_ctx *ctx, int n, fokus_error *err)
{
    ctx->nthreads = 1;
    ctx->pid = getpid();
    ctx->scratch = calloc((size_t)FOKUS_SCRATCH_SLOTS * (size_t)(n + 1), sizeof *ctx->scratch);
    if (!ctx->scratch) return fokus_fail(err, FOKUS_ENOMEM, "threads: out of memory");
    if (n > 1) {
        ctx->threads = calloc((size_t)n - 1, sizeof *ctx->threads);
        ctx->wargs = calloc((size_t)n - 1, sizeof *ctx->wargs);
        if (!ctx->threads || !ctx->wargs) {
            free(ctx->threads);
            free(ctx->wargs);
            ctx->threads = NULL;
            ctx->wargs = NULL;
            free(ctx->scratch);
            ctx->scratch = NULL;
            return fokus_fail(err, FOKUS_ENOMEM, "threads: out of memory");
        }
        for (int i = 0; i < n - 1; i++) {
            ctx->wargs[i].ctx = ctx;
            ctx->wargs[i].id = i + 1;
            ctx->wargs[i].start_generation = atomic_load(&ctx->generation);
            int rc = pthread_create(&ctx->threads[i], NULL, worker_main, &ctx->wargs[i]);
            if (rc != 0) {
                ctx->nthreads = i + 1; /* the ones that did start */
                stop_workers(ctx);
                ctx->nthreads = n;
                free_scratch(ctx);
                ctx->nthreads = 1;
                return fokus_fail(err, FOKUS_ENOMEM, "threads: cannot start worker %d: %s", i + 1,
                                  strerror(rc));
            }
        }
    }
    ctx->nthreads = n;
    return FOKUS_OK;
}

fokus_status fokus_ctx_new(fokus_ctx **out, int threads, fokus_error *err)
{
    *out = NULL;
    fokus_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return fokus_fail(err, FOKUS_ENOMEM, "context: out of memory");
    pthread_mutex_init(&ctx->mu, NULL);
    pthread_cond_init(&ctx->cv_work, NULL);
    pthread_cond_init(&ctx->cv_done, NULL);
    if (threads <= 0) threads = fokus_online_cores();
    if (threads > 1024) threads = 1024;
    fokus_status st = fokus_allocator_new(&ctx->alloc, FOKUS_CACHE_LIMIT_DEFAULT, err);
    if (st == FOKUS_OK) st = start_workers(ctx, threads, err);
    if (st != FOKUS_OK) {
        fokus_allocator_release(ctx->alloc);
        pthread_mutex_destroy(&ctx->mu);
        pthread_cond_destroy(&ctx->cv_work);
        pthread_cond_destroy(&ctx->cv_done);
        free(ctx);
        return st;
    }
    *out = ctx;
    return FOKUS_OK;
}

void fokus_ctx_free(fokus_ctx *ctx)
{
    if (!ctx) return;
    stop_workers(ctx);
    free_scratch(ctx);
    /* tensors made from the allocator keep it alive until they go */
    fokus_allocator_release(ctx->alloc);
    pthread_mutex_destroy(&ctx->mu);
    pthread_cond_destroy(&ctx->cv_work);
    pthread_cond_destroy(&ctx->cv_done);
    free(ctx);
}

fokus_allocator *fokus_ctx_allocator(fokus_ctx *ctx)
{
    return ctx ? ctx->alloc : NULL;
}

void fokus_ctx_trim(fokus_ctx *ctx)
{
    if (!ctx) return;
    for (int i = 0; i < FOKUS_SCRATCH_SLOTS * (ctx->nthreads + 1); i++) {
        fokus_allocator_free(ctx->alloc, ctx->scratch[i].p, ctx->scratch[i].cap);
        ctx->scratch[i].p = NULL;
        ctx->scratch[i].cap = 0;
    }
    fokus_allocator_trim(ctx->alloc);
}

int fokus_ctx_threads(const fokus_ctx *ctx)
{
    return ctx ? ctx->nthreads : 1;
}

int fokus_ctx_task_worker(const fokus_ctx *ctx)
{
    return ctx && tls_ctx == ctx ? tls_worker : -1;
}

static void respawn_after_fork(fokus_ctx *ctx);

fokus_status fokus_ctx_set_threads(fokus_ctx *ctx, int n, fokus_error *err)
{
    if (tls_ctx == ctx)
        return fokus_fail(err, FOKUS_EINVAL, "threads: cannot resize the pool from inside a task");
    if (n <= 0) n = fokus_online_cores();
    if (n > 1024) n = 1024;
    if (ctx->threads && ctx->pid != getpid()) respawn_after_fork(ctx);
    if (n == ctx->nthreads) return FOKUS_OK;
    int old = ctx->nthreads;
    stop_workers(ctx);
    free_scratch(ctx);
    fokus_status st = start_workers(ctx, n, err);
    if (st != FOKUS_OK) {
        fokus_error ignore;
        if (start_workers(ctx, old, &ignore) != FOKUS_OK) start_workers(ctx, 1, &ignore);
    }
    return st;
}

void *fokus_ctx_scratch(fokus_ctx *ctx, int slot, int worker, size_t bytes)
{
    if (!ctx || slot < 0 || slot >= FOKUS_SCRATCH_SLOTS || worker < 0 || worker > ctx->nthreads)
        return NULL;
    scratch_buf *b = &ctx->scratch[slot * (ctx->nthreads + 1) + worker];
    if (b->cap < bytes || !b->p) {
        /* grow geometrically so a slowly growing caller does not reallocate each call */
        size_t cap = b->cap + b->cap / 2;
        if (cap < bytes) cap = bytes;
        cap = fokus_allocator_class_size(cap); /* the block holds that much anyway */
        if (cap == 0) return NULL;
        /* the old buffer goes back first, so a same-class request can take it again */
        fokus_allocator_free(ctx->alloc, b->p, b->cap);
        b->p = NULL;
        b->cap = 0;
        void *p = fokus_allocator_alloc(ctx->alloc, cap, false);
        if (!p) return NULL;
        b->p = p;
        b->cap = cap;
    }
    return b->p;
}

/* First parallel call in a child of fork(): a new set of workers for this process
 * (or none, if they cannot start: the caller then runs every chunk itself). */
static void respawn_after_fork(fokus_ctx *ctx)
{
    int n = ctx->nthreads;
    stop_workers(ctx);
    free_scratch(ctx);
    fokus_error ignore;
    if (start_workers(ctx, n, &ignore) != FOKUS_OK) start_workers(ctx, 1, &ignore);
}

void fokus_parallel(fokus_ctx *ctx, int64_t n, int64_t grain, fokus_range_fn fn, void *arg)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (ctx && ctx->threads && tls_ctx != ctx && ctx->pid != getpid()) respawn_after_fork(ctx);
    if (!ctx || ctx->nthreads <= 1 || n <= grain || tls_ctx == ctx) {
        int worker = (ctx && tls_ctx == ctx) ? tls_worker : 0;
        fn(arg, 0, n, worker);
        return;
    }
    /* at most 2^31 chunks, so the chunk index fits its half of `state` */
    if ((n + grain - 1) / grain > 0x7fffffff) grain = n / 0x7fffffff + 1;
    job_view j = {fn, arg, n, grain, (n + grain - 1) / grain};
    const unsigned long long gen = atomic_load_explicit(&ctx->generation, memory_order_relaxed) + 1;
    const uint32_t id = job_id(gen);
    /* seqlock write: id 0 while the fields change (no worker can be inside a job now:
     * the previous call returned only when all its chunks were done) */
    atomic_store_explicit(&ctx->state, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&ctx->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&ctx->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&ctx->n, n, memory_order_relaxed);
    atomic_store_explicit(&ctx->grain, grain, memory_order_relaxed);
    atomic_store_explicit(&ctx->nchunks, j.nchunks, memory_order_relaxed);
    atomic_store_explicit(&ctx->done, 0, memory_order_relaxed);
    atomic_store_explicit(&ctx->state, (unsigned long long)id << 32, memory_order_release);
    /* wake the workers; sleeping ones need the broadcast under the mutex */
    pthread_mutex_lock(&ctx->mu);
    atomic_store_explicit(&ctx->generation, gen, memory_order_release);
    pthread_cond_broadcast(&ctx->cv_work);
    pthread_mutex_unlock(&ctx->mu);

    run_chunks(ctx, id, &j, 0);

    /* only chunks that workers took are still running */
    unsigned spins = 0;
    double t0 = 0;
    while (atomic_load_explicit(&ctx->done, memory_order_acquire) < j.nchunks) {
        if (keep_spinning(&spins, &t0, MAIN_SPIN_SECONDS)) {
            CPU_RELAX();
            continue;
        }
        pthread_mutex_lock(&ctx->mu);
        atomic_store(&ctx->sleeping_main, 1);
        while (atomic_load(&ctx->done) < j.nchunks) pthread_cond_wait(&ctx->cv_done, &ctx->mu);
        atomic_store(&ctx->sleeping_main, 0);
        pthread_mutex_unlock(&ctx->mu);
    }
}

void fokus_ctx_interrupt(fokus_ctx *ctx, bool on)
{
    if (ctx) atomic_store(&ctx->interrupt, on);
}

bool fokus_ctx_interrupted(const fokus_ctx *ctx)
{
    return ctx ? atomic_load(&((fokus_ctx *)ctx)->interrupt) : false;
}
