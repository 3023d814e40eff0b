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
 *   C: f32, row-major, ldc >= N; must not overlap A, B or bias. Columns past N of
 *      each row (up to ldc) are not touched.
 *   M, N, K >= 0 (K = 0 gives bias or zeros; M = 0 or N = 0 touches nothing, and then
 *   the pointers may be NULL).
 * Sums are f32 (FMA chains over k blocks of <= 384, then added into C), so each
 * element is within about K·2⁻²⁴·Σ|a·b| of the exact result.
 * Threads: the context's pool (columns are split between workers). ctx may be NULL:
 * one thread, and the packing buffers are allocated for the call. Packing buffers are
 * otherwise the context's scratch slots FOKUS_SCRATCH_GEMM_A/B, so do not call this
 * from inside a fokus_parallel task of the same context while another task may too.
 * Errors: FOKUS_EINVAL (negative size, lda/ldb/ldc too small, NULL operand, B dtype
 * not float), FOKUS_ERANGE (extent overflows int64), FOKUS_ENOMEM (scratch). */
fokus_status fokus_gemm(fokus_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb,
                        const float *bias, bool accumulate, float *C, int64_t ldc, fokus_error *err);

/* Double-precision reference of fokus_gemm (same contract; sums in double, one
 * rounding per element), for tests and benchmarks. Single-threaded and slow. */
fokus_status fokus_gemm_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                            const void *B, fokus_dtype b_dtype, bool b_trans, int64_t ldb,
                            const float *bias, bool accumulate, float *C, int64_t ldc,
                            fokus_error *err);

/* Tensor forms: new contiguous f32 outputs; inputs of any float dtype and strides.
 * matmul: a [..., M, K] · b [..., K, N] → [..., M, N]; the leading (batch) dims
 *   broadcast as in numpy (aligned from the right, size 1 stretches); 1-d operands are
 *   not promoted: both need >= 2 dims. b is used in place in its own dtype when each
 *   matrix is row- or column-contiguous (else copied, same dtype); a is used in place
 *   when f32 with unit-stride rows (else an f32 copy). When b is the same matrix for
 *   every batch entry and a's rows are evenly spaced, the batch is one taller GEMM.
 * linear: x [..., K] · wᵀ (+ b) with w [N, K] (f32/f16/bf16, used in place, also as a
 *   transposed or narrowed view) and b NULL or [N] (any float dtype) → [..., N]. x is
 *   used in place when f32 with evenly spaced unit-stride rows, else an f32 copy.
 * Errors: FOKUS_EINVAL with both shapes in the message (inner dims differ, batch dims
 * do not broadcast, wrong rank, non-float dtype); FOKUS_ENOMEM. On failure *out is
 * left unchanged. */
fokus_status fokus_matmul(fokus_ctx *ctx, const fokus_tensor *a, const fokus_tensor *b,
                          fokus_tensor *out, fokus_error *err);
fokus_status fokus_linear(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *w,
                          const fokus_tensor *b, fokus_tensor *out, fokus_error *err);

#ifdef __cplusplus
}
#endif

#endif
