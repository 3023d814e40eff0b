/*
 * fokus — attention, CLIP text encoding and diffusion transformer blocks in C11.
 *
 * This header is the manual of the core library (libfokus.a). It has no Lua in it:
 * a C program can link libfokus.a and use everything declared here.
 *
 * Conventions shared by every function:
 *  - Fallible functions return a fokus_status and, when `err` is not NULL, write a
 *    one-line message into it ("attend: k has head dim 32, q has 64"). They never abort
 *    on bad input; on failure every output argument is left empty/unchanged and owns
 *    nothing.
 *  - Tensors are row-major with element strides; shapes are written outermost first.
 *    Compute is float32; f16/bf16 inputs are widened exactly.
 *  - No global mutable state. Thread pools, scratch memory and settings live in a
 *    fokus_ctx owned by the caller; two contexts may be used from two threads at once.
 *    One context must not be used by two threads at the same time.
 */
#ifndef FOKUS_H
#define FOKUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FOKUS_VERSION "0.1.0"

/* ------------------------------------------------------------------------------------
 * Status codes and error messages
 * ---------------------------------------------------------------------------------- */

typedef enum fokus_status {
    FOKUS_OK = 0,
    FOKUS_EINVAL,      /* bad argument: wrong shape, dtype, option (a programmer error) */
    FOKUS_ENOMEM,      /* an allocation failed */
    FOKUS_EIO,         /* a file could not be opened, read, mapped or written */
    FOKUS_EFORMAT,     /* external data is malformed (corrupt file, bad JSON, ...) */
    FOKUS_ERANGE,      /* a value is outside what is representable or supported */
    FOKUS_EINTERRUPT   /* the caller asked to stop (fokus_ctx_interrupt) */
} fokus_status;

#define FOKUS_ERRMSG_MAX 512

typedef struct fokus_error {
    char msg[FOKUS_ERRMSG_MAX];
} fokus_error;

/* Formats a message into `err` (if not NULL) and returns `st`, so a failure site reads
 * `return fokus_fail(err, FOKUS_EINVAL, "attend: q must be 3-d or 4-d, got %d-d", n);` */
