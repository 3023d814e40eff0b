/*
 * fokus_gemm: the driver around the register tile of gemm_kernel.c, in the
 * GotoBLAS/BLIS arrangement, plus the double-precision reference.
 *
 * Loops, outermost first:
 *   pass: rows [i0, i0+mb) x k range          all of M and K when A packs into <= 4 MB
 *                                             (always at M = 77), else (row block of
 *                                             <= GEMM_MB, k block) passes
 *   task: a column block of nb (<= GEMM_NB)   parallel, handed out dynamically
 *     p0: k blocks of kc (~GEMM_KC)           C gets += for every block after the first
 *       pack the B block kc x nb (widened) into the worker's buffer (L2)
 *       ir: MR-row micro-panels of A          stays in L1 while ...
 *         jr: NR-column micro-panels of B     ... these stream from L2
 * kc bounds the micro-panels: an A micro-panel (MR x kc) must sit in L1 next to the B
 * micro-panel that streams past it; nb bounds the packed B block to part of L2.
 *
 * Threads: work is split over columns. At M = 77 (CLIP tokens) a row split would give
 * each worker a sliver of rows, while N is in the thousands; and B, the large operand
 * (the weights), is then packed exactly once overall. The number of column blocks is
 * rounded up to a multiple of the worker count and blocks are handed out dynamically,
 * so a worker slowed down by another process on its core does not hold the others
 * up. Each worker packs its own copy of the pass's A (see compute_task), unless that
 * A is large: then one copy is packed for all, inside the region, and in passes of
 * one k block a worker without a block of its own helps with the panels of another's
 * (share_task). One fork/join per pass. Only when there are fewer column blocks than
 * workers are rows split too.
 *
 * Packing B costs more than it saves when A has few rows, so: M <= 8 streams B through
 * gemm_small.c; M = 33..96 with an f32 B [N,K] (CLIP's 77 tokens times Linear weights)
 * computes transposed tiles in gemm_rows.c; and up to GEMM_DIRECT_M rows an f32 B
 * [K,N] is read in place by the micro-kernel (only a ragged last panel is packed).
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_kernel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* k block: 512 measured 3-4% faster than 384 at 2048^3 (1 thread, CPU time, 208-213
 * against 200-204 GFLOP/s; the A micro-panel, 14 x 512 floats = 28 KiB, still sits
 * in Zen 5's 48 KiB L1 beside the streaming B panel) and the same elsewhere: K = 768
 * and 1152 still split into blocks of 384. */
#ifndef GEMM_KC
#define GEMM_KC 512
#endif
#ifndef GEMM_NB
#define GEMM_NB 320
#endif
#ifndef GEMM_MB
#define GEMM_MB 4096
#endif

/* A pass's A larger than this is packed once, shared by the workers, instead of once
 * per worker: at that size a copy does not stay in a core's L2 anyway (2048^3: 4 MB
 * per pass), and each worker packing all of it doubled the packing's share at 2
 * threads (~2.5% to ~5% of the time). Measured at 2 threads, interleaved: 2048^3
 * +4-10%, 1024x1536x1536 +2-5%.
 * The shared copy is packed inside the compute region, a group of GEMM_A_GROUP
 * micro-panels at a time by the first worker that needs it (see need_a_group): in a
 * region of its own before the compute region it took ~3% of a 2048^3 product at 2
 * threads (the packing itself, which then overlapped no arithmetic, and a fork/join). */
#ifndef GEMM_A_SHARED
#define GEMM_A_SHARED (1.0 * 1024 * 1024)
#endif
#define GEMM_A_GROUP 8  /* micro-panels per packing step of the shared A */
#define GEMM_A_GROUPS 64 /* groups of a pass at most: ceil(ceil(GEMM_MB / MR) / GROUP) */

/* Up to this many rows, an f32 B [K,N] is not packed (see gemm_packed). Against
 * packing row by row (pack_b_n; 2 threads, interleaved, N = 3072, K = 768, Xeon):
 * 1.3-1.4x at M = 16, 1.13-1.18x at 40, 1.02-1.04x at 64, even at 77 (also K = 3072,
 * N = 768), 0.87-0.94x at 100. */
#ifndef GEMM_DIRECT_M
#define GEMM_DIRECT_M 80
#endif
/* k block of the direct path when B's rows alias in the caches (see gemm_packed) */
#ifndef GEMM_DIRECT_KC
#define GEMM_DIRECT_KC 256
#endif

/* All of A is packed at once (per worker) up to this many bytes. */
#ifndef GEMM_A_ALL
#define GEMM_A_ALL (4.0 * 1024 * 1024)
#endif

/* Up to this many rows, B is streamed without packing (gemm_small.c): measured
 * 1.1-2.5x faster than pack + kernel there, slower above. _N_M is for B [K,N] (a·b):
 * at M = 5-8 the (3, 8) strips with prefetch measured 1.6-1.9x the packed path. */
