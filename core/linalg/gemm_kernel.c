/*
 * The GEMM register tile: the SIMD micro-kernel and the packing routines that lay A and
 * B out in the order it reads them (layouts in gemm_kernel.h).
 *
 * Kernel shape. The accumulators of an MR x NR tile live in zmm registers for the
 * whole k loop; each k step loads NR/16 vectors of packed B and broadcasts MR floats of
 * packed A (one vbroadcastss load each), so it does MR*NR/16 FMAs for NR/16 + MR loads.
 * 14x32 fills 28 of the 32 registers with accumulators (more independent chains than
 * the 2 FMA pipes x 4 cycles of latency need), 2 hold B and 1 the broadcast. Measured on the Zen 5 host (1 thread, CPU time, best of ~70-500 calls, GFLOP/s at
 * (77,3072,768) / (1024,1536,1536), B [N,K] f32; 1-core FMA peak ~266):
 *     14x32 232 / 249    12x32 228 / 245    8x48 223-233 / 247-249
 *     7x64  228 / 238-249    6x64 227 / 234-244    16x16 205-208 / 221-228
 * 14x32 and 8x48 lead within the noise of the shared machine; 14x32 was kept (most
 * accumulators; M = 77 is 5 full tiles and one of 7 rows).
 *
 * Ragged M is handled by kernels specialised for every row count 1..MR (the switch
 * below instantiates the same inline body with a constant), so a 77-row problem runs
 * 5 full tiles and one 7-row tile without wasted FMAs. Ragged N is handled in the
 * store: packed B is zero-padded, the tile is computed in full, and only the valid
 * columns are written.
 */
#include <string.h>

#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>

#include "gemm_kernel.h"
#include "simd_math.h"

static inline simde__m512 gemm_load16(const void *p, fokus_dtype dt)
{
    return fokus_v_load16_widen(p, dt == FOKUS_F16, dt == FOKUS_BF16);
}

/* Rows of B [K,N] the direct path prefetches ahead. Fewer than the 12 ways of the
 * 48 KiB L1: when B's row stride is a multiple of 4 KiB (N = 768, 3072) the prefetched
 * lines of one column panel all fall into the same two sets, and 16 rows ahead they
 * were evicted again before use. 10 against 16, one process, 2 threads: 77x3072x768
 * +1.7-2.5%, 77x768x3072 +0.5-1.5% (6: -1%, 16 into L2 only: -2..-3%). */
#ifndef GEMM_DIRECT_AHEAD
#define GEMM_DIRECT_AHEAD 10
#endif
#ifndef GEMM_DIRECT_HINT
#define GEMM_DIRECT_HINT 3
#endif

#if GEMM_MR > 16
#error "pack_a transposes 16-row blocks: GEMM_MR must be <= 16"
#endif

#if defined(__GNUC__)
#define GEMM_INLINE static inline __attribute__((always_inline))
#else
#define GEMM_INLINE static inline
#endif

/* ------------------------------------------------------------------------------------
 * Micro-kernel
 * ---------------------------------------------------------------------------------- */

GEMM_INLINE void store_row(float *c, const float *bias, int load_c, int n, const simde__m512 *acc)
{
    if (n == GEMM_NR) {
        for (int j = 0; j < GEMM_NV; j++) {
            simde__m512 v = acc[j];
            if (bias) v = simde_mm512_add_ps(v, simde_mm512_loadu_ps(bias + 16 * j));
            if (load_c) v = simde_mm512_add_ps(v, simde_mm512_loadu_ps(c + 16 * j));
            simde_mm512_storeu_ps(c + 16 * j, v);
        }
        return;
    }
    /* right edge: no masked stores in SIMDe 0.7.4, so go through memory */
    float tmp[GEMM_NR];
    for (int j = 0; j < GEMM_NV; j++) simde_mm512_storeu_ps(tmp + 16 * j, acc[j]);
    for (int x = 0; x < n; x++) {
        float v = tmp[x];
        if (bias) v += bias[x];
        if (load_c) v += c[x];
        c[x] = v;
    }
}