fokus_status fokus_fail(fokus_error *err, fokus_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefixes the message already in `err` with "prefix: " (used to add a path or a
 * function name on the way up). Returns `st`. */
fokus_status fokus_fail_prefix(fokus_error *err, fokus_status st, const char *prefix);

const char *fokus_status_name(fokus_status st);

/* ------------------------------------------------------------------------------------
 * Memory
 * ---------------------------------------------------------------------------------- */

/* 64-byte aligned allocation (cache line and AVX-512 width). NULL on failure or when
 * `bytes` overflows. fokus_free(NULL) is a no-op. */
void *fokus_alloc(size_t bytes);
void *fokus_calloc(size_t bytes);
void fokus_free(void *p);

/* ------------------------------------------------------------------------------------
 * Context: thread pool, per-worker scratch, interrupt flag
 * ---------------------------------------------------------------------------------- */

typedef struct fokus_ctx fokus_ctx;

/* Creates a context with `threads` workers (the calling thread counts as one);
 * threads <= 0 means the number of online cores. */
fokus_status fokus_ctx_new(fokus_ctx **out, int threads, fokus_error *err);
void fokus_ctx_free(fokus_ctx *ctx);

/* Number of workers, >= 1. */
int fokus_ctx_threads(const fokus_ctx *ctx);

/* Resizes the pool; n <= 0 means the online cores. Not callable from inside a task. */
fokus_status fokus_ctx_set_threads(fokus_ctx *ctx, int n, fokus_error *err);

/* Number of online cores of this machine (>= 1). */
int fokus_online_cores(void);

/* Scratch memory kept across calls, so hot paths do not allocate (a fresh 4 KiB page
 * costs ~12 us to touch). Each (slot, worker) pair owns one 64-byte aligned buffer that
 * only grows; its contents are undefined on return. worker is in [0, threads] where
 * index `threads` is a buffer shared by all workers (fill it before a parallel region,
 * read it inside). Slots let nested users (a model calling GEMM then attention) keep
 * separate buffers. Returns NULL on allocation failure.
 * Call it for every worker BEFORE fokus_parallel (tasks cannot fail); inside a task
 * only look the buffer up with the same or a smaller size. */
enum {
    FOKUS_SCRATCH_ATTN = 0,
    FOKUS_SCRATCH_ATTN2,
    FOKUS_SCRATCH_GEMM_A,
    FOKUS_SCRATCH_GEMM_B,
    FOKUS_SCRATCH_MODEL,
    FOKUS_SCRATCH_MODEL2,
    FOKUS_SCRATCH_TMP,
    FOKUS_SCRATCH_SLOTS
};
void *fokus_ctx_scratch(fokus_ctx *ctx, int slot, int worker, size_t bytes);

/* Runs fn(arg, begin, end, worker) over [0, n) in chunks of `grain` items, handed out
 * dynamically to the pool's workers; the calling thread takes part as worker 0 and the
 * call returns when every chunk is done. A NULL ctx, a 1-thread pool, n <= grain, or a
 * call made from inside a task runs everything inline as worker 0.
 * Tasks must not fail; reserve scratch before the call. */
typedef void (*fokus_range_fn)(void *arg, int64_t begin, int64_t end, int worker);
void fokus_parallel(fokus_ctx *ctx, int64_t n, int64_t grain, fokus_range_fn fn, void *arg);

/* Interrupt: a flag that long operations poll between units of work; they then return
 * FOKUS_EINTERRUPT. Set from any thread; cleared by fokus_ctx_interrupt(ctx, false). */
void fokus_ctx_interrupt(fokus_ctx *ctx, bool on);
bool fokus_ctx_interrupted(const fokus_ctx *ctx);

/* Monotonic wall-clock seconds. */
double fokus_clock(void);

/* ------------------------------------------------------------------------------------
 * Scalars: half-precision conversions (round-to-nearest-even; inf, nan and
 * subnormals preserved; nan stays nan)
 * ---------------------------------------------------------------------------------- */

float fokus_f16_to_f32(uint16_t h);
uint16_t fokus_f32_to_f16(float f);
float fokus_bf16_to_f32(uint16_t h);
uint16_t fokus_f32_to_bf16(float f);

/* Bulk conversions (vectorized). */
void fokus_f16_to_f32_n(float *dst, const uint16_t *src, size_t n);
void fokus_f32_to_f16_n(uint16_t *dst, const float *src, size_t n);
void fokus_bf16_to_f32_n(float *dst, const uint16_t *src, size_t n);
void fokus_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n);

/* ------------------------------------------------------------------------------------
 * Random numbers: a counter-based generator (Philox-4x32-10) whose stream depends only
 * on the seed, so the same seed gives the same numbers on every machine and build.
 * ---------------------------------------------------------------------------------- */

typedef struct fokus_rng {
    uint64_t seed;
    uint64_t counter;
} fokus_rng;

void fokus_rng_init(fokus_rng *r, uint64_t seed);
uint32_t fokus_rng_u32(fokus_rng *r);
double fokus_rng_uniform(fokus_rng *r);            /* in (0, 1) */
void fokus_rng_normal_n(fokus_rng *r, float *dst, size_t n);  /* N(0, 1) */

/* ------------------------------------------------------------------------------------
 * Tensors
 *
 * A fokus_tensor is a small value (a view): dtype, shape, element strides and a data
 * pointer into a refcounted fokus_storage. Views (reshape of contiguous data, permute,
 * narrow, select) share storage; each fokus_tensor that holds a storage owns one
 * reference and must be released with fokus_tensor_release. Copying the struct does
 * not add a reference: use fokus_tensor_retain for that.
 * A zero-initialised struct ({0}) is an empty, releasable tensor.
 * ---------------------------------------------------------------------------------- */

