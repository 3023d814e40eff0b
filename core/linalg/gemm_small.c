/*
 * Products with few rows of A (timestep and adaLN MLPs at batch 1-2, pooled
 * projections), computed straight from B without packing; gemm.c sends M <= 8 here
 * for either layout of B.
 *
 * With few rows each element of B feeds only M FMAs, while packing it (a transpose for
 * the Linear layout) costs ~0.25-0.35 cycles per element: more than the arithmetic. So
 * B is streamed once from where it lies:
 *  - B [N,K] (b_trans): dot products. A group of 4 rows of B against 4 rows of A (or
 *    2 rows of B against up to 8 of A) keeps 16 vector accumulators over k, so every
 *    B vector is loaded and widened once; the 16 horizontal sums are done at once by
 *    a transposing reduction (45 shuffles/adds).
 *  - B [K,N]: rows of B are read as 64-column strips against 4 rows of A (M <= 4,
 *    16 vector accumulators) or 48-column strips against 8 rows (24), one broadcast
 *    of A per row and k, in bands of 16-32 rows of B so B is read near row order.
 * f16/bf16 are widened as they are loaded. A is copied once into zero-padded rows
 * (K rounded up to 16) so every k step is a full vector; only B's k tail (b_trans)
 * and column tail (not b_trans) go through a small zero-padded buffer.
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

#if defined(__GNUC__)
#define SMALL_INLINE static inline __attribute__((always_inline))
#else
#define SMALL_INLINE static inline
#endif

/* `count` (< 16) elements widened, the rest zero. */
SMALL_INLINE simde__m512 load_part(const void *B, fokus_dtype dt, int64_t idx, int64_t stride, int count)
{
    float tmp[16] = {0};
    for (int i = 0; i < count; i++) tmp[i] = fokus_gemm_b_at(B, dt, idx + i * stride);
    return simde_mm512_loadu_ps(tmp);
}

/* r lanes 4q..4q+3 = horizontal sums of v[4q..4q+3] */
SMALL_INLINE simde__m512 hsum16(const simde__m512 v[16])
{
    simde__m512 x[8], y[4];
    for (int i = 0; i < 8; i++)
        x[i] = simde_mm512_add_ps(simde_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                                  simde_mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) {
        simde__m512d a = simde_mm512_castps_pd(x[2 * i]), b = simde_mm512_castps_pd(x[2 * i + 1]);
        y[i] = simde_mm512_add_ps(simde_mm512_castpd_ps(simde_mm512_unpacklo_pd(a, b)),
                                  simde_mm512_castpd_ps(simde_mm512_unpackhi_pd(a, b)));
    }
    /* y[i], 128-bit lane L: partial sums of v[4i..4i+3] */
    simde__m512 z = simde_mm512_add_ps(simde_mm512_shuffle_f32x4(y[0], y[1], 0x88),
                                       simde_mm512_shuffle_f32x4(y[0], y[1], 0xdd));
    simde__m512 w = simde_mm512_add_ps(simde_mm512_shuffle_f32x4(y[2], y[3], 0x88),
                                       simde_mm512_shuffle_f32x4(y[2], y[3], 0xdd));
    return simde_mm512_add_ps(simde_mm512_shuffle_f32x4(z, w, 0x88), simde_mm512_shuffle_f32x4(z, w, 0xdd));
}

/* R rows of B x MC rows of A (R * MC = 16 accumulators): (4, 4) up to 4 rows of A,
 * (2, 8) up to 8, so B is loaded and widened once for all rows of A. */
