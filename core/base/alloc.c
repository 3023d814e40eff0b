/* The caching allocator behind tensor storage and context scratch.
 *
 * Why: a fresh 4 KiB page costs ~10 us to fault in, so a 16 MiB result allocated with
 * posix_memalign on every call spends ~40 ms touching pages before any arithmetic.
 * Freed blocks are therefore kept, sorted into size classes, and handed out again;
 * a loop in steady state touches no fresh pages.
 *
 * Size classes: up to 1 KiB, multiples of 64 bytes; above, eight classes per power of
 * two (so a block wastes at most 1/8 of its request). A request is served only by a
 * block of its own class, the most recently freed first (its lines may still be in
 * cache). Blocks of 128 KiB and more are mapped with mmap, so handing one back to the
 * system really unmaps it (glibc would keep it in its heap).
 *
 * Blocks of 2 MiB and more are mapped 2 MiB-aligned and advised as transparent huge
 * pages (MADV_HUGEPAGE; the kernel's default THP mode, "madvise", uses them only where
 * advised). Operands read along their columns or in many short runs touch a new
 * 4 KiB page at every step (b [K,N] at 77x3072x768: rows 12 KiB apart; the K and V
 * tiles of attention; the rows of Linear weights), and in huge pages they sit in a
 * few TLB entries. Measured in one process, the same data in both kinds of mapping,
 * the two interleaved, 2 threads: attend (24,1178,1178,64) +17-24%, (8,4096,4096,64)
 * +18-26%, (12,77,77,64) +3%; fokus_gemm_group over 24 Linear weights 3072x768 at
 * M = 77 (streamed from memory, as in a model's forward pass) +13-20%; fokus_gemm
 * 77x3072x768 b [K,N] +10-14%, 2048^3 +1%. From Lua: attend (24,1178,1178,64) +10-20%.
 * A fresh huge page also costs one fault instead of 512. An earlier session saw
 * attention 15% slower with the advice, in a loop that still faulted fresh blocks;
 * THP faults may also stall on compaction of fragmented memory: FOKUS_THP=0 in the
 * environment (read when the allocator is made) turns the advice off.
 *
 * The cache is bounded by `limit` bytes: beyond it the least recently freed blocks
 * are unmapped. All state sits behind one mutex: allocations are per tensor, not per
 * element, so the lock is taken a few thousand times a second at most. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/fokus_base.h"

#define SMALL_MAX 1024                  /* multiples of 64 up to here */
#define SUBSTEPS_LOG2 3                 /* 8 classes per power of two above */
#define NCLASSES (SMALL_MAX / 64 + (64 - 10) * (1 << SUBSTEPS_LOG2))
#define MMAP_MIN ((size_t)128 << 10)
#define HUGE_MIN ((size_t)2 << 20)     /* also the huge page size and alignment */

typedef struct block {
    void *p;
    size_t size;                        /* class size */
    int cls;
    struct block *lru_prev, *lru_next;  /* all cached blocks, most recently freed first */
    struct block *bin_prev, *bin_next;  /* cached blocks of one class, same order */
} block;

struct fokus_allocator {
    atomic_long refs;
    pthread_mutex_t mu;
    size_t limit, live, cached, peak;
    bool huge;                          /* advise blocks >= HUGE_MIN as huge pages */
    bool hold;                          /* frees go to `held` (fokus_allocator_hold_frees) */
    block *held;                        /* last freed first, through lru_next */
    uint64_t allocs, reuses, total;
    block *lru_head, *lru_tail;
    block *bins[NCLASSES];
};

/* Class index and size of a request; -1 when the size cannot be represented. */
static int size_class(size_t bytes, size_t *csize)
{
    if (bytes <= SMALL_MAX) {
        size_t n = bytes ? (bytes + 63) / 64 : 1;
        *csize = n * 64;
        return (int)n - 1;
    }
    int k = 63 - __builtin_clzll((unsigned long long)(bytes - 1)); /* 2^k < bytes <= 2^(k+1) */
    if (k >= 63) {
        *csize = 0;
        return -1;
    }
    size_t step = (size_t)1 << (k - SUBSTEPS_LOG2);
    size_t sub = (bytes - ((size_t)1 << k) + step - 1) / step; /* 1 .. 8 */
    *csize = ((size_t)1 << k) + sub * step;
    return SMALL_MAX / 64 + (k - 10) * (1 << SUBSTEPS_LOG2) + (int)sub - 1;
}