#ifndef GEMM_SMALL_M
#define GEMM_SMALL_M 8
#endif
#ifndef GEMM_SMALL_N_M
#define GEMM_SMALL_N_M 8
#endif
/* ... and split over threads from this many elements of B. */
#ifndef GEMM_SMALL_PAR_ELEMS
#define GEMM_SMALL_PAR_ELEMS 65536.0
#endif

#define GEMM_B_STRIDED 2

#define ROUND_UP(x, m) (((x) + (m) - 1) / (m) * (m))

typedef struct gemm_job {
    int64_t M, N, K;
    const float *A;
    int64_t lda;
    const void *B;
    fokus_dtype bt;
    int btrans;                /* 0: [K,N] ldb, 1: [N,K] ldb, GEMM_B_STRIDED: (bsk, bsn) */
    int64_t ldb, bsk, bsn;
    const float *bias;
    int accumulate;
    float *C;
    int64_t ldc;

    int64_t kc, mb, nb;        /* blocking */
    int64_t kspan;             /* k packed per pass: K when all of A fits GEMM_A_ALL, else kc */
    int64_t nblocks;           /* column blocks of nb */
    int64_t mchunks;           /* row chunks per column block (1 unless N is narrow) */
    fokus_ctx *ctx;
    float *own_a, *own_b;      /* buffers when there is no context */
    unsigned char *a_ready;    /* [worker]: its A copy holds the current pass */
    float *shared_a;           /* one copy of the pass's A for all workers, or NULL */
    atomic_int *a_state;       /* [group] of shared_a: 0 not packed, 1 being packed, 2 ready */
    struct gemm_share *share;  /* column blocks shared between workers (see share_task), or NULL */
    int direct;                /* f32 B [K,N] read in place by the kernel (few rows) */

    /* the current pass: rows [i0, i0+mlen), k range [pk0, pk1) in blocks of kc; in a
     * worker's A buffer, the block of k offset p0 starts ROUND_UP(mlen, MR) * (p0 - pk0)
     * floats in */
    int64_t i0, mlen, pk0, pk1;
} gemm_job;

/* [begin, end) of part `i` of `n` equal parts of `units` units of `size` elements,
 * clipped to `total`. */
static void split_range(int64_t total, int64_t size, int parts, int i, int64_t *begin, int64_t *end)
{
    int64_t units = (total + size - 1) / size;
    int64_t b = units * i / parts, e = units * (i + 1) / parts;
    *begin = b * size < total ? b * size : total;
    *end = e * size < total ? e * size : total;
}

/* k-blocks of near-equal size (multiples of 16 where possible) so that no block is a
 * thin remainder whose store costs more than its FMAs. */
static int64_t choose_kc(int64_t K)
{
    if (K <= GEMM_KC) return K;
    int64_t nblk = (K + GEMM_KC - 1) / GEMM_KC;
    int64_t kc = ROUND_UP((K + nblk - 1) / nblk, 16);
    return kc < K ? kc : K;
}

static size_t a_bytes(const gemm_job *j)
{
    return ((size_t)ROUND_UP(j->mb, GEMM_MR) * (size_t)j->kspan + GEMM_PACK_SLACK) * sizeof(float);
}

static size_t b_bytes(const gemm_job *j)
{
    return (size_t)ROUND_UP(j->nb, GEMM_NR) * (size_t)j->kc * sizeof(float);
}

static float *a_block(const gemm_job *j, float *abuf, int64_t p0)
{
    return abuf + ROUND_UP(j->mlen, GEMM_MR) * (p0 - j->pk0);
}

/* micro-panels [pa, pb) of every k block of the current pass into abuf */
static void pack_a_panels(const gemm_job *j, float *abuf, int64_t pa, int64_t pb)
{
    const int64_t r0 = pa * GEMM_MR, r1 = pb * GEMM_MR < j->mlen ? pb * GEMM_MR : j->mlen;
    for (int64_t p0 = j->pk0; p0 < j->pk1; p0 += j->kc) {
        const int64_t klen = j->pk1 - p0 < j->kc ? j->pk1 - p0 : j->kc;
        fokus_gemm_pack_a(j->A, j->lda, j->i0 + r0, r1 - r0, p0, klen, a_block(j, abuf, p0) + r0 * klen);
    }
}

/* Makes group g of the shared A ready: packs it if no worker has claimed it yet,
 * else waits for the worker that has (8 panels, ~230 KB at kc = 512: some tens of
 * microseconds; with odd workers walking from the end, a wait is rare). */
static void need_a_group(const gemm_job *j, int64_t g)
{
    atomic_int *st = &j->a_state[g];
    int v = atomic_load_explicit(st, memory_order_acquire);
    if (v == 2) return;
    int expect = 0;
    if (v == 0 && atomic_compare_exchange_strong_explicit(st, &expect, 1, memory_order_acq_rel, memory_order_acquire)) {
        const int64_t mpanels = (j->mlen + GEMM_MR - 1) / GEMM_MR;
        const int64_t pa = g * GEMM_A_GROUP, pb = pa + GEMM_A_GROUP < mpanels ? pa + GEMM_A_GROUP : mpanels;
        pack_a_panels(j, j->shared_a, pa, pb);
        atomic_store_explicit(st, 2, memory_order_release);
        return;
    }
    for (unsigned spins = 0; atomic_load_explicit(st, memory_order_acquire) != 2; spins++) {
        if ((spins & 1023) == 1023) sched_yield(); /* the packer may have lost its core */
        else CPU_RELAX();
    }
}