#define FOKUS_MAX_DIMS 8

typedef enum fokus_dtype {
    FOKUS_F32 = 0,
    FOKUS_F16,
    FOKUS_BF16,
    FOKUS_I32,
    FOKUS_I64,
    FOKUS_U8,
    FOKUS_BOOL,
    FOKUS_NDTYPES
} fokus_dtype;

size_t fokus_dtype_size(fokus_dtype dt);
const char *fokus_dtype_name(fokus_dtype dt);          /* "f32", "f16", ... */
bool fokus_dtype_parse(const char *name, fokus_dtype *out);
bool fokus_dtype_is_float(fokus_dtype dt);              /* f32, f16, bf16 */

typedef struct fokus_storage fokus_storage;

typedef struct fokus_tensor {
    fokus_storage *storage;           /* NULL for an empty struct */
    void *data;                       /* address of element (0, ..., 0) */
    fokus_dtype dtype;
    int ndim;                         /* 0 .. FOKUS_MAX_DIMS; 0 = a scalar with 1 element */
    int64_t shape[FOKUS_MAX_DIMS];
    int64_t stride[FOKUS_MAX_DIMS];   /* in elements, may be 0 (broadcast) */
} fokus_tensor;

/* Storage over external memory: `release(user)` is called when the last reference goes
 * (e.g. munmap of a safetensors file). Returns NULL on allocation failure, in which
 * case release is NOT called. */
fokus_storage *fokus_storage_wrap(void *data, size_t bytes, void (*release)(void *user), void *user);
void fokus_storage_retain(fokus_storage *s);
void fokus_storage_release(fokus_storage *s);
size_t fokus_storage_bytes(const fokus_storage *s);
void *fokus_storage_data(const fokus_storage *s);

/* New contiguous tensor, zero-filled. shape entries must be >= 0; numel and byte size
 * must not overflow. */
fokus_status fokus_tensor_new(fokus_tensor *out, fokus_dtype dt, int ndim, const int64_t *shape,
                              fokus_error *err);
/* Same, uninitialised contents (for outputs that are fully written). */
fokus_status fokus_tensor_empty(fokus_tensor *out, fokus_dtype dt, int ndim, const int64_t *shape,
                                fokus_error *err);
/* A view over storage `s` (adds a reference): contiguous, starting `byte_offset` in. */
fokus_status fokus_tensor_from_storage(fokus_tensor *out, fokus_storage *s, size_t byte_offset,
                                       fokus_dtype dt, int ndim, const int64_t *shape,
                                       fokus_error *err);

/* A tensor over caller memory (no storage, nothing to release): for handing scratch
 * buffers to functions that take tensors. strides NULL = contiguous. The caller keeps
 * `data` alive while the tensor is used. */
void fokus_tensor_borrow(fokus_tensor *out, void *data, fokus_dtype dt, int ndim, const int64_t *shape,
                         const int64_t *strides);

void fokus_tensor_retain(const fokus_tensor *t);
void fokus_tensor_release(fokus_tensor *t);   /* leaves *t zeroed; NULL-safe, idempotent */

int64_t fokus_tensor_numel(const fokus_tensor *t);
bool fokus_tensor_is_contiguous(const fokus_tensor *t);
bool fokus_tensor_same_shape(const fokus_tensor *a, const fokus_tensor *b);
/* "2x77x768" (or "scalar") into buf; returns buf. */
const char *fokus_shape_str(const fokus_tensor *t, char *buf, size_t size);

/* Views (share storage, copy nothing). Dimensions are 0-based here. */
/* reshape: a view when the strides allow it, otherwise a contiguous copy (as torch).
 * One entry of shape may be -1 (inferred). */
fokus_status fokus_tensor_reshape(fokus_tensor *out, const fokus_tensor *t, int ndim,
                                  const int64_t *shape, fokus_error *err);
