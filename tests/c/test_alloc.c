/* The caching allocator: size classes, reuse, the cache bound, release, statistics,
 * thread safety, storage outliving its context, steady-state loops touching no fresh
 * pages; and the `out` contract (fokus_out_check, the *_into forms, fill). */
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>

#include "check.h"

#include "fokus.h"

#define MiB ((size_t)1 << 20)

static void test_size_classes(void)
{
    CHECK_EQ_INT(fokus_allocator_class_size(0), 64);
    CHECK_EQ_INT(fokus_allocator_class_size(1), 64);
    CHECK_EQ_INT(fokus_allocator_class_size(64), 64);
    CHECK_EQ_INT(fokus_allocator_class_size(65), 128);
    CHECK_EQ_INT(fokus_allocator_class_size(1024), 1024);
    CHECK_EQ_INT(fokus_allocator_class_size(1025), 1152);
    CHECK_EQ_INT(fokus_allocator_class_size(2048), 2048);
    CHECK_EQ_INT(fokus_allocator_class_size(2049), 2304);
    CHECK_EQ_INT(fokus_allocator_class_size(16 * MiB), 16 * MiB);
    CHECK_EQ_INT(fokus_allocator_class_size(16 * MiB + 1), 18 * MiB);
    CHECK_EQ_INT(fokus_allocator_class_size(SIZE_MAX), 0);
    /* every class holds its request, wastes at most 1/8 (or < 64 bytes), and classes
     * never shrink as requests grow */
    size_t prev = 0;
    int bad = 0;
    for (size_t n = 1; n < ((size_t)1 << 26); n += 1 + n / 97) {
        size_t c = fokus_allocator_class_size(n);
        if (c < n || c % 64 != 0 || (c - n >= 64 && c - n > n / 8) || c < prev) bad++;
        prev = c;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_reuse_and_stats(void)
{
    fokus_allocator *a;
    fokus_error err;
    fokus_memstats s;
    CHECK(fokus_allocator_new(&a, 64 * MiB, &err) == FOKUS_OK);
    /* sizes on both sides of the heap/mmap threshold (128 KiB) */
    const size_t sizes[] = {1, 100, 4000, 100000, 200000, 3 * MiB, 5 * MiB + 17};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        unsigned char *p = fokus_allocator_alloc(a, n, false);
        CHECK(p && ((uintptr_t)p & 63) == 0);
        memset(p, 0xab, n);
        fokus_allocator_free(a, p, n);
        /* a request of the same class gets the same block back, zeroed when asked */
        size_t n2 = fokus_allocator_class_size(n);
        unsigned char *q = fokus_allocator_alloc(a, n2, true);
        CHECK_MSG(q == p, "size %zu: the freed block is reused", n);
        size_t nonzero = 0;
        for (size_t j = 0; j < n2; j++) nonzero += q[j] != 0;
        CHECK_EQ_INT(nonzero, 0);
        fokus_allocator_free(a, q, n2);
    }
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.allocs, 14);
    CHECK_EQ_INT(s.reuses, 7);
    CHECK_EQ_INT(s.live, 0);
    CHECK_EQ_INT(s.peak, fokus_allocator_class_size(5 * MiB + 17));
    size_t all = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) all += fokus_allocator_class_size(sizes[i]);
    CHECK_EQ_INT(s.cached, all);
    CHECK_EQ_INT(s.limit, 64 * MiB);

    /* a different class is not served from the cache */
    void *p = fokus_allocator_alloc(a, 7 * MiB, false);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.reuses, 7);
    CHECK_EQ_INT(s.live, 7 * MiB);
    fokus_allocator_free(a, p, 7 * MiB);

    /* release: the cache goes, counters stay */
    fokus_allocator_trim(a);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.cached, 0);
    CHECK_EQ_INT(s.allocs, 15);
    fokus_allocator_reset_peak(a);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.peak, 0);
    fokus_allocator_release(a);

    /* NULL allocator: plain aligned heap memory */
    void *h = fokus_allocator_alloc(NULL, 1000, true);
    CHECK(h && ((uintptr_t)h & 63) == 0 && ((unsigned char *)h)[999] == 0);
    fokus_allocator_free(NULL, h, 1000);
}