/* Micro-panel p of A (rows p*MR..) times the column block [j0, j0+nlen) of B, k block
 * p0 of length klen: the calls of the micro-kernel along the block. bbuf holds the
 * packed B block (from column nfull on; before it, B is read in place). pnext is the
 * panel this worker computes next (-1: none), prefetched meanwhile. */
static void run_panel(const gemm_job *j, const float *ablk, int64_t klen, int first, int64_t p, int64_t pnext,
                      int64_t j0, int64_t nlen, int64_t nfull, int64_t p0, const float *bbuf)
{
    const int64_t ir = p * GEMM_MR;
    const float *ap = ablk + ir * klen;
    gemm_store st;
    st.pf = NULL;
    st.pf_lines = 0;
    st.ldc = j->ldc;
    st.m = (int)(j->mlen - ir < GEMM_MR ? j->mlen - ir : GEMM_MR);
    st.load_c = !first || j->accumulate;
    /* the next A micro-panel into L2, a slice per call: when the pass's A is larger
     * than L2 (2048^3: 4 MB per worker) its panels come from L3 and the first call on
     * each waits for them (measured +3% at 2048^3, 1 thread; a smaller row block, so
     * that A stays in L2, measured -3..5%: B is then packed once per row block) */
    const char *an = (const char *)(pnext >= 0 ? ablk + pnext * GEMM_MR * klen : ap);
    const int64_t abytes = pnext >= 0 ? GEMM_MR * klen * (int64_t)sizeof(float) : 0;
    const int64_t ncalls = (nlen + GEMM_NR - 1) / GEMM_NR;
    const int64_t slice = (abytes / 64 + ncalls - 1) / ncalls * 64;
    int64_t aoff = 0;
    for (int64_t jr = 0; jr < nlen; jr += GEMM_NR) {
        /* this call's slice, prefetched by the kernel as its k loop runs */
        const int64_t e = aoff + slice < abytes ? aoff + slice : abytes;
        st.pf = an + aoff;
        st.pf_lines = aoff < e && !j->direct ? (int)((e - aoff) / 64) : 0;
        aoff = e > aoff ? e : aoff;
        st.c = j->C + (j->i0 + ir) * j->ldc + j0 + jr;
        st.n = (int)(nlen - jr < GEMM_NR ? nlen - jr : GEMM_NR);
        st.bias = first && j->bias ? j->bias + j0 + jr : NULL;
        if (jr < nfull) {
            st.bstride = j->ldb;
            fokus_gemm_ukernel(klen, ap, (const float *)j->B + p0 * j->ldb + j0 + jr, &st);
        } else {
            st.bstride = 0;
            fokus_gemm_ukernel(klen, ap, bbuf + (jr - nfull) * klen, &st);
        }
    }
}

/* ---- passes of one k block with a shared A: column blocks whose panels any worker
 * may take.
 *
 * Why: with whole column blocks as tasks (compute_task), the worker that takes the
 * last block of a pass computes it alone while the other waits at the pass's end;
 * at 2048^3 (4 passes of 8 blocks, ~2.5 ms each at 2 threads) the workers were busy
 * 96-98% of the region's time, less when another process took a core for a while.
 * Here a worker takes the next block, packs its B into a free slot and takes groups
 * of GEMM_A_GROUP panels from one end of the block; a worker that finds no block left
 * joins a block in flight and takes groups from the other end, reading the owner's
 * packed B. So both workers end the pass within a group of each other. */

#ifndef GEMM_SHARE_BLOCKS
#define GEMM_SHARE_BLOCKS 256 /* column blocks per pass at most (else compute_task) */
#endif
#define GEMM_SHARE_SLOTS 64   /* packed-B slots: 2 per worker */

typedef struct gemm_share {
    atomic_long next_block;                      /* next block to own */
    atomic_llong range[GEMM_SHARE_BLOCKS];       /* groups left: lo << 32 | hi */
    atomic_int ready[GEMM_SHARE_BLOCKS];         /* 1: B packed into slot_of */
    int slot_of[GEMM_SHARE_BLOCKS];              /* written before ready */
    unsigned char from_back[GEMM_SHARE_BLOCKS];  /* the owner's end (helpers take the other) */
    atomic_int users[GEMM_SHARE_SLOTS];          /* owners and helpers reading a slot */
    int nslots;
    float *slots;                                /* nslots packed B blocks of b_bytes */
} gemm_share;

/* One group of block b's panels, from the front or the back; -1 when none is left. */
static int64_t take_group(gemm_share *sh, int64_t b, int back)
{
    long long r = atomic_load_explicit(&sh->range[b], memory_order_relaxed);
    for (;;) {
        const long long lo = r >> 32, hi = r & 0xffffffffLL;
        if (lo >= hi) return -1;
        const long long want = back ? (lo << 32 | (hi - 1)) : ((lo + 1) << 32 | hi);
        /* seq_cst, as the pins of share_task: see there */
        if (atomic_compare_exchange_weak(&sh->range[b], &r, want))
            return back ? hi - 1 : lo;
    }
}