GEMM_INLINE void ukernel_body(const int mr, const int direct, int64_t kc, const float *restrict a,
                              const float *restrict b, const gemm_store *st)
{
    const int64_t bs = direct ? st->bstride : GEMM_NR;
    simde__m512 acc[GEMM_MR][GEMM_NV];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < GEMM_NV; j++) acc[i][j] = simde_mm512_setzero_ps();
    /* Touch the C tile now so its lines (read for +=, written in any case) arrive
     * during the k loop instead of stalling the stores: +5% at 1024x1536x1536 and
     * +11% at 2048^3 (1 thread), where C rows are far apart and out of cache. */
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < GEMM_NV && 16 * j < st->n; j++) __builtin_prefetch(st->c + i * st->ldc + 16 * j, 1, 3);
    const char *pf = st->pf;
    const int64_t pf_end = (int64_t)st->pf_lines * 8;
    for (int64_t k = 0; k < kc; k++) {
        /* spread out: in one burst at the start of the call, ~56 prefetches that miss
         * L2 filled the line-fill buffers and stalled the core (~6% of a 2048^3 product) */
        if (!direct && (k & 7) == 0 && k < pf_end) { /* (direct: A is small, in L2) */
            __builtin_prefetch(pf, 0, 2);
            pf += 64;
        }
        simde__m512 bv[GEMM_NV];
        if (direct) {
            /* rows of B a whole row apart: the prefetchers do not follow them */
            if (k + GEMM_DIRECT_AHEAD < kc) {
                __builtin_prefetch(b + GEMM_DIRECT_AHEAD * bs, 0, GEMM_DIRECT_HINT);
                __builtin_prefetch(b + GEMM_DIRECT_AHEAD * bs + GEMM_NR - 1, 0, GEMM_DIRECT_HINT);
            }
            for (int j = 0; j < GEMM_NV; j++) bv[j] = simde_mm512_loadu_ps(b + 16 * j);
        } else {
            for (int j = 0; j < GEMM_NV; j++) bv[j] = simde_mm512_load_ps(b + 16 * j);
        }
        for (int i = 0; i < mr; i++) {
            simde__m512 av = simde_mm512_set1_ps(a[i]);
            for (int j = 0; j < GEMM_NV; j++) acc[i][j] = simde_mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
        a += GEMM_MR;
        b += bs;
    }
    float *c = st->c;
    for (int i = 0; i < mr; i++) store_row(c + i * st->ldc, st->bias, st->load_c, st->n, acc[i]);
}

#define GEMM_CASE(m) \
    case m: if (st->bstride) ukernel_body(m, 1, kc, a, b, st); else ukernel_body(m, 0, kc, a, b, st); break;

void fokus_gemm_ukernel(int64_t kc, const float *a, const float *b, const gemm_store *st)
{
    switch (st->m) {
    GEMM_CASE(1)
#if GEMM_MR >= 2
    GEMM_CASE(2)
#endif
#if GEMM_MR >= 3
    GEMM_CASE(3)
#endif
#if GEMM_MR >= 4
    GEMM_CASE(4)
#endif
#if GEMM_MR >= 5
    GEMM_CASE(5)
#endif
#if GEMM_MR >= 6
    GEMM_CASE(6)
#endif
#if GEMM_MR >= 7
    GEMM_CASE(7)
#endif
#if GEMM_MR >= 8
    GEMM_CASE(8)
#endif
#if GEMM_MR >= 9
    GEMM_CASE(9)
#endif
#if GEMM_MR >= 10
    GEMM_CASE(10)
#endif
#if GEMM_MR >= 11
    GEMM_CASE(11)
#endif
#if GEMM_MR >= 12
    GEMM_CASE(12)
#endif
#if GEMM_MR >= 13
    GEMM_CASE(13)
#endif
#if GEMM_MR >= 14
    GEMM_CASE(14)
#endif
#if GEMM_MR >= 15
    GEMM_CASE(15)
#endif
#if GEMM_MR >= 16
    GEMM_CASE(16)
#endif
    default: break;
    }
}

/* ------------------------------------------------------------------------------------
 * Packing
 * ---------------------------------------------------------------------------------- */

GEMM_INLINE const void *elem_ptr(const void *base, fokus_dtype dt, int64_t idx)
{
    return (const char *)base + idx * (dt == FOKUS_F32 ? 4 : 2);
}

/* In-register transpose of a 16x16 block: r[i] holds row i; afterwards r[j] holds
 * column j. Four rounds of 16 two-source shuffles (32-bit, 64-bit, then two 128-bit
 * lane rounds). */