static void test_limit(void)
{
    fokus_allocator *a;
    fokus_error err;
    fokus_memstats s;
    CHECK(fokus_allocator_new(&a, 3 * MiB, &err) == FOKUS_OK);
    void *p[4];
    for (int i = 0; i < 4; i++) p[i] = fokus_allocator_alloc(a, MiB, false);
    for (int i = 0; i < 4; i++) fokus_allocator_free(a, p[i], MiB);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.cached, 3 * MiB);
    /* the least recently freed (p[0]) went; the next request gets the most recent */
    void *q = fokus_allocator_alloc(a, MiB, false);
    CHECK(q == p[3]);
    fokus_allocator_free(a, q, MiB);
    /* a block above the limit is never kept */
    q = fokus_allocator_alloc(a, 4 * MiB, false);
    fokus_allocator_free(a, q, 4 * MiB);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.cached, 3 * MiB);
    /* lowering the limit evicts at once; 0 caches nothing */
    fokus_allocator_set_limit(a, MiB);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.cached, MiB);
    fokus_allocator_set_limit(a, 0);
    q = fokus_allocator_alloc(a, 1000, false);
    fokus_allocator_free(a, q, 1000);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.cached, 0);
    CHECK_EQ_INT(s.live, 0);
    fokus_allocator_release(a);
}

/* Several threads allocate, fill, check and free blocks of one allocator. */
typedef struct hammer_arg {
    fokus_allocator *a;
    int id, errors;
} hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *h = p;
    uint32_t x = 12345u + (uint32_t)h->id * 7919u;
    unsigned char *held[8] = {0};
    size_t sz[8] = {0};
    for (int it = 0; it < 4000; it++) {
        x = x * 1664525u + 1013904223u;
        int slot = (int)(x >> 29);
        if (held[slot]) {
            for (size_t j = 0; j < sz[slot]; j += 61)
                if (held[slot][j] != (unsigned char)(h->id + slot)) h->errors++;
            fokus_allocator_free(h->a, held[slot], sz[slot]);
            held[slot] = NULL;
        } else {
            sz[slot] = 1 + (x >> 8) % (300 * 1024);
            held[slot] = fokus_allocator_alloc(h->a, sz[slot], false);
            if (!held[slot]) {
                h->errors++;
                continue;
            }
            memset(held[slot], h->id + slot, sz[slot]);
        }
    }
    for (int i = 0; i < 8; i++) fokus_allocator_free(h->a, held[i], sz[i]);
    return NULL;
}

/* Held frees (the binding holds them around a forced collection, whose finalizers free
 * the newest tensors first) are cached in reverse: the first freed comes out first.
 * Without the hold the cache is LIFO. Limits still apply when the hold ends. */
static void test_hold_frees(void)
{
    fokus_allocator *a;
    fokus_error err;
    fokus_memstats s;
    CHECK(fokus_allocator_new(&a, 64 * MiB, &err) == FOKUS_OK);
    void *p[4];
    for (int i = 0; i < 4; i++) p[i] = fokus_allocator_alloc(a, 300 * 1024, false);
    fokus_allocator_hold_frees(a, true);
    for (int i = 0; i < 3; i++) fokus_allocator_free(a, p[i], 300 * 1024);
    /* nothing is handed out from the queue while held */
    void *q = fokus_allocator_alloc(a, 300 * 1024, false);
    CHECK(q != p[0] && q != p[1] && q != p[2]);
    fokus_allocator_hold_frees(a, false);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.cached, 3 * fokus_allocator_class_size(300 * 1024));
    for (int i = 0; i < 3; i++) {
        void *r = fokus_allocator_alloc(a, 300 * 1024, false);
        CHECK_MSG(r == p[i], "after the hold, request %d got block %p, expected the %d. freed %p", i, r, i + 1, p[i]);
        p[i] = r;
    }
    /* LIFO without the hold */
    fokus_allocator_free(a, p[0], 300 * 1024);
    fokus_allocator_free(a, p[1], 300 * 1024);
    CHECK(fokus_allocator_alloc(a, 300 * 1024, false) == p[1]);
    /* a hold ended under a small limit evicts down to it */
    fokus_allocator_hold_frees(a, true);
    fokus_allocator_free(a, p[1], 300 * 1024);
    fokus_allocator_free(a, p[2], 300 * 1024);
    fokus_allocator_free(a, p[3], 300 * 1024);
    fokus_allocator_free(a, q, 300 * 1024);
    fokus_allocator_set_limit(a, fokus_allocator_class_size(300 * 1024));
    fokus_allocator_hold_frees(a, false);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.cached, fokus_allocator_class_size(300 * 1024));
    CHECK_EQ_INT(s.live, 0);
    /* a hold still on at release: the queue goes back to the system too */
    void *t = fokus_allocator_alloc(a, 5000, false);
    fokus_allocator_hold_frees(a, true);
    fokus_allocator_free(a, t, 5000);
    fokus_allocator_release(a);
}