SMALL_INLINE void small_t(const gemm_small_args *g, int64_t n0, int64_t n1, fokus_dtype dt, const int R,
                          const int MC)
{
    const int64_t K = g->K, kv = K & ~(int64_t)15, kp = g->kpad;
    const size_t esz = dt == FOKUS_F32 ? 4 : 2;
    for (int64_t n = n0; n < n1; n += R) {
        const int nr = (int)(n1 - n < R ? n1 - n : R);
        const char *brow[4];
        for (int r = 0; r < R; r++)
            brow[r] = (const char *)g->B + (size_t)((n + (r < nr ? r : 0)) * g->ldb) * esz;
        /* B's k tail, widened and zero-padded, once per group */
        simde__m512 btail[4];
        for (int r = 0; r < R; r++)
            btail[r] = K > kv ? load_part(brow[r], dt, kv, 1, (int)(K - kv)) : simde_mm512_setzero_ps();
        for (int64_t m = 0; m < g->M; m += MC) {
            const int mr = (int)(g->M - m < MC ? g->M - m : MC);
            const float *arow[8];
            for (int i = 0; i < MC; i++) arow[i] = g->Apad + (m + (i < mr ? i : 0)) * kp;
            simde__m512 acc[16];
            for (int i = 0; i < 16; i++) acc[i] = simde_mm512_setzero_ps();
            for (int64_t k = 0; k < kv; k += 16) {
                simde__m512 b[4];
                for (int r = 0; r < R; r++) b[r] = gemm_load16(brow[r] + (size_t)k * esz, dt);
                /* the next group's rows, a group ahead: a few sequential streams alone
                 * do not keep enough misses in flight to reach DRAM bandwidth */
                if (m == 0 && ((size_t)k * esz) % 64 == 0)
                    for (int r = 0; r < R; r++) __builtin_prefetch(brow[r] + (size_t)(R * g->ldb + k) * esz, 0, 3);
                for (int i = 0; i < MC; i++) {
                    simde__m512 a = simde_mm512_load_ps(arow[i] + k);
                    for (int r = 0; r < R; r++) acc[R * i + r] = simde_mm512_fmadd_ps(a, b[r], acc[R * i + r]);
                }
            }
            if (K > kv) {
                for (int i = 0; i < MC; i++) {
                    simde__m512 a = simde_mm512_load_ps(arow[i] + kv);
                    for (int r = 0; r < R; r++) acc[R * i + r] = simde_mm512_fmadd_ps(a, btail[r], acc[R * i + r]);
                }
            }
            /* lane R*i + r = C[m + i][n + r] */
            float sums[16];
            simde_mm512_storeu_ps(sums, hsum16(acc));
            for (int i = 0; i < mr; i++) {
                float *c = g->C + (m + i) * g->ldc + n;
                for (int r = 0; r < nr; r++) {
                    float v = sums[R * i + r];
                    if (g->bias) v += g->bias[n + r];
                    if (g->accumulate) v += c[r];
                    c[r] = v;
                }
            }
        }
    }
}

#ifndef SMALL_N_AHEAD
#define SMALL_N_AHEAD 8
#endif
#ifndef SMALL_N_V8
#define SMALL_N_V8 3
#endif
#ifndef SMALL_N_KB
#define SMALL_N_KB 32
#endif

/* V vectors of columns x MC rows of A (V * MC accumulators), used as (4, 4) up to 4
 * rows and (3, 8) up to 8. Without prefetch, narrow strips read too few bytes per row
 * of B to stream well (measured 30% slower than packing at M = 8); with the row
 * prefetch and the k bands below, (3, 8) measured 1.6-1.9x the packed path at M = 8
 * and (2, 8) ~10% below (3, 8). k bands: 16 rows at M <= 2, 32 above (measured at
 * (2, 6912, 1152) and (4, 3072, 768): 79 / 118-128 GFLOP/s against 49 / 113 for whole
 * strips down all of K). */