GEMM_INLINE void transpose16(simde__m512 r[16])
{
    simde__m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = simde_mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = simde_mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* t[4g + 0..3] come from rows 4g..4g+3 */
    for (int g = 0; g < 4; g++) {
        simde__m512d t0 = simde_mm512_castps_pd(t[4 * g]), t1 = simde_mm512_castps_pd(t[4 * g + 1]);
        simde__m512d t2 = simde_mm512_castps_pd(t[4 * g + 2]), t3 = simde_mm512_castps_pd(t[4 * g + 3]);
        u[4 * g + 0] = simde_mm512_castpd_ps(simde_mm512_unpacklo_pd(t0, t2)); /* cols 0,4,8,12 */
        u[4 * g + 1] = simde_mm512_castpd_ps(simde_mm512_unpackhi_pd(t0, t2)); /* cols 1,5,9,13 */
        u[4 * g + 2] = simde_mm512_castpd_ps(simde_mm512_unpacklo_pd(t1, t3)); /* cols 2,6,10,14 */
        u[4 * g + 3] = simde_mm512_castpd_ps(simde_mm512_unpackhi_pd(t1, t3)); /* cols 3,7,11,15 */
    }
    /* u[4g + c] holds, per 128-bit lane L, column c + 4L of rows 4g..4g+3 */
    for (int c = 0; c < 4; c++) {
        simde__m512 v0 = simde_mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);     /* L0,L2 of rows 0-7 */
        simde__m512 v1 = simde_mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);     /* L1,L3 */
        simde__m512 v2 = simde_mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88); /* rows 8-15 */
        simde__m512 v3 = simde_mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
        r[c] = simde_mm512_shuffle_f32x4(v0, v2, 0x88);
        r[c + 8] = simde_mm512_shuffle_f32x4(v0, v2, 0xdd);
        r[c + 4] = simde_mm512_shuffle_f32x4(v1, v3, 0x88);
        r[c + 12] = simde_mm512_shuffle_f32x4(v1, v3, 0xdd);
    }
}

void fokus_gemm_pack_a(const float *A, int64_t lda, int64_t i0, int64_t mb, int64_t p0, int64_t kc,
                       float *dst)
{
    const int64_t kv = kc & ~(int64_t)15;
    for (int64_t ip = 0; ip < mb; ip += GEMM_MR) {
        const int rows = (int)(mb - ip < GEMM_MR ? mb - ip : GEMM_MR);
        const float *src = A + (i0 + ip) * lda + p0;
        float *d = dst + ip * kc; /* panel ip/MR starts at (ip/MR) * MR * kc */
        for (int64_t k = 0; k < kv; k += 16) {
            simde__m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < rows ? simde_mm512_loadu_ps(src + i * lda + k) : simde_mm512_setzero_ps();
            transpose16(r);
            /* lanes MR..15 are zero padding that the next store overwrites; the panel's
             * very last group is stored exactly, so nothing is written past the panel
             * (another worker may be packing the next one) */
            for (int i = 0; i < 16; i++) {
                if (k + i == kc - 1) {
                    float tmp[16];
                    simde_mm512_storeu_ps(tmp, r[i]);
                    memcpy(d + (k + i) * GEMM_MR, tmp, GEMM_MR * sizeof(float));
                } else {
                    simde_mm512_storeu_ps(d + (k + i) * GEMM_MR, r[i]);
                }
            }
        }
        for (int64_t k = kv; k < kc; k++)
            for (int i = 0; i < GEMM_MR; i++) d[k * GEMM_MR + i] = i < rows ? src[i * lda + k] : 0.0f;
    }
}

void fokus_gemm_pack_at(const float *A, int64_t lda, int64_t M, int64_t K, int64_t mp, float *At)
{
    const int64_t kv = K & ~(int64_t)15;
    for (int64_t m0 = 0; m0 < mp; m0 += 16) {
        const int rows = (int)(M - m0 < 0 ? 0 : M - m0 < 16 ? M - m0 : 16);
        const float *src = rows > 0 ? A + m0 * lda : A;
        for (int64_t k = 0; k < kv; k += 16) {
            simde__m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < rows ? simde_mm512_loadu_ps(src + i * lda + k) : simde_mm512_setzero_ps();
            transpose16(r);
            for (int i = 0; i < 16; i++) simde_mm512_store_ps(At + (k + i) * mp + m0, r[i]);
        }
        for (int64_t k = kv; k < K; k++)
            for (int i = 0; i < 16; i++) At[k * mp + m0 + i] = i < rows ? src[i * lda + k] : 0.0f;
    }
}