/* Blocks of 2 MiB and more come 2 MiB-aligned (advised as huge pages), zeroed, usable
 * to their last byte, and go back to the system cleanly (a wrong unmap of the trimmed
 * head or tail would fault here or under ASan); FOKUS_THP=0 keeps the plain mapping. */
static void test_huge_pages(void)
{
    fokus_allocator *a;
    fokus_error err;
    const char *old = getenv("FOKUS_THP");
    char saved[16] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("FOKUS_THP", "1", 1);
    CHECK(fokus_allocator_new(&a, 64 * MiB, &err) == FOKUS_OK);
    const size_t sizes[] = {2 * MiB, 3 * MiB + 4096, 5 * MiB, 9 * MiB, MiB, 300 * 1024};
    void *p[6];
    for (int i = 0; i < 6; i++) {
        p[i] = fokus_allocator_alloc(a, sizes[i], true);
        CHECK(p[i] != NULL);
        if (!p[i]) continue;
        const unsigned char *u = p[i];
        CHECK(u[0] == 0 && u[sizes[i] - 1] == 0);
        memset(p[i], 0x5a, sizes[i]);
        if (sizes[i] >= 2 * MiB) CHECK_MSG(((uintptr_t)p[i] & (2 * MiB - 1)) == 0, "block %d not 2 MiB-aligned", i);
    }
    for (int i = 0; i < 6; i++)
        if (p[i]) fokus_allocator_free(a, p[i], sizes[i]);
    /* a cached huge block is handed out again, then all go back to the system */
    void *q = fokus_allocator_alloc(a, 5 * MiB, false);
    CHECK(q == p[2]);
    fokus_allocator_free(a, q, 5 * MiB);
    fokus_allocator_set_limit(a, 0);
    fokus_allocator_release(a);
    setenv("FOKUS_THP", "0", 1); /* off: plain mappings */
    CHECK(fokus_allocator_new(&a, 0, &err) == FOKUS_OK);
    q = fokus_allocator_alloc(a, 3 * MiB, false);
    CHECK(q != NULL);
    fokus_allocator_free(a, q, 3 * MiB);
    fokus_allocator_release(a);
    if (old) setenv("FOKUS_THP", saved, 1); else unsetenv("FOKUS_THP");
}

static void test_threads_one_allocator(void)
{
    fokus_allocator *a;
    fokus_error err;
    fokus_memstats s;
    CHECK(fokus_allocator_new(&a, 8 * MiB, &err) == FOKUS_OK);
    pthread_t th[4];
    hammer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (hammer_arg){a, i * 16, 0};
        pthread_create(&th[i], NULL, hammer, &args[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(args[i].errors, 0);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.live, 0);
    CHECK(s.cached <= 8 * MiB);
    CHECK(s.reuses > 0);
    fokus_allocator_release(a);
}

/* Two contexts on two threads, each allocating tensors and scratch of its own. */
typedef struct ctx_arg {
    int seed, errors;
} ctx_arg;

static void *ctx_thread(void *p)
{
    ctx_arg *c = p;
    fokus_ctx *ctx;
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) {
        c->errors++;
        return NULL;
    }
    fokus_memstats s0, s;
    fokus_allocator_stats(fokus_ctx_allocator(ctx), &s0);
    for (int it = 0; it < 200; it++) {
        int64_t shape[2] = {1 + (it * 7 + c->seed) % 300, 1 + (it * 13) % 200};
        fokus_tensor a, b, m;
        if (fokus_tensor_new_ctx(ctx, &a, FOKUS_F32, 2, shape, &err) != FOKUS_OK) {
            c->errors++;
            break;
        }
        fokus_tensor_fill(&a, c->seed, &err);
        int perm[2] = {1, 0};
        fokus_tensor_permute(&b, &a, perm, &err);
        if (fokus_matmul(ctx, &a, &b, &m, &err) != FOKUS_OK) c->errors++;
        /* every element of a·aᵀ is seed² · K */
        else if (((float *)m.data)[0] != (float)(c->seed * c->seed * shape[1])) c->errors++;
        fokus_tensor_release(&a);
        fokus_tensor_release(&b);
        fokus_tensor_release(&m);
        if (!fokus_ctx_scratch(ctx, FOKUS_SCRATCH_TMP, 0, (size_t)shape[0] * 1000)) c->errors++;
    }
    fokus_allocator_stats(fokus_ctx_allocator(ctx), &s);
    if (s.reuses == 0 || s.allocs <= s0.allocs) c->errors++;
    fokus_ctx_trim(ctx);
    fokus_allocator_stats(fokus_ctx_allocator(ctx), &s);
    if (s.live != 0 || s.cached != 0) c->errors++;
    fokus_ctx_free(ctx);
    return NULL;
}