size_t fokus_allocator_class_size(size_t bytes)
{
    size_t c;
    return size_class(bytes, &c) < 0 ? 0 : c;
}

/* ---------------------------------------------------------------- system blocks */

static void *sys_alloc(size_t size, bool huge)
{
    if (size < MMAP_MIN) return fokus_alloc(size);
    if (!huge || size < HUGE_MIN || size % 4096 != 0 || size > SIZE_MAX - HUGE_MIN) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    /* map HUGE_MIN more, then unmap the unaligned head and the tail: the block is then
     * exactly [p, p + size), as sys_free unmaps it */
    const size_t span = size + HUGE_MIN;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)raw + HUGE_MIN - 1) & ~(uintptr_t)(HUGE_MIN - 1));
    const size_t head = (size_t)(p - raw), tail = span - head - size;
    if (head) munmap(raw, head);
    if (tail) munmap(p + size, tail);
    (void)madvise(p, size, MADV_HUGEPAGE); /* advice only: without THP the pages stay small */
    return p;
}

static void sys_free(void *p, size_t size)
{
    if (size < MMAP_MIN)
        fokus_free(p);
    else
        munmap(p, size);
}

/* Whether a block fresh from sys_alloc is known to be zero (anonymous mappings are). */
static bool sys_zeroed(size_t size)
{
    return size >= MMAP_MIN;
}

/* ---------------------------------------------------------------- cache lists */

static void unlink_block(fokus_allocator *a, block *b)
{
    if (b->lru_prev) b->lru_prev->lru_next = b->lru_next; else a->lru_head = b->lru_next;
    if (b->lru_next) b->lru_next->lru_prev = b->lru_prev; else a->lru_tail = b->lru_prev;
    if (b->bin_prev) b->bin_prev->bin_next = b->bin_next; else a->bins[b->cls] = b->bin_next;
    if (b->bin_next) b->bin_next->bin_prev = b->bin_prev;
    a->cached -= b->size;
}

static void push_block(fokus_allocator *a, block *b)
{
    b->lru_prev = NULL;
    b->lru_next = a->lru_head;
    if (a->lru_head) a->lru_head->lru_prev = b; else a->lru_tail = b;
    a->lru_head = b;
    b->bin_prev = NULL;
    b->bin_next = a->bins[b->cls];
    if (b->bin_next) b->bin_next->bin_prev = b;
    a->bins[b->cls] = b;
    a->cached += b->size;
}

/* Takes blocks off the LRU end until the cache holds at most `keep` bytes; returns
 * them as a list (through lru_next) to free outside the lock. */
static block *evict_locked(fokus_allocator *a, size_t keep)
{
    block *out = NULL;
    while (a->cached > keep && a->lru_tail) {
        block *b = a->lru_tail;
        unlink_block(a, b);
        b->lru_next = out;
        out = b;
    }
    return out;
}

static void free_list(block *b)
{
    while (b) {
        block *next = b->lru_next;
        sys_free(b->p, b->size);
        free(b);
        b = next;
    }
}

/* ---------------------------------------------------------------- public */

fokus_status fokus_allocator_new(fokus_allocator **out, size_t limit, fokus_error *err)
{
    *out = NULL;
    fokus_allocator *a = calloc(1, sizeof *a);
    if (!a) return fokus_fail(err, FOKUS_ENOMEM, "allocator: out of memory");
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return fokus_fail(err, FOKUS_ENOMEM, "allocator: cannot create its lock");
    }
    atomic_init(&a->refs, 1);
    a->limit = limit;
    const char *thp = getenv("FOKUS_THP");
    a->huge = !(thp && strcmp(thp, "0") == 0);
    *out = a;
    return FOKUS_OK;
}