void fokus_gemm_store_ct(const float *Ct, int64_t mp, int64_t M, int64_t ncols, const float *bias, int accumulate,
                         float *C, int64_t ldc)
{
    for (int64_t n0 = 0; n0 < ncols; n0 += 16) {
        const int nc = (int)(ncols - n0 < 16 ? ncols - n0 : 16);
        float bv[16] = {0};
        if (bias) memcpy(bv, bias + n0, (size_t)nc * sizeof(float));
        const simde__m512 b = simde_mm512_loadu_ps(bv);
        for (int64_t m0 = 0; m0 < M; m0 += 16) {
            const int mr = (int)(M - m0 < 16 ? M - m0 : 16);
            simde__m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < nc ? simde_mm512_load_ps(Ct + (n0 + i) * mp + m0) : simde_mm512_setzero_ps();
            transpose16(r); /* r[j] = row m0 + j, columns n0.. */
            for (int j = 0; j < mr; j++) {
                float *c = C + (m0 + j) * ldc + n0;
                simde__m512 v = simde_mm512_add_ps(r[j], b);
                if (nc == 16) {
                    if (accumulate) v = simde_mm512_add_ps(v, simde_mm512_loadu_ps(c));
                    simde_mm512_storeu_ps(c, v);
                } else {
                    float t[16];
                    simde_mm512_storeu_ps(t, v);
                    for (int x = 0; x < nc; x++) c[x] = accumulate ? c[x] + t[x] : t[x];
                }
            }
        }
    }
}

#ifndef PACK_B_AHEAD
#define PACK_B_AHEAD 8
#endif

/* B is [K][ldb]: each k row of a panel is NR contiguous elements. Row by row: each
 * k row of the block (nb elements, all its full panels) is read as one run and
 * scattered into the panels, PACK_B_AHEAD rows ahead by prefetch (the hardware
 * prefetchers do not follow runs a whole row apart). Panel by panel instead (two lines
 * per row, each panel a separate pass down the rows) measured 2-9% slower overall at
 * 1024x1536x1536 and 2048^3 and 9-15% slower at M = 128 and 200 (N = 3072, K = 768;
 * 2 threads, Xeon with 48 KiB L1d): every row costs a new page and a wait on L3 for two
 * lines instead of a run of up to ten. (On the Zen 5 host, at M = 77, the panel order
 * had measured 5-8% faster; such few-row products now read f32 B in place, see
 * GEMM_DIRECT_M in gemm.c.) A ragged last panel is filled element by element. */
GEMM_INLINE void pack_b_n(const void *B, fokus_dtype dt, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                          int64_t nb, float *dst)
{
    const int64_t npanels = (nb + GEMM_NR - 1) / GEMM_NR, nfull = nb / GEMM_NR;
    const int esz = dt == FOKUS_F32 ? 4 : 2;
    const int64_t rowb = ldb * esz, span = nfull * GEMM_NR * esz;
    const char *src = (const char *)B + (p0 * ldb + j0) * esz;
    for (int64_t k = 0; k < kc; k++) {
        const char *r = src + k * rowb;
        if (k + PACK_B_AHEAD < kc)
            for (int64_t off = 0; off < span; off += 64) __builtin_prefetch(r + PACK_B_AHEAD * rowb + off, 0, 3);
        for (int64_t q = 0; q < nfull; q++)
            for (int j = 0; j < GEMM_NV; j++)
                simde_mm512_store_ps(dst + (q * kc + k) * GEMM_NR + 16 * j,
                                     gemm_load16(r + (q * GEMM_NR + 16 * j) * esz, dt));
    }
    for (int64_t q = nfull; q < npanels; q++) {
        const int64_t c0 = q * GEMM_NR;
        float *d = dst + q * GEMM_NR * kc;
        for (int64_t k = 0; k < kc; k++) {
            const int64_t row = (p0 + k) * ldb + j0;
            for (int c = 0; c < GEMM_NR; c++)
                d[k * GEMM_NR + c] = c0 + c < nb ? fokus_gemm_b_at(B, dt, row + c0 + c) : 0.0f;
        }
    }
}

/* B is [N][ldb] (Linear weights): op(B)[k][n] = B[n][k], so panels are built from
 * 16x16 blocks transposed in registers; the source is read as 16 sequential row
 * streams. While one group of 16 rows is transposed, the next group's rows are
 * prefetched, one cache line per row per block, about a group's work ahead. */
