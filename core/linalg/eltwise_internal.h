/*
 * The element-wise engine shared by eltwise.c, compare.c, copy.c and create.c
 * (internal to core/linalg; the public forms are in fokus_linalg.h).
 *
 * broadcast.c owns the iteration: the result shape (NumPy rules), operands expanded
 * to it with stride 0, dimensions coalesced, the element range split over the
 * context's workers, and each run of the innermost dimension cut into blocks of
 * FOKUS_EW_BLOCK elements. A kernel only ever sees contiguous float blocks: inputs
 * that are f32 with unit stride are passed in place; any other dtype or stride is
 * widened into a per-worker buffer, and a stride-0 (broadcast) input is spread over
 * one. The output block is the destination itself when it is f32 with unit stride,
 * else a buffer stored back with the destination's dtype and stride.
 */
#ifndef FOKUS_ELTWISE_INTERNAL_H
#define FOKUS_ELTWISE_INTERNAL_H

#include "linalg/fokus_linalg.h"

#define FOKUS_EW_BLOCK 1024
#define FOKUS_EW_MAXIN 3

/* out[0..n) = f(in[0][0..n), ...); out may be the same memory as an input (in-place),
 * never a partial overlap. n <= FOKUS_EW_BLOCK. `pos` is the flat row-major index of
 * out[0] in the result (for kernels that depend on position, e.g. rand). */
typedef void (*fokus_ew_kernel)(const void *arg, float *out, const float *const *in, int64_t n, int64_t pos);

/* Runs k over every element of `out` (dtype f32, f16, bf16 or bool; any strides with
 * distinct elements); in[i] are views already expanded to out's shape (stride 0 on
 * broadcast dims) of any dtype. Threaded on ctx's pool for large tensors. */
void fokus_ew_run(fokus_ctx *ctx, const fokus_tensor *out, int nin, const fokus_tensor *const *in,
                  fokus_ew_kernel k, const void *arg);

/* Everything around a kernel: operands (tensors or scalars) broadcast together (a
 * FOKUS_EINVAL naming `fn` when they do not), the result allocated from ctx (dst NULL,
 * into *out) or `dst` checked (dtype out_dt and the broadcast shape, distinct elements)
 * and written in place. dst may be one of the inputs (the same view: in place) or
 * overlap them in any other way (then the result goes through a temporary). */
fokus_status fokus_ew_apply(fokus_ctx *ctx, const char *fn, fokus_dtype out_dt, int nops, const fokus_operand *ops,
                            fokus_ew_kernel k, const void *arg, const fokus_tensor *dst, fokus_tensor *out,
                            fokus_error *err);

/* The same for a result of a given shape with no inputs (creation functions). */
fokus_status fokus_ew_create(fokus_ctx *ctx, const char *fn, fokus_dtype out_dt, int ndim, const int64_t *shape,
                             fokus_ew_kernel k, const void *arg, const fokus_tensor *dst, fokus_tensor *out,
                             fokus_error *err);

#endif