void fokus_allocator_retain(fokus_allocator *a)
{
    if (a) atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
}

void fokus_allocator_release(fokus_allocator *a)
{
    if (!a || atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1) return;
    /* the last reference: no block is live any more (each holds a reference) */
    fokus_allocator_hold_frees(a, false);
    free_list(evict_locked(a, 0));
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void *fokus_allocator_alloc(fokus_allocator *a, size_t bytes, bool zero)
{
    if (!a) return zero ? fokus_calloc(bytes) : fokus_alloc(bytes);
    size_t size;
    int cls = size_class(bytes, &size);
    if (cls < 0) return NULL;
    pthread_mutex_lock(&a->mu);
    block *b = a->bins[cls];
    if (b) unlink_block(a, b);
    pthread_mutex_unlock(&a->mu);

    void *p;
    bool zeroed;
    if (b) {
        p = b->p;
        zeroed = false;
        free(b);
    } else {
        p = sys_alloc(size, a->huge);
        if (!p) {
            /* the cache may hold what the system now refuses: give it back, retry once */
            pthread_mutex_lock(&a->mu);
            block *drop = evict_locked(a, 0);
            pthread_mutex_unlock(&a->mu);
            free_list(drop);
            p = sys_alloc(size, a->huge);
            if (!p) return NULL;
        }
        zeroed = sys_zeroed(size);
    }
    if (zero && !zeroed) memset(p, 0, bytes);

    pthread_mutex_lock(&a->mu);
    a->live += size;
    if (a->live > a->peak) a->peak = a->live;
    a->allocs++;
    a->total += size;
    if (b) a->reuses++;
    pthread_mutex_unlock(&a->mu);
    return p;
}

void fokus_allocator_free(fokus_allocator *a, void *p, size_t bytes)
{
    if (!a) {
        fokus_free(p);
        return;
    }
    if (!p) return;
    size_t size;
    int cls = size_class(bytes, &size);
    /* the list node is allocated outside the lock; without one the block goes back */
    block *b = malloc(sizeof *b), *drop = NULL;
    bool kept = false;
    pthread_mutex_lock(&a->mu);
    a->live -= size;
    if (b && size <= a->limit) {
        b->p = p;
        b->size = size;
        b->cls = cls;
        if (a->hold) {
            b->lru_next = a->held;
            a->held = b;
        } else {
            push_block(a, b);
            drop = evict_locked(a, a->limit);
        }
        kept = true;
    }
    pthread_mutex_unlock(&a->mu);
    if (!kept) {
        free(b);
        sys_free(p, size);
    }
    free_list(drop);
}

void fokus_allocator_hold_frees(fokus_allocator *a, bool hold)
{
    if (!a) return;
    block *drop = NULL;
    pthread_mutex_lock(&a->mu);
    a->hold = hold;
    if (!hold && a->held) {
        /* `held` starts with the last freed: caching from there leaves the first freed
         * at the front of its bin */
        for (block *b = a->held, *next; b; b = next) {
            next = b->lru_next;
            push_block(a, b);
        }
        a->held = NULL;
        drop = evict_locked(a, a->limit);
    }
    pthread_mutex_unlock(&a->mu);
    free_list(drop);
}

void fokus_allocator_set_limit(fokus_allocator *a, size_t limit)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->limit = limit;
    block *drop = evict_locked(a, limit);
    pthread_mutex_unlock(&a->mu);
    free_list(drop);
}

void fokus_allocator_trim(fokus_allocator *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    block *drop = evict_locked(a, 0);
    pthread_mutex_unlock(&a->mu);
    free_list(drop);
}

void fokus_allocator_reset_peak(fokus_allocator *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->peak = a->live;
    pthread_mutex_unlock(&a->mu);
}

void fokus_allocator_stats(fokus_allocator *a, fokus_memstats *s)
{
    memset(s, 0, sizeof *s);
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    s->live = a->live;
    s->cached = a->cached;
    s->peak = a->peak;
    s->limit = a->limit;
    s->allocs = a->allocs;
    s->reuses = a->reuses;
    s->total = a->total;
    pthread_mutex_unlock(&a->mu);
}