GEMM_INLINE void pack_b_t(const void *B, fokus_dtype dt, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                          int64_t nb, float *dst)
{
    const int64_t kv = kc & ~(int64_t)15;
    const int esz = dt == FOKUS_F32 ? 4 : 2;
    for (int64_t g0 = 0; g0 < nb + 15; g0 += 16) {
        if (g0 >= nb) break;
        const int rows = (int)(nb - g0 < 16 ? nb - g0 : 16);
        const int64_t q = g0 / GEMM_NR, cg = g0 % GEMM_NR;
        float *d = dst + q * GEMM_NR * kc + cg;
        const char *src = (const char *)B + ((j0 + g0) * ldb + p0) * esz;
        const int next_rows = (int)(nb - g0 - 16 < 16 ? nb - g0 - 16 : 16);
        const char *next = src + 16 * ldb * esz;
        for (int64_t k = 0; k < kv; k += 16) {
            simde__m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < rows ? gemm_load16(src + (i * ldb + k) * esz, dt) : simde_mm512_setzero_ps();
            if ((k * esz) % 64 == 0)
                for (int i = 0; i < next_rows; i++) __builtin_prefetch(next + (i * ldb + k) * esz, 0, 3);
            transpose16(r);
            for (int i = 0; i < 16; i++) simde_mm512_store_ps(d + (k + i) * GEMM_NR, r[i]);
        }
        for (int64_t k = kv; k < kc; k++)
            for (int i = 0; i < 16; i++)
                d[k * GEMM_NR + i] =
                    i < rows ? fokus_gemm_b_at(B, dt, (j0 + g0 + i) * ldb + p0 + k) : 0.0f;
    }
    /* zero the padding columns of a partial last panel past the last 16-row group */
    const int64_t filled = (nb + 15) & ~(int64_t)15;
    const int64_t padded = (nb + GEMM_NR - 1) / GEMM_NR * GEMM_NR;
    for (int64_t g0 = filled; g0 < padded; g0 += 16) {
        float *d = dst + (g0 / GEMM_NR) * GEMM_NR * kc + g0 % GEMM_NR;
        for (int64_t k = 0; k < kc; k++) simde_mm512_store_ps(d + k * GEMM_NR, simde_mm512_setzero_ps());
    }
}

void fokus_gemm_pack_b(const void *B, fokus_dtype dt, int b_trans, int64_t ldb, int64_t p0, int64_t kc,
                       int64_t j0, int64_t nb, float *dst)
{
    /* one instantiation per (layout, dtype) so the widening is resolved at compile time */
    if (b_trans) {
        if (dt == FOKUS_F16) pack_b_t(B, FOKUS_F16, ldb, p0, kc, j0, nb, dst);
        else if (dt == FOKUS_BF16) pack_b_t(B, FOKUS_BF16, ldb, p0, kc, j0, nb, dst);
        else pack_b_t(B, FOKUS_F32, ldb, p0, kc, j0, nb, dst);
    } else {
        if (dt == FOKUS_F16) pack_b_n(B, FOKUS_F16, ldb, p0, kc, j0, nb, dst);
        else if (dt == FOKUS_BF16) pack_b_n(B, FOKUS_BF16, ldb, p0, kc, j0, nb, dst);
        else pack_b_n(B, FOKUS_F32, ldb, p0, kc, j0, nb, dst);
    }
}

/* Any strides: element by element (widened exactly). Such views are rare (a select
 * of an interleaved tensor); this is still one pass over B, with no copy allocated. */
void fokus_gemm_pack_b_strided(const void *B, fokus_dtype dt, int64_t sk, int64_t sn, int64_t p0, int64_t kc,
                               int64_t j0, int64_t nb, float *dst)
{
    const int64_t npanels = (nb + GEMM_NR - 1) / GEMM_NR;
    for (int64_t q = 0; q < npanels; q++) {
        const int64_t c0 = q * GEMM_NR;
        const int cw = (int)(nb - c0 < GEMM_NR ? nb - c0 : GEMM_NR);
        float *d = dst + q * GEMM_NR * kc;
        for (int64_t k = 0; k < kc; k++) {
            const int64_t base = (p0 + k) * sk + (j0 + c0) * sn;
            for (int c = 0; c < GEMM_NR; c++) d[k * GEMM_NR + c] = c < cw ? fokus_gemm_b_at(B, dt, base + c * sn) : 0.0f;
        }
    }
}