/* The groups of block b this worker can take, computed with B from slot s. */
static void share_work(const gemm_job *j, int64_t b, int back, const float *bbuf)
{
    gemm_share *sh = j->share;
    const int64_t mpanels = (j->mlen + GEMM_MR - 1) / GEMM_MR;
    const int64_t j0 = b * j->nb, nlen = j->N - j0 < j->nb ? j->N - j0 : j->nb;
    const int64_t klen = j->pk1 - j->pk0;
    const float *ablk = a_block(j, j->shared_a, j->pk0);
    for (int64_t g; (g = take_group(sh, b, back)) >= 0;) {
        need_a_group(j, g);
        const int64_t pa = g * GEMM_A_GROUP, pb = pa + GEMM_A_GROUP < mpanels ? pa + GEMM_A_GROUP : mpanels;
        for (int64_t q = 0; q < pb - pa; q++) {
            const int64_t p = back ? pb - 1 - q : pa + q;
            const int64_t pnext = q + 1 < pb - pa ? (back ? p - 1 : p + 1) : -1;
            run_panel(j, ablk, klen, j->pk0 == 0, p, pnext, j0, nlen, 0, j->pk0, bbuf);
        }
    }
}

static void share_task(void *arg, int64_t begin, int64_t end, int worker)
{
    const gemm_job *j = (const gemm_job *)arg;
    gemm_share *sh = j->share;
    const size_t slot_floats = b_bytes(j) / sizeof(float);
    const int back = worker & 1;
    (void)begin;
    (void)end;
    /* own blocks while there are any */
    for (int64_t b; (b = atomic_fetch_add_explicit(&sh->next_block, 1, memory_order_relaxed)) < j->nblocks;) {
        int s = 0;
        for (;; s = (s + 1) % sh->nslots) { /* a slot nobody reads: 2 per worker, so one is free */
            int expect = 0;
            if (atomic_compare_exchange_strong_explicit(&sh->users[s], &expect, 1, memory_order_seq_cst,
                                                        memory_order_seq_cst))
                break;
        }
        float *bbuf = sh->slots + (size_t)s * slot_floats;
        const int64_t j0 = b * j->nb, nlen = j->N - j0 < j->nb ? j->N - j0 : j->nb;
        const int64_t klen = j->pk1 - j->pk0;
        if (j->btrans == GEMM_B_STRIDED)
            fokus_gemm_pack_b_strided(j->B, j->bt, j->bsk, j->bsn, j->pk0, klen, j0, nlen, bbuf);
        else
            fokus_gemm_pack_b(j->B, j->bt, j->btrans, j->ldb, j->pk0, klen, j0, nlen, bbuf);
        sh->slot_of[b] = s;
        sh->from_back[b] = (unsigned char)back;
        atomic_store_explicit(&sh->ready[b], 1, memory_order_release);
        share_work(j, b, back, bbuf);
        atomic_fetch_sub(&sh->users[s], 1);
    }
    /* then help with the blocks in flight, the one with the most groups left first */
    for (;;) {
        int64_t best = -1;
        long long most = 0;
        for (int64_t b = 0; b < j->nblocks; b++) {
            if (!atomic_load_explicit(&sh->ready[b], memory_order_acquire)) continue;
            const long long r = atomic_load_explicit(&sh->range[b], memory_order_relaxed);
            const long long left = (r & 0xffffffffLL) - (r >> 32);
            if (left > most) {
                most = left;
                best = b;
            }
        }
        if (best < 0) return;
        /* Pin the slot, then take groups. A group taken means the block was not
         * finished, so its owner had not yet failed to take one and given the slot
         * back: in the single order of these seq_cst operations the pin comes before
         * the owner's release, the slot cannot reach 0 users in between, and nobody
         * repacks it while this worker reads it. A late pin (block finished, slot
         * perhaps reused) takes no group and reads nothing. */
        const int s = sh->slot_of[best];
        atomic_fetch_add(&sh->users[s], 1);
        share_work(j, best, !sh->from_back[best], sh->slots + (size_t)s * slot_floats);
        atomic_fetch_sub(&sh->users[s], 1);
    }
}

/* Task t = (column block, row chunk) of the current pass, all its k blocks. Each worker
 * packs its own copy of A on its first task of the pass: the copy then sits in that
 * core's L2 (a copy shared between workers was measured 16% slower at 77x768x768, the
 * other core's reads of it crossing between L2s), and costs ~5 us at M = 77, K = 768. */