fokus_status fokus_tensor_permute(fokus_tensor *out, const fokus_tensor *t, const int *perm,
                                  fokus_error *err);
fokus_status fokus_tensor_narrow(fokus_tensor *out, const fokus_tensor *t, int dim, int64_t start,
                                 int64_t length, fokus_error *err);
/* Removes dimension dim by fixing it at index i. */
fokus_status fokus_tensor_select(fokus_tensor *out, const fokus_tensor *t, int dim, int64_t i,
                                 fokus_error *err);
/* Broadcast view to `ndim`/`shape` (numpy rules, stride 0 on expanded dims). */
fokus_status fokus_tensor_expand(fokus_tensor *out, const fokus_tensor *t, int ndim,
                                 const int64_t *shape, fokus_error *err);

/* Copies (new storage). */
fokus_status fokus_tensor_contiguous(fokus_tensor *out, const fokus_tensor *t, fokus_error *err);
fokus_status fokus_tensor_clone(fokus_tensor *out, const fokus_tensor *t, fokus_error *err);
/* Conversion with round-to-nearest-even for f16/bf16; float -> int truncates toward 0
 * and fails with FOKUS_ERANGE on nan/inf/out of range; anything -> bool is (x != 0). */
fokus_status fokus_tensor_to(fokus_tensor *out, const fokus_tensor *t, fokus_dtype dt,
                             fokus_error *err);
/* A contiguous f32 tensor with the values of t: t itself (retained) when it already is
 * one, else a converted copy. The standard way for kernels to accept any float dtype. */
fokus_status fokus_tensor_f32(fokus_tensor *out, const fokus_tensor *t, fokus_error *err);
/* dst and src same shape (any dtypes, any strides): dst[...] = src[...] converted. */
fokus_status fokus_tensor_copy(fokus_tensor *dst, const fokus_tensor *src, fokus_error *err);

/* Element access by flat row-major index (slow; for bindings and tests). */
double fokus_tensor_get(const fokus_tensor *t, int64_t flat_index);
int64_t fokus_tensor_get_i64(const fokus_tensor *t, int64_t flat_index);
void fokus_tensor_set(fokus_tensor *t, int64_t flat_index, double v);