static void test_two_contexts_two_threads(void)
{
    pthread_t th[2];
    ctx_arg args[2] = {{3, 0}, {5, 0}};
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, ctx_thread, &args[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_EQ_INT(args[0].errors, 0);
    CHECK_EQ_INT(args[1].errors, 0);
}

static void test_storage_outlives_context(void)
{
    fokus_ctx *ctx;
    fokus_error err;
    CHECK(fokus_ctx_new(&ctx, 2, &err) == FOKUS_OK);
    int64_t shape[2] = {512, 1024};
    fokus_tensor t, v;
    CHECK(fokus_tensor_new_ctx(ctx, &t, FOKUS_F32, 2, shape, &err) == FOKUS_OK);
    CHECK(fokus_tensor_narrow(&v, &t, 0, 10, 5, &err) == FOKUS_OK);
    fokus_allocator *a = fokus_ctx_allocator(ctx);
    fokus_allocator_retain(a); /* to read its statistics after the context is gone */
    fokus_ctx_free(ctx);
    ((float *)t.data)[512 * 1024 - 1] = 2.0f; /* still valid memory (ASan would tell) */
    fokus_tensor_release(&t);
    CHECK(((float *)v.data)[0] == 0.0f);
    fokus_memstats s;
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.live, 2 * MiB);
    fokus_tensor_release(&v);
    fokus_allocator_stats(a, &s);
    CHECK_EQ_INT(s.live, 0);
    CHECK_EQ_INT(s.cached, 2 * MiB);
    fokus_allocator_release(a); /* the last reference: the cache goes with it */
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* In steady state a loop of ops that allocate and drop their results is served from
 * the cache: no fresh pages (a 16 MiB result is 4096 of them). */
static void test_steady_state_no_fresh_pages(void)
{
    fokus_ctx *ctx;
    fokus_error err;
    CHECK(fokus_ctx_new(&ctx, 2, &err) == FOKUS_OK);
    int64_t as[2] = {2048, 32}, bs[2] = {32, 2048};
    fokus_tensor a, b;
    CHECK(fokus_tensor_new_ctx(ctx, &a, FOKUS_F32, 2, as, &err) == FOKUS_OK);
    CHECK(fokus_tensor_new_ctx(ctx, &b, FOKUS_F32, 2, bs, &err) == FOKUS_OK);
    fokus_tensor_fill(&a, 0.5, &err);
    fokus_tensor_fill(&b, 2.0, &err);
    long f0 = 0;
    fokus_memstats s0, s;
    for (int it = 0; it < 12; it++) {
        if (it == 2) {
            f0 = minor_faults();
            fokus_allocator_stats(fokus_ctx_allocator(ctx), &s0);
        }
        fokus_tensor c, d;
        CHECK(fokus_matmul(ctx, &a, &b, &c, &err) == FOKUS_OK);
        CHECK(fokus_tensor_clone_ctx(ctx, &d, &c, &err) == FOKUS_OK);
        CHECK(((float *)d.data)[2048 * 2048 - 1] == 32.0f);
        fokus_tensor_release(&c);
        fokus_tensor_release(&d);
    }
    long faults = minor_faults() - f0;
    fokus_allocator_stats(fokus_ctx_allocator(ctx), &s);
    CHECK_MSG(faults < 64, "%ld minor faults in 10 iterations of 2 x 16 MiB results", faults);
    CHECK_EQ_INT(s.allocs - s0.allocs, s.reuses - s0.reuses);
    CHECK_EQ_INT(s.allocs - s0.allocs, 20);
    fokus_tensor_release(&a);
    fokus_tensor_release(&b);
    fokus_ctx_free(ctx);
}

/* ---------------------------------------------------------------- out */

static void test_out_contract(void)
{
    fokus_ctx *ctx;
    fokus_error err;
    CHECK(fokus_ctx_new(&ctx, 2, &err) == FOKUS_OK);
    int64_t as[2] = {5, 7}, bs[2] = {7, 3}, os[2] = {5, 3}, ts[2] = {3, 5};
    fokus_tensor a, b, ref;
    CHECK(fokus_tensor_new_ctx(ctx, &a, FOKUS_F32, 2, as, &err) == FOKUS_OK);
    CHECK(fokus_tensor_new_ctx(ctx, &b, FOKUS_F32, 2, bs, &err) == FOKUS_OK);
    fokus_tensor_randn(&a, 1, &err);
    fokus_tensor_randn(&b, 2, &err);
    CHECK(fokus_matmul(ctx, &a, &b, &ref, &err) == FOKUS_OK);

    /* contiguous out */
    fokus_tensor o, t, ot;
    CHECK(fokus_tensor_new(&o, FOKUS_F32, 2, os, &err) == FOKUS_OK);
    CHECK(fokus_matmul_into(ctx, &a, &b, &o, &err) == FOKUS_OK);
    int diff = 0;
    for (int i = 0; i < 15; i++) diff += fokus_tensor_get(&o, i) != fokus_tensor_get(&ref, i);
    CHECK_EQ_INT(diff, 0);
    /* a transposed view as out: computed, then copied through the strides */
    CHECK(fokus_tensor_new(&t, FOKUS_F32, 2, ts, &err) == FOKUS_OK);
    int perm[2] = {1, 0};
    CHECK(fokus_tensor_permute(&ot, &t, perm, &err) == FOKUS_OK);
    CHECK(fokus_matmul_into(ctx, &a, &b, &ot, &err) == FOKUS_OK);
    diff = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) diff += ((float *)t.data)[j * 5 + i] != ((float *)ref.data)[i * 3 + j];
    CHECK_EQ_INT(diff, 0);
    /* linear into a narrowed view (row stride > row length) */
    fokus_tensor wide, nar, lref;
    int64_t ws[2] = {5, 9};
    CHECK(fokus_tensor_new(&wide, FOKUS_F32, 2, ws, &err) == FOKUS_OK);
    CHECK(fokus_tensor_narrow(&nar, &wide, 1, 4, 3, &err) == FOKUS_OK);
    fokus_tensor bt;
    CHECK(fokus_tensor_permute(&bt, &b, perm, &err) == FOKUS_OK); /* w [3, 7] */
    CHECK(fokus_linear_into(ctx, &a, &bt, NULL, &nar, &err) == FOKUS_OK);
    CHECK(fokus_linear(ctx, &a, &bt, NULL, &lref, &err) == FOKUS_OK);
    diff = 0;
    for (int i = 0; i < 15; i++) diff += fokus_tensor_get(&nar, i) != fokus_tensor_get(&lref, i);
    CHECK_EQ_INT(diff, 0);
    CHECK(((float *)wide.data)[0] == 0.0f && ((float *)wide.data)[8] == 0.0f); /* outside untouched */

    /* errors: shape, dtype, broadcast view, overlap */
    CHECK(fokus_matmul_into(ctx, &a, &b, &t, &err) == FOKUS_EINVAL && strstr(err.msg, "matmul: out must be f32 5x3, got f32 3x5"));
    fokus_tensor h;
    CHECK(fokus_tensor_new(&h, FOKUS_F16, 2, os, &err) == FOKUS_OK);
    CHECK(fokus_matmul_into(ctx, &a, &b, &h, &err) == FOKUS_EINVAL && strstr(err.msg, "got f16 5x3"));
    fokus_tensor row, ex;
    int64_t rs[2] = {1, 3};
    CHECK(fokus_tensor_new(&row, FOKUS_F32, 2, rs, &err) == FOKUS_OK);
    CHECK(fokus_tensor_expand(&ex, &row, 2, os, &err) == FOKUS_OK);
    CHECK(fokus_matmul_into(ctx, &a, &b, &ex, &err) == FOKUS_EINVAL && strstr(err.msg, "distinct elements"));
    fokus_tensor sq, sqv;
    int64_t ss[2] = {7, 7};
    CHECK(fokus_tensor_new(&sq, FOKUS_F32, 2, ss, &err) == FOKUS_OK);
    CHECK(fokus_tensor_narrow(&sqv, &sq, 0, 0, 5, &err) == FOKUS_OK); /* [5, 7] overlapping a */
    fokus_tensor sqb;
    CHECK(fokus_tensor_narrow(&sqb, &sq, 1, 0, 3, &err) == FOKUS_OK);  /* [7, 3] */
    fokus_tensor a7;
    CHECK(fokus_tensor_narrow(&a7, &sq, 0, 2, 5, &err) == FOKUS_OK);   /* [5, 7] */
    fokus_tensor o7;
    CHECK(fokus_tensor_narrow(&o7, &sqb, 0, 0, 5, &err) == FOKUS_OK);  /* [5, 3], shares sq with a7 */
    CHECK(fokus_matmul_into(ctx, &a7, &b, &o7, &err) == FOKUS_EINVAL && strstr(err.msg, "overlaps input 1"));
    CHECK(fokus_tensor_overlaps(&a7, &o7));
    CHECK(!fokus_tensor_overlaps(&a, &b));

    fokus_tensor *all[] = {&a, &b, &ref, &o, &t, &ot, &wide, &nar, &lref, &bt, &h, &row, &ex, &sq, &sqv, &sqb, &a7, &o7};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) fokus_tensor_release(all[i]);
    fokus_ctx_free(ctx);
}