static void compute_task(void *arg, int64_t begin, int64_t end, int worker)
{
    const gemm_job *j = (const gemm_job *)arg;
    float *abuf = j->own_a, *bbuf = j->own_b;
    if (j->ctx) { /* reserved before the parallel call: lookups */
        abuf = (float *)fokus_ctx_scratch(j->ctx, FOKUS_SCRATCH_GEMM_A, worker, a_bytes(j));
        bbuf = (float *)fokus_ctx_scratch(j->ctx, FOKUS_SCRATCH_GEMM_B, worker, b_bytes(j));
    }
    const int64_t mpanels = (j->mlen + GEMM_MR - 1) / GEMM_MR;
    for (int64_t t = begin; t < end; t++) {
        const int64_t blk = t / j->mchunks, chunk = t % j->mchunks;
        const int64_t j0 = blk * j->nb;
        if (j0 >= j->N) continue;
        const int64_t nlen = j->N - j0 < j->nb ? j->N - j0 : j->nb;
        const int64_t pa = mpanels * chunk / j->mchunks, pb = mpanels * (chunk + 1) / j->mchunks;
        if (pa >= pb) continue;
        if (j->shared_a) {
            abuf = j->shared_a; /* packed group by group as the panels are needed */
        } else if (j->mchunks > 1) {
            pack_a_panels(j, abuf, pa, pb); /* narrow N: only this chunk's rows */
        } else if (!j->a_ready[worker]) {
            pack_a_panels(j, abuf, 0, mpanels);
            j->a_ready[worker] = 1;
        }
        for (int64_t p0 = j->pk0; p0 < j->pk1; p0 += j->kc) {
            const int64_t klen = j->pk1 - p0 < j->kc ? j->pk1 - p0 : j->kc;
            const int first = p0 == 0;
            const float *ablk = a_block(j, abuf, p0);
            /* direct: full panels are read from B in place, only a ragged last panel is
             * packed (into the buffer's first panel) */
            const int64_t nfull = j->direct ? nlen / GEMM_NR * GEMM_NR : 0;
            if (j->btrans == GEMM_B_STRIDED)
                fokus_gemm_pack_b_strided(j->B, j->bt, j->bsk, j->bsn, p0, klen, j0, nlen, bbuf);
            else if (nfull < nlen)
                fokus_gemm_pack_b(j->B, j->bt, j->btrans, j->ldb, p0, klen, j0 + nfull, nlen - nfull, bbuf);
            /* With the shared A, odd workers walk the panels from the end: at the start
             * of a pass two workers then pack different groups of it, each while the
             * other computes, and meet in the middle on groups already packed. */
            const int backward = j->shared_a && (worker & 1);
            for (int64_t q = pa; q < pb; q++) {
                const int64_t p = backward ? pb - 1 - (q - pa) : q;
                const int has_next = backward ? p > pa : p + 1 < pb;
                if (j->shared_a) need_a_group(j, p / GEMM_A_GROUP);
                run_panel(j, ablk, klen, first, p, has_next ? (backward ? p - 1 : p + 1) : -1, j0, nlen, nfull,
                          p0, bbuf);
            }
        }
    }
}

/* ---- few rows: gemm_small.c, split over columns */

typedef struct small_job {
    gemm_small_args g;
    int64_t unit, N;
    int parts;
} small_job;

static void small_task(void *arg, int64_t begin, int64_t end, int worker)
{
    const small_job *s = (const small_job *)arg;
    (void)worker;
    for (int64_t t = begin; t < end; t++) {
        int64_t n0, n1;
        split_range(s->N, s->unit, s->parts, (int)t, &n0, &n1);
        if (n0 < n1) fokus_gemm_small(&s->g, n0, n1);
    }
}

static fokus_status gemm_small_path(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                    const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb,
                                    const float *bias, bool accumulate, float *C, int64_t ldc, fokus_error *err)
{
    small_job s;
    memset(&s, 0, sizeof s);
    s.g.M = M; s.g.K = K;
    s.g.A = A; s.g.lda = lda;
    s.g.B = B; s.g.bt = b_dtype; s.g.btrans = b_trans; s.g.ldb = ldb;
    s.g.bias = bias; s.g.accumulate = accumulate;
    s.g.C = C; s.g.ldc = ldc;
    s.N = N;
    s.unit = b_trans ? 4 : 192; /* whole strips of 64 (M <= 4) and of 48 columns */
    const int nthreads = fokus_ctx_threads(ctx);
    const int64_t units = (N + s.unit - 1) / s.unit;
    /* B bytes decide: the product streams B once */
    s.parts = 1;
    if (ctx && nthreads > 1 && (double)N * (double)K >= GEMM_SMALL_PAR_ELEMS)
        s.parts = (int)(units < nthreads ? units : nthreads);

    float *own = NULL;
    if (b_trans) {
        /* A rows zero-padded to a multiple of 16, shared by all workers */
        if ((uint64_t)K > (SIZE_MAX / sizeof(float) - 16) / (uint64_t)M)
            return fokus_fail(err, FOKUS_ENOMEM, "gemm: K = %lld is too large for scratch", (long long)K);
        s.g.kpad = ROUND_UP(K, 16);
        size_t bytes = (size_t)M * (size_t)s.g.kpad * sizeof(float);
        const int w = fokus_ctx_task_worker(ctx); /* nested: the caller's buffer, not the shared one */
        float *ap = ctx ? (float *)fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_A, w >= 0 ? w : nthreads, bytes)
                        : (own = (float *)fokus_alloc(bytes));
        if (!ap) return fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory for %zu bytes of scratch", bytes);
        for (int64_t i = 0; i < M; i++) {
            memcpy(ap + i * s.g.kpad, A + i * lda, (size_t)K * sizeof(float));
            memset(ap + i * s.g.kpad + K, 0, (size_t)(s.g.kpad - K) * sizeof(float));
        }
        s.g.Apad = ap;
    }
    if (s.parts > 1) fokus_parallel(ctx, s.parts, 1, small_task, &s);
    else small_task(&s, 0, 1, 0);
    fokus_free(own);
    return FOKUS_OK;
}