/* Fills a float tensor with N(0,1) samples from `seed`, in row-major order. */
fokus_status fokus_tensor_randn(fokus_tensor *t, uint64_t seed, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * safetensors files
 * ---------------------------------------------------------------------------------- */

typedef struct fokus_st_entry {
    char *name;
    fokus_tensor tensor;
} fokus_st_entry;

typedef struct fokus_st_meta {
    char *key;
    char *value;
} fokus_st_meta;

typedef struct fokus_st_file {
    fokus_st_entry *entries;   /* in file order of data offsets */
    size_t n_entries;
    fokus_st_meta *meta;       /* the __metadata__ map (string values only) */
    size_t n_meta;
} fokus_st_file;

/* Loads a .safetensors file. The file is untrusted: the header length, the JSON, every
 * dtype, shape and data_offsets pair are validated (inside the data area, matching
 * numel * dtype size, not overlapping) before use. The data is memory-mapped; tensors
 * whose offset is aligned to their dtype view the mapping directly (zero-copy) and keep
 * it alive; the rest are copied. Errors: FOKUS_EIO, FOKUS_EFORMAT with "reason" (the
 * caller adds the path). */
fokus_status fokus_st_load(const char *path, fokus_st_file *out, fokus_error *err);
void fokus_st_free(fokus_st_file *f);
const fokus_tensor *fokus_st_find(const fokus_st_file *f, const char *name);

/* Writes tensors (any strides; written contiguous) and string metadata atomically:
 * a temporary file in the same directory, fsync, then rename. */
fokus_status fokus_st_save(const char *path, const char *const *names, const fokus_tensor *tensors,
                           size_t n, const char *const *meta_keys, const char *const *meta_values,
                           size_t n_meta, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Attention
 * ---------------------------------------------------------------------------------- */

typedef enum fokus_causal {
    FOKUS_CAUSAL_NONE = 0,
    FOKUS_CAUSAL_TOP_LEFT,      /* key j visible to query i iff j <= i */
    FOKUS_CAUSAL_BOTTOM_RIGHT   /* iff j <= i + Nk - Nq */
} fokus_causal;

typedef struct fokus_attend_opts {
    double scale;               /* 0 = default 1/sqrt(d) */
    fokus_causal causal;
    const fokus_tensor *bias;   /* NULL or float, broadcastable to [B, H, Nq, Nk]; may hold -inf */
    const fokus_tensor *mask;   /* NULL or bool/u8, broadcastable to [B, H, Nq, Nk]; true = attend */
    bool want_lse;
    bool want_probs;
} fokus_attend_opts;

/* softmax(scale * q k^T + bias, masked) v, computed flash-style: tiles of q against
 * tiles of k/v with an online softmax; memory O(N d), never B*H*Nq*Nk (unless probs
 * are asked for).
 *   q [H, Nq, d] or [B, H, Nq, d]; k [.., Hkv, Nk, d]; v [.., Hkv, Nk, dv]; q, k and v
 *   have the same rank and the same B; H % Hkv == 0, query head h reads kv head
 *   h / (H / Hkv); 1 <= d, dv <= 256; Nq, Nk <= 2^30 (0 is allowed).
 *   Any float dtype and strides (f16/bf16 widened to f32; K/V that are not f32 rows
 *   with unit stride are copied once per call into the context's scratch).
 *   bias: f32/f16/bf16; mask: bool or u8 (nonzero = attend). Both broadcast to
 *   [B, H, Nq, Nk] (or [H, Nq, Nk] for 3-d q) by numpy rules, read through stride-0
 *   views; extra leading dims must be 1.
 * Outputs (new f32 tensors): out [.., H, Nq, dv]; lse [.., H, Nq] (natural log of the
 * sum of exp of the final logits) when opts->want_lse; probs [.., H, Nq, Nk] (0 where
 * masked) when opts->want_probs. A query row with no visible key gives out 0, lse -inf,
 * probs 0. lse/probs may be NULL when not wanted. opts NULL = defaults.
 * Accuracy: float32 accumulation with a vector exp2 of relative error <= 2.5e-7;
 * weights below 2^-125 of the row maximum count as 0. Against the double reference
 * max|err| / max|ref| is ~1e-7..6e-7 on the attention oracles, 5.7e-6 at logits of
 * +-100; on random shapes below 2e-5 at ordinary logits and up to ~6e-5 at logits
 * of ~40 with d = 256 (float32 rounding of the logits themselves; the scalar path
 * shows the same).
 * Threads: work items (batch, head, block of <= 64 queries) on ctx's pool; ctx NULL
 * runs on the calling thread. Scratch lives in ctx (slots FOKUS_SCRATCH_ATTN and
 * FOKUS_SCRATCH_ATTN2), so repeated calls do not allocate beyond their outputs.
 * Errors: FOKUS_EINVAL (shapes, dtypes, options: "attend: k has head dim 32, q has
 * 64"), FOKUS_ENOMEM, FOKUS_EINTERRUPT when ctx's interrupt flag is set. */
fokus_status fokus_attend(fokus_ctx *ctx, const fokus_tensor *q, const fokus_tensor *k,
                          const fokus_tensor *v, const fokus_attend_opts *opts, fokus_tensor *out,
                          fokus_tensor *lse, fokus_tensor *probs, fokus_error *err);

/* fokus_attend writing into the caller's `out`: an f32 tensor of shape
 * [.., H, Nq, dv] with any (non-negative, non-broadcast) strides, e.g. a [B, H, N, dh]
 * view of a [B, N, H*dh] buffer, so the heads come out merged without a copy. out must
 * not overlap q, k or v. lse/probs are new tensors as above. On failure out is left
 * unchanged, except after FOKUS_EINTERRUPT, when its contents are unspecified. */
fokus_status fokus_attend_into(fokus_ctx *ctx, const fokus_tensor *q, const fokus_tensor *k,
                               const fokus_tensor *v, const fokus_attend_opts *opts, fokus_tensor *out,
                               fokus_tensor *lse, fokus_tensor *probs, fokus_error *err);

/* Naive double-precision reference of fokus_attend (same contract, materialises the
 * logits row by row). For tests and benchmarks. */
fokus_status fokus_attend_ref(const fokus_tensor *q, const fokus_tensor *k, const fokus_tensor *v,
                              const fokus_attend_opts *opts, fokus_tensor *out, fokus_tensor *lse,
                              fokus_tensor *probs, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Model building blocks (float32 rows; x and y may be the same buffer)
 * ---------------------------------------------------------------------------------- */

typedef enum fokus_act {
    FOKUS_ACT_NONE = 0,
    FOKUS_ACT_QUICK_GELU,   /* x * sigmoid(1.702 x)   (OpenAI CLIP) */
    FOKUS_ACT_GELU,         /* 0.5 x (1 + erf(x / sqrt 2))   (OpenCLIP ViT-H/bigG) */
    FOKUS_ACT_GELU_TANH,    /* tanh approximation   (DiT, MMDiT) */
    FOKUS_ACT_SILU          /* x * sigmoid(x) */
} fokus_act;

const char *fokus_act_name(fokus_act act);
/* Accepts HF's names too ("gelu_pytorch_tanh", "gelu_new", "swish"). */
bool fokus_act_parse(const char *name, fokus_act *out);

/* LayerNorm over rows of n floats: y = (x - mean) / sqrt(var + eps) * gamma + beta, with
 * the biased variance; gamma/beta NULL = no affine. ldx/ldy are row strides. */
void fokus_layernorm(fokus_ctx *ctx, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows,
                     int64_t n, const float *gamma, const float *beta, float eps);
/* RMSNorm: y = x / sqrt(mean(x^2) + eps) * gamma (gamma may be NULL). */
void fokus_rmsnorm(fokus_ctx *ctx, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows,
                   int64_t n, const float *gamma, float eps);
/* In-place activation over n contiguous floats. */
void fokus_activate(fokus_ctx *ctx, float *x, int64_t n, fokus_act act);
/* Row `row` of a 2-d float table (any float dtype, e.g. an f16 embedding) as f32. */
fokus_status fokus_rows_f32(float *dst, const fokus_tensor *table, int64_t row, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Images: attention maps as PNG heat maps
 * ---------------------------------------------------------------------------------- */

typedef struct fokus_heatmap_opts {
    int cell;                        /* pixels per map cell; <= 0: about 512 px a side */
    double vmin, vmax;               /* colour range; NAN: the map's finite min / max */
    const char *colormap;            /* "magma" (default), "viridis", "gray" */
    const char *const *row_labels;   /* NULL or one label per row (ASCII shown; others '?') */
    size_t n_row_labels;
    const char *const *col_labels;   /* NULL or one per column, drawn vertically on top */
    size_t n_col_labels;
} fokus_heatmap_opts;

/* Colours a 2-d float map [rows, cols] into a new u8 image [H, W, 3]. Labels are drawn
 * when cells are at least 8 px. opts may be NULL. */
fokus_status fokus_heatmap(const fokus_tensor *map, const fokus_heatmap_opts *opts, fokus_tensor *img,
                           fokus_error *err);

/* Writes a u8 image [H, W] or [H, W, C] (C = 1..4) as PNG, atomically. */
fokus_status fokus_png_save(const char *path, const fokus_tensor *img, fokus_error *err);

#ifdef __cplusplus
}
#endif

/* The other parts of the core. */
#include "fokus_bpe.h"
#include "fokus_prompt.h"
#include "fokus_gemm.h"
#include "fokus_clip.h"

#endif /* FOKUS_H */