SMALL_INLINE void small_n(const gemm_small_args *g, int64_t n0, int64_t n1, fokus_dtype dt, const int V,
                          const int MC)
{
    const size_t esz = dt == FOKUS_F32 ? 4 : 2;
    const int64_t W = 16 * V;
    /* k bands of kb rows, all strips of a band before the next: B is read in
     * bands of rows (near row-major order) instead of one 64-column strip down all of K,
     * which DRAM serves poorly when B is not cached. Partial sums go through C. */
    const int64_t kb = g->M <= 2 ? SMALL_N_KB / 2 : SMALL_N_KB;
    for (int64_t k0 = 0; k0 < g->K; k0 += kb) {
        const int64_t k1 = g->K - k0 < kb ? g->K : k0 + kb;
        const int first = k0 == 0, last = k1 == g->K;
        for (int64_t n = n0; n < n1; n += W) {
            const int64_t w = n1 - n < W ? n1 - n : W;
            const int full = (int)(w / 16), part = (int)(w % 16);
            for (int64_t m = 0; m < g->M; m += MC) {
                const int mr = (int)(g->M - m < MC ? g->M - m : MC);
                simde__m512 acc[8][4];
                for (int i = 0; i < MC; i++)
                    for (int v = 0; v < V; v++) acc[i][v] = simde_mm512_setzero_ps();
                const float *arow[8];
                for (int i = 0; i < MC; i++) arow[i] = g->A + (m + (i < mr ? i : 0)) * g->lda;
                for (int64_t k = k0; k < k1; k++) {
                    const char *brow = (const char *)g->B + (size_t)(k * g->ldb + n) * esz;
                    /* SMALL_N_AHEAD rows ahead (into the next strip at the block's end):
                     * runs of a few lines a whole row apart are not followed by the
                     * hardware prefetchers */
                    if (m == 0) {
                        int64_t kk = k + SMALL_N_AHEAD, nn = n;
                        if (kk >= k1) kk -= k1 - k0, nn += W;
                        if (nn < n1)
                            for (int64_t off = 0; off < W * (int64_t)esz; off += 64)
                                __builtin_prefetch((const char *)g->B + (size_t)(kk * g->ldb + nn) * esz + off, 0, 3);
                    }
                    simde__m512 b[4];
                    if (w == W) {
                        for (int v = 0; v < V; v++) b[v] = gemm_load16(brow + (size_t)(16 * v) * esz, dt);
                    } else {
                        for (int v = 0; v < V; v++)
                            b[v] = v < full ? gemm_load16(brow + (size_t)(16 * v) * esz, dt)
                                 : v == full && part ? load_part(g->B, dt, k * g->ldb + n + 16 * v, 1, part)
                                                     : simde_mm512_setzero_ps();
                    }
                    for (int i = 0; i < MC; i++) {
                        simde__m512 a = simde_mm512_set1_ps(arow[i][k]);
                        for (int v = 0; v < V; v++) acc[i][v] = simde_mm512_fmadd_ps(a, b[v], acc[i][v]);
                    }
                }
                for (int i = 0; i < mr; i++) {
                    float *c = g->C + (m + i) * g->ldc + n;
                    float t[64];
                    for (int v = 0; v < V; v++) simde_mm512_storeu_ps(t + 16 * v, acc[i][v]);
                    for (int64_t x = 0; x < w; x++) {
                        float r = t[x];
                        if (last && g->bias) r += g->bias[n + x];
                        if (!first || g->accumulate) r += c[x];
                        c[x] = r;
                    }
                }
            }
        }
    }
}

void fokus_gemm_small(const gemm_small_args *g, int64_t n0, int64_t n1)
{
    /* one instantiation per (layout, dtype) */
    if (g->btrans && g->M <= 4) {
        if (g->bt == FOKUS_F16) small_t(g, n0, n1, FOKUS_F16, 4, 4);
        else if (g->bt == FOKUS_BF16) small_t(g, n0, n1, FOKUS_BF16, 4, 4);
        else small_t(g, n0, n1, FOKUS_F32, 4, 4);
    } else if (g->btrans) {
        if (g->bt == FOKUS_F16) small_t(g, n0, n1, FOKUS_F16, 2, 8);
        else if (g->bt == FOKUS_BF16) small_t(g, n0, n1, FOKUS_BF16, 2, 8);
        else small_t(g, n0, n1, FOKUS_F32, 2, 8);
    } else if (g->M <= 4) {
        if (g->bt == FOKUS_F16) small_n(g, n0, n1, FOKUS_F16, 4, 4);
        else if (g->bt == FOKUS_BF16) small_n(g, n0, n1, FOKUS_BF16, 4, 4);
        else small_n(g, n0, n1, FOKUS_F32, 4, 4);
    } else {
        if (g->bt == FOKUS_F16) small_n(g, n0, n1, FOKUS_F16, SMALL_N_V8, 8);
        else if (g->bt == FOKUS_BF16) small_n(g, n0, n1, FOKUS_BF16, SMALL_N_V8, 8);
        else small_n(g, n0, n1, FOKUS_F32, SMALL_N_V8, 8);
    }
}