/* ---- 33..96 rows, f32 B [N,K]: gemm_rows.c (B unpacked, transposed tiles), through
 * the same driver as fokus_gemm_group: one parallel region, tasks that shrink as the
 * work runs out so both workers finish within a tile of each other */

static fokus_status gemm_rows_path(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                   const void *B, int64_t ldb,
                                   const float *bias, bool accumulate, float *C, int64_t ldc, fokus_error *err)
{
    fokus_gemm_part part = {B, FOKUS_F32, N, ldb, bias, FOKUS_ACT_NONE, accumulate, C, ldc};
    return fokus_gemm_group(ctx, M, K, A, lda, 1, &part, err);
}

/* C = bias (or C += bias): the K = 0 product. */
static void bias_only(int64_t M, int64_t N, const float *bias, bool accumulate, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        for (int64_t x = 0; x < N; x++) {
            float v = bias ? bias[x] : 0.0f;
            c[x] = accumulate ? c[x] + v : v;
        }
    }
}

static fokus_status check_args(const char *fn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                               const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb, float *C,
                               int64_t ldc, fokus_error *err)
{
    if (M < 0 || N < 0 || K < 0)
        return fokus_fail(err, FOKUS_EINVAL, "%s: M, N, K must be >= 0, got %lld, %lld, %lld", fn,
                          (long long)M, (long long)N, (long long)K);
    if (b_dtype != FOKUS_F32 && b_dtype != FOKUS_F16 && b_dtype != FOKUS_BF16)
        return fokus_fail(err, FOKUS_EINVAL, "%s: B dtype must be f32, f16 or bf16, got dtype %d", fn,
                          (int)b_dtype);
    if (M > 0 && N > 0 && K > 0) {
        if (!A || !B) return fokus_fail(err, FOKUS_EINVAL, "%s: A and B must not be NULL", fn);
        if (lda < K)
            return fokus_fail(err, FOKUS_EINVAL, "%s: lda must be >= K = %lld, got %lld", fn, (long long)K,
                              (long long)lda);
        int64_t bw = b_trans ? K : N, bh = b_trans ? N : K;
        if (ldb < bw)
            return fokus_fail(err, FOKUS_EINVAL, "%s: ldb must be >= %s = %lld, got %lld", fn,
                              b_trans ? "K" : "N", (long long)bw, (long long)ldb);
        if (lda > INT64_MAX / M || ldb > INT64_MAX / bh)
            return fokus_fail(err, FOKUS_ERANGE, "%s: matrix extent overflows", fn);
    }
    if (M > 0 && N > 0) {
        if (!C) return fokus_fail(err, FOKUS_EINVAL, "%s: C must not be NULL", fn);
        if (ldc < N)
            return fokus_fail(err, FOKUS_EINVAL, "%s: ldc must be >= N = %lld, got %lld", fn, (long long)N,
                              (long long)ldc);
        if (ldc > INT64_MAX / M) return fokus_fail(err, FOKUS_ERANGE, "%s: C extent overflows", fn);
    }
    return FOKUS_OK;
}

static fokus_status gemm_packed(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                const void *B, fokus_dtype b_dtype, int b_mode, int64_t ldb, int64_t bsk,
                                int64_t bsn, const float *bias, bool accumulate, float *C, int64_t ldc,
                                fokus_error *err);

fokus_status fokus_gemm(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb, const float *bias,
                        bool accumulate, float *C, int64_t ldc, fokus_error *err)
{
    fokus_status st = check_args("gemm", M, N, K, A, lda, B, b_dtype, b_trans, ldb, C, ldc, err);
    if (st != FOKUS_OK) return st;
    if (M == 0 || N == 0) return FOKUS_OK;
    if (K == 0) {
        bias_only(M, N, bias, accumulate, C, ldc);
        return FOKUS_OK;
    }

    if (M >= GEMM_ROWS_MIN && M <= GEMM_ROWS_MAX && b_trans && b_dtype == FOKUS_F32)
        return gemm_rows_path(ctx, M, N, K, A, lda, B, ldb, bias, accumulate, C, ldc, err);
    if (M <= (b_trans ? GEMM_SMALL_M : GEMM_SMALL_N_M))
        return gemm_small_path(ctx, M, N, K, A, lda, B, b_dtype, b_trans, ldb, bias, accumulate, C, ldc, err);
    return gemm_packed(ctx, M, N, K, A, lda, B, b_dtype, b_trans ? 1 : 0, ldb, 0, 0, bias, accumulate, C, ldc, err);
}