static void test_fill(void)
{
    fokus_error err;
    fokus_tensor t, v;
    int64_t s[2] = {4, 6};
    CHECK(fokus_tensor_new(&t, FOKUS_I32, 2, s, &err) == FOKUS_OK);
    CHECK(fokus_tensor_fill(&t, -3, &err) == FOKUS_OK);
    int bad = 0;
    for (int i = 0; i < 24; i++) bad += ((int32_t *)t.data)[i] != -3;
    CHECK_EQ_INT(bad, 0);
    CHECK(fokus_tensor_narrow(&v, &t, 1, 2, 2, &err) == FOKUS_OK);
    CHECK(fokus_tensor_fill(&v, 7, &err) == FOKUS_OK);
    bad = 0;
    for (int i = 0; i < 24; i++) bad += ((int32_t *)t.data)[i] != ((i % 6 == 2 || i % 6 == 3) ? 7 : -3);
    CHECK_EQ_INT(bad, 0);
    CHECK(fokus_tensor_fill(&t, 0.5, &err) == FOKUS_ERANGE);
    CHECK(fokus_tensor_fill(&t, 3e9, &err) == FOKUS_ERANGE);
    CHECK(fokus_tensor_fill(&t, NAN, &err) == FOKUS_ERANGE);
    fokus_tensor_release(&v);
    fokus_tensor_release(&t);
    CHECK(fokus_tensor_new(&t, FOKUS_BF16, 2, s, &err) == FOKUS_OK);
    CHECK(fokus_tensor_fill(&t, 1.5, &err) == FOKUS_OK);
    CHECK(fokus_tensor_get(&t, 23) == 1.5 && fokus_tensor_get(&t, 0) == 1.5);
    fokus_tensor_release(&t);
}

int main(void)
{
    RUN(test_size_classes);
    RUN(test_reuse_and_stats);
    RUN(test_limit);
    RUN(test_huge_pages);
    RUN(test_hold_frees);
    RUN(test_threads_one_allocator);
    RUN(test_two_contexts_two_threads);
    RUN(test_storage_outlives_context);
    RUN(test_steady_state_no_fresh_pages);
    RUN(test_out_contract);
    RUN(test_fill);
    return check_summary("alloc");
}
