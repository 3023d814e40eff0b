/*
 * Products with a few dozen rows of A (33..96: CLIP's 77 tokens, a batch of short
 * sequences) against a large B, without packing B: gemm.c sends them here.
 *
 * Why: the packed path spends, per element of B, one pass of packing (a 16x16 register
 * transpose for the Linear layout, ~0.4 cycles in cache and more when the weights come
 * from L3, as they do in a model's forward pass) against only 2*M flops of use, ~2.4
 * cycles at M = 77. The packing was 15-30% of a CLIP forward (perf profile).
 *
 * Here the roles are swapped: the tile is computed transposed, C^T[n][m], with A^T
 * packed once per call (M is small: 77 x 768 floats, ~5 us) and B read where it lies.
 * Per k step the kernel loads V vectors of A^T (16 rows of A each) and broadcasts R
 * elements of B (one per output column), V*R FMAs into V*R accumulators:
 *     V = ceil(M/16):  3   4   5   6
 *     R:               8   6   5   4       (V*R + V + 1 <= 31 of the 32 zmm registers)
 * B [N,K] (Linear weights, b_trans) in f32 only, read as R sequential row streams.
 * The others stay on the packed path: B [K,N] read in place would touch a new line
 * per k step for R of its 16 floats, lines a whole row apart (measured 3-4x slower;
 * transposing each task's columns into rows first, 1.25-1.8x slower than packing);
 * f16/bf16 widened R rows at a time into an L1 buffer measured 4% slower in a CLIP-L
 * forward than packing, which widens as it transposes. Each tile runs
 * over all of K with its accumulators in registers (k blocks measured slower: the
 * partial sums and B's streams cost more than A^T's reads from L2) into a block of
 * C^T, which goes into C's rows through 16x16 transposes at the end of the task (bias
 * and accumulate applied there; element-wise stores of each tile cost 7% at K = 768).
 * Measured at 77x3072x768 and 77x768x3072 (1 thread, CPU time, B [N,K] f32): 10-23%
 * faster than pack + micro-kernel.
 */
#include <stdlib.h>
#include <string.h>

#include <simde/x86/avx512.h>

#include "gemm_kernel.h"

#ifndef ROWS_AHEAD
#define ROWS_AHEAD 8
#endif

#if defined(__GNUC__)
#define ROWS_INLINE static inline __attribute__((always_inline))
#else
#define ROWS_INLINE static inline
#endif

/* acc[r][v] = sum_k b[r*sr + k] * at[k][16v .. 16v+15]; tile stored as tmp[r][16V]
 * (rows of C^T). */
ROWS_INLINE void rows_tile(const int V, const int R, int64_t K, const float *restrict at, const float *restrict b,
                           int64_t sr, float *restrict tmp)
{
    simde__m512 acc[8][6];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = simde_mm512_setzero_ps();
    const float *bp[8];
    for (int r = 0; r < R; r++) bp[r] = b + r * sr;
    for (int64_t k = 0; k < K; k++) {
        /* A^T streams from L2 at V lines per k step (320 B at M = 77): the hardware
         * prefetchers alone left the loop waiting on it; ROWS_AHEAD steps ahead into L1
         * measured +6-8% (4, 8 and 12 alike; reading past the end of At is harmless) */
        for (int v = 0; v < V; v++) __builtin_prefetch(at + 16 * V * ROWS_AHEAD + 16 * v, 0, 3);
        simde__m512 x[6];
        for (int v = 0; v < V; v++) x[v] = simde_mm512_load_ps(at + 16 * v);
        for (int r = 0; r < R; r++) {
            simde__m512 w = simde_mm512_set1_ps(bp[r][k]);
            for (int v = 0; v < V; v++) acc[r][v] = simde_mm512_fmadd_ps(w, x[v], acc[r][v]);
        }
        at += 16 * V;
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) simde_mm512_store_ps(tmp + r * 16 * V + 16 * v, acc[r][v]);
}

#define ROWS_CASE(V, R, r) \
    case r: rows_tile(V, r, K, at, b, sr, tmp); break;

/* one instantiation per (V, rows in this tile) */
static void tile_dispatch(int V, int rr, int64_t K, const float *at, const float *b, int64_t sr, float *tmp)
{
    switch (V) {
    case 3:
        switch (rr) { ROWS_CASE(3, 8, 1) ROWS_CASE(3, 8, 2) ROWS_CASE(3, 8, 3) ROWS_CASE(3, 8, 4)
                      ROWS_CASE(3, 8, 5) ROWS_CASE(3, 8, 6) ROWS_CASE(3, 8, 7) ROWS_CASE(3, 8, 8) default: break; }
        break;
    case 4:
        switch (rr) { ROWS_CASE(4, 6, 1) ROWS_CASE(4, 6, 2) ROWS_CASE(4, 6, 3) ROWS_CASE(4, 6, 4)
                      ROWS_CASE(4, 6, 5) ROWS_CASE(4, 6, 6) default: break; }
        break;
    case 5:
        switch (rr) { ROWS_CASE(5, 5, 1) ROWS_CASE(5, 5, 2) ROWS_CASE(5, 5, 3) ROWS_CASE(5, 5, 4)
                      ROWS_CASE(5, 5, 5) default: break; }
        break;
    default:
        switch (rr) { ROWS_CASE(6, 4, 1) ROWS_CASE(6, 4, 2) ROWS_CASE(6, 4, 3) ROWS_CASE(6, 4, 4) default: break; }
        break;
    }
}

int fokus_gemm_rows_r(int64_t M)
{
    const int V = (int)((M + 15) / 16);
    return V <= 3 ? 8 : V == 4 ? 6 : V == 5 ? 5 : 4;
}

void fokus_gemm_rows(const gemm_rows_args *g, float *ct, int64_t n0, int64_t n1)
{
    const int V = (int)((g->M + 15) / 16), R = fokus_gemm_rows_r(g->M);
    const int64_t K = g->K, MP = 16 * (int64_t)V;
    for (int64_t n = n0; n < n1; n += R) {
        const int rr = (int)(n1 - n < R ? n1 - n : R);
        /* the tile's rows are rows n.. of C^T, contiguous in ct */
        tile_dispatch(V, rr, K, g->At, g->B + n * g->ldb, g->ldb, ct + (n - n0) * MP);
    }
    fokus_gemm_store_ct(ct, MP, g->M, n1 - n0, g->bias ? g->bias + n0 : NULL, g->accumulate, g->C + n0, g->ldc);
}
