/*
 * Internal interface between the GEMM driver (gemm.c) and its register-tile code
 * (gemm_kernel.c): the micro-kernel and the packing routines that lay operands out
 * the way the micro-kernel reads them. Not part of the public API.
 *
 * Packed layouts (all floats, 64-byte aligned buffers):
 *  - A block (rows i0.., k range of length kc): micro-panels of GEMM_MR rows; panel p
 *    holds kc groups of GEMM_MR floats, group k = A[i0 + p*MR + r][k] for r < MR
 *    (rows past M read as 0). The kernel broadcasts one float per row per k.
 *  - B block (k range of length kc, columns j0..): micro-panels of GEMM_NR columns;
 *    panel q holds kc rows of GEMM_NR floats, row k = op(B)[k][j0 + q*NR + c]
 *    (columns past N read as 0). The kernel loads GEMM_NR/16 vectors per k.
 */
#ifndef FOKUS_GEMM_KERNEL_H
#define FOKUS_GEMM_KERNEL_H

#include <stdint.h>
#include "linalg/fokus_linalg.h"

/* Register tile: MR rows of A times NR = 16*NV columns of B, MR*NV accumulators.
 * 14x32 uses 28 of the 32 zmm registers for accumulators, 2 for B, and folds the A
 * broadcast into the FMA's memory operand (see gemm_kernel.c for the measurements). */
#ifndef GEMM_MR
#define GEMM_MR 14
#endif
#ifndef GEMM_NV
#define GEMM_NV 2
#endif
#define GEMM_NR (16 * GEMM_NV)

/* Spare floats at the end of packed-A buffers (none needed: see fokus_gemm_pack_a). */
#define GEMM_PACK_SLACK 0

/* Where and how a micro-tile is stored. */
typedef struct gemm_store {
    float *c;            /* C + row*ldc + col of the tile's top-left element */
    int64_t ldc;
    int m, n;            /* valid rows (<= MR) and columns (<= NR) */
    const float *bias;   /* NULL or bias + col (n values) */
    int load_c;          /* 1: C += tile, 0: C = tile */
    int64_t bstride;     /* 0: B is a packed micro-panel; else B is read in place, f32 rows
                          * bstride floats apart (all NR columns valid) */
    const char *pf;      /* pf_lines cache lines from here are prefetched into L2 during
                          * the k loop, one every 8 k steps (the next A micro-panel);
                          * not when B is read in place */
    int pf_lines;
} gemm_store;

/* acc[m][NR] = sum_k apanel[k][m] * bpanel[k][:], then stored per `st`. */
void fokus_gemm_ukernel(int64_t kc, const float *apanel, const float *bpanel, const gemm_store *st);

/* Packs rows [i0, i0+mb) x cols [p0, p0+kc) of A (row-major, lda) into
 * ceil(mb/MR) micro-panels at dst (mb may end in a partial panel; its missing rows are 0).
 * Writes nothing outside those panels, so workers may pack neighbouring panels. */
void fokus_gemm_pack_a(const float *A, int64_t lda, int64_t i0, int64_t mb, int64_t p0, int64_t kc,
                       float *dst);

/* Packs op(B)[p0..p0+kc) x [j0..j0+nb) into ceil(nb/NR) micro-panels at dst, widening
 * f16/bf16 to f32. b_trans: B is [N][ldb] (op(B)[k][n] = B[n][k]), else [K][ldb]. */
void fokus_gemm_pack_b(const void *B, fokus_dtype dt, int b_trans, int64_t ldb, int64_t p0, int64_t kc,
                       int64_t j0, int64_t nb, float *dst);

/* Packs op(B)[p0..p0+kc) x [j0..j0+nb) like fokus_gemm_pack_b, for a B of any element
 * strides: op(B)[k][n] = B[k*sk + n*sn] (elements, may be negative). */
void fokus_gemm_pack_b_strided(const void *B, fokus_dtype dt, int64_t sk, int64_t sn, int64_t p0, int64_t kc,
                               int64_t j0, int64_t nb, float *dst);

/* fokus_gemm with op(B)[k][n] = B[k*sk + n*sn] for any element strides (a view with no
 * unit stride, as fokus_matmul/fokus_linear may be given), packed in place instead of
 * being copied first. Same contract as fokus_gemm otherwise; errors also when the
 * strided extent of B overflows. The few-row unpacked path is not used. */
fokus_status fokus_gemm_strided(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                const void *B, fokus_dtype b_dtype, int64_t sk, int64_t sn, const float *bias,
                                bool accumulate, float *C, int64_t ldc, fokus_error *err);

/* Few-row products without packing (gemm_small.c). Computes columns [n0, n1) of C for
 * all M rows. b_trans reads A from Apad: M rows of kpad floats (K rounded up to 16,
 * zero-padded, 64-byte aligned); otherwise A/lda directly. */
typedef struct gemm_small_args {
    int64_t M, K;
    const float *A;
    int64_t lda;
    const float *Apad;
    int64_t kpad;
    const void *B;
    fokus_dtype bt;
    int btrans;
    int64_t ldb;
    const float *bias;
    int accumulate;
    float *C;
    int64_t ldc;
} gemm_small_args;

void fokus_gemm_small(const gemm_small_args *g, int64_t n0, int64_t n1);

/* Products with 33..96 rows of A and an f32 B [N,K] go through gemm_rows.c (B read in
 * place, tiles of C^T computed from A^T packed by fokus_gemm_pack_at); fokus_gemm hands
 * them to fokus_gemm_group with one part. */
#define GEMM_ROWS_MIN 33
#define GEMM_ROWS_MAX 96

/* Below this many flops (2*M*N*K) a fork/join (a few us) costs more than it saves. */
#ifndef GEMM_PAR_FLOPS
#define GEMM_PAR_FLOPS 3.0e6
#endif

/* C[m][n] (+)= Ct[n][m] + bias[n] for m < M, n < ncols: a block of C^T (rows of mp
 * floats, 64-byte aligned, mp a multiple of 16) stored through 16x16 transposes. */
void fokus_gemm_store_ct(const float *Ct, int64_t mp, int64_t M, int64_t ncols, const float *bias, int accumulate,
                         float *C, int64_t ldc);

/* At[k][m] = A[m][k] for k < K, m < mp (0 for m >= M); mp a multiple of 16. */
void fokus_gemm_pack_at(const float *A, int64_t lda, int64_t M, int64_t K, int64_t mp, float *At);

/* Element `idx` of a B array of dtype dt, widened (exactly). For edges and the reference. */
static inline float fokus_gemm_b_at(const void *B, fokus_dtype dt, int64_t idx)
{
    switch (dt) {
    case FOKUS_F16: return fokus_f16_to_f32(((const uint16_t *)B)[idx]);
    case FOKUS_BF16: return fokus_bf16_to_f32(((const uint16_t *)B)[idx]);
    default: return ((const float *)B)[idx];
    }
}

#endif
