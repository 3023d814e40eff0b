/*
 * Dense matrix products (part of the fokus core; included by fokus.h): a packed,
 * cache-blocked SGEMM with a SIMD micro-kernel, threaded on the context's pool. Every
 * linear layer of the models goes through it.
 */
#ifndef FOKUS_GEMM_H
#define FOKUS_GEMM_H

#include "fokus.h"

#ifdef __cplusplus
extern "C" {
#endif

/* C[M,N] = A[M,K] · op(B) (+ bias[N] broadcast over rows) (+ C when accumulate).
 *   A: f32, row-major with leading dimension lda (>= K).
 *   B: f32, f16 or bf16 (b_dtype). b_trans = false: B is [K,N] with row stride ldb
 *      (>= N), as in a·b. b_trans = true: B is [N,K] with row stride ldb (>= K), the
 *      PyTorch Linear weight layout, so C = A·Bᵀ. f16/bf16 are widened while packing,
 *      so no f32 copy of B is ever made.
 *   bias: NULL or N f32 values. accumulate: C += result instead of C = result.
 *   M, N, K >= 0 (K = 0 gives bias or zeros). Scratch comes from the context. */
fokus_status fokus_gemm(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb,
                        const float *bias, bool accumulate, float *C, int64_t ldc, fokus_error *err);

/* Double-precision reference of fokus_gemm (same contract), for tests and benchmarks. */
fokus_status fokus_gemm_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                            const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb,
                            const float *bias, bool accumulate, float *C, int64_t ldc,
                            fokus_error *err);

/* Tensor forms (new f32 outputs; inputs any strides and float dtypes).
 * matmul: a [..., M, K] · b [..., K, N] → [..., M, N], leading dims broadcast (numpy);
 *   1-d operands are not promoted: both need >= 2 dims.
 * linear: x [..., K] · wᵀ (+ b) with w [N, K] (f32/f16/bf16, used in place) and b [N]
 *   → [..., N]. */
fokus_status fokus_matmul(fokus_ctx *ctx, const fokus_tensor *a, const fokus_tensor *b,
                          fokus_tensor *out, fokus_error *err);
fokus_status fokus_linear(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *w,
                          const fokus_tensor *b, fokus_tensor *out, fokus_error *err);

#ifdef __cplusplus
}
#endif

#endif