fokus_status fokus_gemm_strided(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                const void *B, fokus_dtype b_dtype, int64_t sk, int64_t sn, const float *bias,
                                bool accumulate, float *C, int64_t ldc, fokus_error *err)
{
    /* the dense checks with a B of N columns per row stand in for A, C and the dtype */
    fokus_status st = check_args("gemm", M, N, K, A, lda, B, b_dtype, false, N, C, ldc, err);
    if (st != FOKUS_OK) return st;
    if (M == 0 || N == 0) return FOKUS_OK;
    if (K == 0) {
        bias_only(M, N, bias, accumulate, C, ldc);
        return FOKUS_OK;
    }
    if (sk == INT64_MIN || sn == INT64_MIN || (sk < 0 ? -sk : sk) > INT64_MAX / 2 / K ||
        (sn < 0 ? -sn : sn) > INT64_MAX / 2 / N)
        return fokus_fail(err, FOKUS_ERANGE, "gemm: strided B extent overflows");
    return gemm_packed(ctx, M, N, K, A, lda, B, b_dtype, GEMM_B_STRIDED, 0, sk, sn, bias, accumulate, C, ldc, err);
}

/* The packed path of both: b_mode 0 ([K,N], ldb), 1 ([N,K], ldb), GEMM_B_STRIDED. */
static fokus_status gemm_packed(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                const void *B, fokus_dtype b_dtype, int b_mode, int64_t ldb, int64_t bsk,
                                int64_t bsn, const float *bias, bool accumulate, float *C, int64_t ldc,
                                fokus_error *err)
{
    gemm_job j;
    memset(&j, 0, sizeof j);
    j.M = M; j.N = N; j.K = K;
    j.A = A; j.lda = lda;
    j.B = B; j.bt = b_dtype; j.btrans = b_mode; j.ldb = ldb; j.bsk = bsk; j.bsn = bsn;
    j.bias = bias; j.accumulate = accumulate;
    j.C = C; j.ldc = ldc;
    j.ctx = ctx;

    const int64_t npan = (N + GEMM_NR - 1) / GEMM_NR, mpan = (M + GEMM_MR - 1) / GEMM_MR;
    /* nested in a pool task: inline, one worker, the caller's own buffers (the shared A
     * and B slots below belong to the top-level call) */
    const int par = ctx && fokus_ctx_threads(ctx) > 1 && fokus_ctx_task_worker(ctx) < 0 &&
                    2.0 * (double)M * (double)N * (double)K >= GEMM_PAR_FLOPS;
    const int64_t workers = par ? fokus_ctx_threads(ctx) : 1;
    j.kc = choose_kc(K);
    /* Few rows of A use each element of B only M times, and packing B [K,N] (a copy,
     * ~0.3 cycles per element) cost ~13% at M = 77: the kernel reads such a B in
     * place instead, prefetching its rows */
    j.direct = b_mode == 0 && b_dtype == FOKUS_F32 && M <= GEMM_DIRECT_M;
    /* B read in place with rows a multiple of 4 KiB apart (N = 1024, 2048, 3072 ...):
     * the same column of every row falls into the same cache sets, a 12-way L1 set
     * holds the lines of 12 rows and a 16-way L2 set those of 16 to 32, so a k block
     * of 384 rows no longer fits where it is re-read (by every A micro-panel). Shorter
     * k blocks: at 77x3072x768, 256 against 384 +3.3-4.9% (one process, 2 threads; a
     * row stride 64 bytes longer, which breaks the pattern, measured +8-12%); where
     * the rows do not alias (N = 768) shorter blocks lose 1.5-3%, so only here. */
    if (j.direct && K > GEMM_DIRECT_KC && (ldb * (int64_t)sizeof(float)) % 4096 == 0) {
        const int64_t nblk = (K + GEMM_DIRECT_KC - 1) / GEMM_DIRECT_KC;
        j.kc = ROUND_UP((K + nblk - 1) / nblk, 16);
        if (j.kc > K) j.kc = K;
    }
    /* All of A packed in one pass when it is small (always at M = 77): then the whole
     * product is one parallel region. Else passes of (row block, k block): a few more
     * fork/joins, in products that take tens of milliseconds. */
    if ((double)ROUND_UP(M, GEMM_MR) * (double)K * sizeof(float) <= GEMM_A_ALL) {
        j.mb = M;
        j.kspan = K;
    } else {
        j.mb = M < (GEMM_MB / GEMM_MR) * GEMM_MR ? M : (GEMM_MB / GEMM_MR) * GEMM_MR;
        j.kspan = j.kc;
    }
    /* column blocks: at most GEMM_NB wide, a multiple of the worker count when there
     * are enough panels, equal widths */
    j.nblocks = (N + GEMM_NB - 1) / GEMM_NB;
    if (j.nblocks % workers) j.nblocks = ROUND_UP(j.nblocks, workers);
    if (j.nblocks > npan) j.nblocks = npan;
    j.nb = ROUND_UP((N + j.nblocks - 1) / j.nblocks, GEMM_NR);
    j.nblocks = (N + j.nb - 1) / j.nb;
    /* narrow N: split rows as well, so every worker has a share */
    j.mchunks = 1;
    if (j.nblocks < workers) {
        j.mchunks = (workers + j.nblocks - 1) / j.nblocks;
        if (j.mchunks > mpan) j.mchunks = mpan;
    }

    unsigned char ready[1024]; /* the pool has at most 1024 workers */
    const int nthreads = fokus_ctx_threads(ctx);
    if (nthreads > (int)sizeof ready) return fokus_fail(err, FOKUS_EINVAL, "gemm: more than 1024 workers");
    j.a_ready = ready;
    if (ctx) {
        /* buffers for every worker, even when not parallel: a call nested in another
         * pool task runs inline under that task's worker index */
        for (int w = 0; w < nthreads; w++)
            if (!fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_A, w, a_bytes(&j)) ||
                !fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_B, w, b_bytes(&j)))
                return fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory for packing buffers");
    } else {
        j.own_a = (float *)fokus_alloc(a_bytes(&j));
        j.own_b = (float *)fokus_alloc(b_bytes(&j));
        if (!j.own_a || !j.own_b) {
            fokus_free(j.own_a);
            fokus_free(j.own_b);
            return fokus_fail(err, FOKUS_ENOMEM, "gemm: out of memory for packing buffers");
        }
    }

    /* one parallel region per pass (a shared A is packed inside it); a single pass unless A is large */
    const int64_t ntasks = j.nblocks * j.mchunks;
    const int share = ctx && par && j.mchunks == 1 && (double)a_bytes(&j) > GEMM_A_SHARED &&
                      (ROUND_UP(j.mb, GEMM_MR) / GEMM_MR + GEMM_A_GROUP - 1) / GEMM_A_GROUP <= GEMM_A_GROUPS;
    atomic_int a_state[GEMM_A_GROUPS];
    gemm_share sh;
    if (share) {
        j.shared_a = (float *)fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_A, 0, a_bytes(&j)); /* reserved above */
        j.a_state = a_state;
        /* passes of one k block and not too many blocks: the shared column blocks,
         * with 2 packed-B slots per worker in the context's shared scratch */
        if (j.kspan <= j.kc && !j.direct && j.nblocks <= GEMM_SHARE_BLOCKS && 2 * nthreads <= GEMM_SHARE_SLOTS) {
            sh.nslots = 2 * nthreads;
            sh.slots = (float *)fokus_ctx_scratch(ctx, FOKUS_SCRATCH_GEMM_B, nthreads, (size_t)sh.nslots * b_bytes(&j));
            if (sh.slots) j.share = &sh; /* else the other way, which needs no more memory */
        }
    }
    for (j.i0 = 0; j.i0 < M; j.i0 += j.mb) {
        j.mlen = M - j.i0 < j.mb ? M - j.i0 : j.mb;
        for (j.pk0 = 0; j.pk0 < K; j.pk0 += j.kspan) {
            j.pk1 = K - j.pk0 < j.kspan ? K : j.pk0 + j.kspan;
            memset(ready, 0, (size_t)nthreads);
            if (j.shared_a)
                for (int g = 0; g < GEMM_A_GROUPS; g++) atomic_init(&a_state[g], 0);
            if (j.share) {
                const int64_t ngroups = ((j.mlen + GEMM_MR - 1) / GEMM_MR + GEMM_A_GROUP - 1) / GEMM_A_GROUP;
                atomic_init(&sh.next_block, 0);
                for (int64_t b = 0; b < j.nblocks; b++) {
                    atomic_init(&sh.range[b], ngroups);
                    atomic_init(&sh.ready[b], 0);
                }
                for (int s = 0; s < sh.nslots; s++) atomic_init(&sh.users[s], 0);
                fokus_parallel(ctx, nthreads, 1, share_task, &j);
                continue;
            }
            /* not parallel: one chunk, inline (under the caller's worker index when
             * nested in a pool task) */
            fokus_parallel(ctx, ntasks, par ? 1 : ntasks, compute_task, &j);
        }
    }
    fokus_free(j.own_a);
    fokus_free(j.own_b);
    return FOKUS_OK;
}

fokus_status fokus_gemm_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                            fokus_dtype b_dtype, bool b_trans, int64_t ldb, const float *bias, bool accumulate,
                            float *C, int64_t ldc, fokus_error *err)
{
    fokus_status st = check_args("gemm_ref", M, N, K, A, lda, B, b_dtype, b_trans, ldb, C, ldc, err);
    if (st != FOKUS_OK) return st;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t x = 0; x < N; x++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++) {
                int64_t idx = b_trans ? x * ldb + k : k * ldb + x;
                s += (double)A[i * lda + k] * (double)fokus_gemm_b_at(B, b_dtype, idx);
            }
            if (bias) s += bias[x];
            if (accumulate) s += C[i * ldc + x];
            C[i * ldc + x] = (float)s;
        }
    }
    return FOKUS_OK;
}
