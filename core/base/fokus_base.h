/*
 * fokus base: status codes, memory, the context (thread pool, scratch), half and
 * random numbers, tensors and safetensors files. Uses nothing else of the
 * core; every other part of it builds on this.
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
#ifndef FOKUS_BASE_H
#define FOKUS_BASE_H

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
 * Caching allocator (one per context; see fokus_ctx_allocator)
 *
 * Tensor storage and scratch come from here so that a loop in steady state touches no
 * fresh pages (first touch of a 4 KiB page costs ~10 us). Freed blocks are kept in size
 * classes and handed out again to requests of the same class: multiples of 64 bytes up
 * to 1 KiB, then eight classes per power of two (a block is at most 1/8 larger than
 * asked). Blocks are 64-byte aligned; from 128 KiB they are mapped with mmap (so
 * returning one to the system unmaps it).
 * The cache is bounded by a byte limit: past it, the least recently freed blocks go
 * back to the system; a block larger than the limit is never kept.
 * Thread-safe (one mutex): any thread may allocate and free, e.g. storage released by
 * another thread or the pool's workers.
 * Refcounted: the creator holds one reference; fokus_storage blocks taken from it hold
 * one each, so a tensor may outlive the context whose allocator made it. The last
 * release frees the cache and the allocator.
 * ---------------------------------------------------------------------------------- */

typedef struct fokus_allocator fokus_allocator;

typedef struct fokus_memstats {
    size_t live;      /* bytes in blocks handed out and not yet freed (class sizes) */
    size_t cached;    /* bytes in freed blocks kept for reuse */
    size_t peak;      /* highest `live` since creation or fokus_allocator_reset_peak */
    size_t limit;     /* the cache bound */
    uint64_t allocs;  /* successful allocations */
    uint64_t reuses;  /* allocations served from the cache */
    uint64_t total;   /* bytes handed out since creation (for pacing a garbage collector) */
} fokus_memstats;

/* Default cache bound of a context's allocator. */
#define FOKUS_CACHE_LIMIT_DEFAULT ((size_t)1 << 30)

fokus_status fokus_allocator_new(fokus_allocator **out, size_t limit, fokus_error *err);
void fokus_allocator_retain(fokus_allocator *a);
void fokus_allocator_release(fokus_allocator *a);   /* NULL-safe */

/* A 64-byte aligned block of at least `bytes`; zero-filled when `zero`. NULL when the
 * system refuses (after the cache was given back and the request retried once). With
 * a NULL allocator: fokus_alloc / fokus_calloc. */
void *fokus_allocator_alloc(fokus_allocator *a, size_t bytes, bool zero);
/* Returns a block; `bytes` is the size it was allocated with (NULL p: no-op). With a
 * NULL allocator: fokus_free. */
void fokus_allocator_free(fokus_allocator *a, void *p, size_t bytes);

/* hold = true queues the blocks freed from then on instead of caching them; hold =
 * false caches the queue in reverse order of freeing, so that the block freed first
 * is handed out first. For frees that arrive newest first, as Lua's collector runs
 * finalizers (reverse order of creation): then the next request gets the youngest
 * dead block, the one most likely still in the CPU's caches, not the oldest. */
void fokus_allocator_hold_frees(fokus_allocator *a, bool hold);
/* Sets the cache bound (evicting down to it at once); 0 caches nothing. */
void fokus_allocator_set_limit(fokus_allocator *a, size_t limit);
/* Returns every cached block to the system; live blocks are untouched. */
void fokus_allocator_trim(fokus_allocator *a);
void fokus_allocator_reset_peak(fokus_allocator *a);
void fokus_allocator_stats(fokus_allocator *a, fokus_memstats *s);  /* zeros for NULL */
/* The size a request of `bytes` is rounded to (0 when too large to represent). */
size_t fokus_allocator_class_size(size_t bytes);

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
/* The worker index of the calling thread when it runs a task of ctx's pool (a nested
 * call, which fokus_parallel runs inline), else -1. Nested callers must not use the
 * shared scratch (index `threads`) or worker 0's: other workers may be using them. */
int fokus_ctx_task_worker(const fokus_ctx *ctx);

/* The context's caching allocator (cache bound FOKUS_CACHE_LIMIT_DEFAULT), from which
 * its scratch and the tensors of the *_ctx functions come. Borrowed: retain it to keep
 * it past fokus_ctx_free. NULL for a NULL ctx. */
fokus_allocator *fokus_ctx_allocator(fokus_ctx *ctx);

/* Gives the context's scratch buffers back to its allocator and the allocator's cache
 * back to the system (e.g. between two models). Not callable while an operation runs
 * on ctx. */
void fokus_ctx_trim(fokus_ctx *ctx);

/* Resizes the pool; n <= 0 means the online cores. Not callable from inside a task. */
fokus_status fokus_ctx_set_threads(fokus_ctx *ctx, int n, fokus_error *err);

/* Number of online cores of this machine (>= 1). */
int fokus_online_cores(void);

/* Scratch memory kept across calls, so hot paths do not allocate (a fresh 4 KiB page
 * costs ~10 us to touch). Each (slot, worker) pair owns one 64-byte aligned buffer that
 * only grows (blocks come from and go back to the context's allocator, so a grown
 * buffer's old block serves the next tensor of its size); its contents are undefined
 * on return. worker is in [0, threads] where
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
/* The next n 32-bit words of the stream (word i is word i & 3 of Philox block i >> 2,
 * the words fokus_rng_u32 returns one by one; each block is computed once). Set
 * r->counter to start at any word. */
void fokus_rng_u32_n(fokus_rng *r, uint32_t *dst, size_t n);

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
/* The same two with storage from ctx's caching allocator (fokus_ctx_allocator): what
 * every function that takes a context should use for the tensors it returns or
 * uses for a while, so a loop reuses blocks instead of faulting in fresh pages. The
 * storage holds a reference to the allocator, so the tensor may outlive ctx. ctx NULL
 * behaves as the plain forms. */
fokus_status fokus_tensor_new_ctx(fokus_ctx *ctx, fokus_tensor *out, fokus_dtype dt, int ndim,
                                  const int64_t *shape, fokus_error *err);
fokus_status fokus_tensor_empty_ctx(fokus_ctx *ctx, fokus_tensor *out, fokus_dtype dt, int ndim,
                                    const int64_t *shape, fokus_error *err);
/* An uninitialized tensor with storage from allocator `a` (NULL: as fokus_tensor_empty),
 * which the storage holds a reference to: for memory whose owner is not a context,
 * such as a model's private copy of its weights. */
fokus_status fokus_tensor_empty_alloc(fokus_allocator *a, fokus_tensor *out, fokus_dtype dt, int ndim,
                                      const int64_t *shape, fokus_error *err);
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
/* Same; a copy, when one is needed, comes from ctx's allocator. */
fokus_status fokus_tensor_reshape_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t, int ndim,
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

/* More views (view.c), dims 0-based, negative counting from the end (-1 = last):
 * squeeze: without dimension dim when its size is 1 (else the same shape, as torch);
 *   all = true drops every size-1 dim (dim ignored).
 * unsqueeze: a new size-1 dim at position dim (0..ndim; -1 appends).
 * slice: elements start, start + step, ... below stop (0 <= start <= stop <= size,
 *   step >= 1) of dimension dim; the stride along dim is multiplied by step. */
fokus_status fokus_tensor_squeeze(fokus_tensor *out, const fokus_tensor *t, int dim, bool all, fokus_error *err);
fokus_status fokus_tensor_unsqueeze(fokus_tensor *out, const fokus_tensor *t, int dim, fokus_error *err);
fokus_status fokus_tensor_slice(fokus_tensor *out, const fokus_tensor *t, int dim, int64_t start, int64_t stop,
                                int64_t step, fokus_error *err);

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
/* The copies above with storage from ctx's allocator (ctx NULL: the plain forms). */
fokus_status fokus_tensor_contiguous_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t,
                                         fokus_error *err);
fokus_status fokus_tensor_clone_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t, fokus_error *err);
fokus_status fokus_tensor_to_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t, fokus_dtype dt,
                                 fokus_error *err);
fokus_status fokus_tensor_f32_ctx(fokus_ctx *ctx, fokus_tensor *out, const fokus_tensor *t, fokus_error *err);
/* dst and src same shape (any dtypes, any strides): dst[...] = src[...] converted. */
fokus_status fokus_tensor_copy(fokus_tensor *dst, const fokus_tensor *src, fokus_error *err);
/* Sets every element of t (any dtype and strides) to v. FOKUS_ERANGE when v is not a
 * value of an integer dtype (fraction, out of range, nan). */
fokus_status fokus_tensor_fill(fokus_tensor *t, double v, fokus_error *err);
/* Whether the byte ranges spanned by two views intersect (conservative: interleaved
 * views of one buffer count as overlapping). */
bool fokus_tensor_overlaps(const fokus_tensor *a, const fokus_tensor *b);

/* ------------------------------------------------------------------------------------
 * Destinations: the `out` contract
 *
 * Every function that returns a new tensor has a form that writes into a tensor the
 * caller gives (`*_into`, or `opts.out` in Lua). That tensor must have exactly the
 * result's dtype and shape, any strides as long as its elements are distinct (no
 * stride 0 on a dim of size > 1, e.g. a transposed or narrowed view is fine, an
 * expanded one is not), and must not overlap any input: writing in place is an error
 * (FOKUS_EINVAL), never silently wrong. Contiguous destinations are written directly;
 * kernels that handle strides (attention) write strided ones directly too; the others
 * compute into a block of ctx's allocator and copy.
 * ---------------------------------------------------------------------------------- */

/* The checks above, with messages naming `fn`, the expected and the given dtype and
 * shape ("matmul: out must be f32 2x3, got f32 3x2"). inputs may hold NULLs. */
fokus_status fokus_out_check(const char *fn, const fokus_tensor *dst, fokus_dtype dt, int ndim,
                             const int64_t *shape, const fokus_tensor *const *inputs, int n_inputs,
                             fokus_error *err);
/* How a function implements both forms:
 *   fokus_tensor res;
 *   st = fokus_out_begin(ctx, "fn", dst, FOKUS_F32, nd, shape, inputs, n, &res, err);
 *   ... write the result into res (contiguous) ...
 *   fokus_out_finish(dst, &res, out);
 * dst NULL: res is a new tensor from ctx and finish moves it to *out. Otherwise dst
 * is checked (fokus_out_check) and res is dst itself when contiguous, else a
 * temporary that finish copies into dst and releases (out is then unused). On an
 * error after begin, release res. */
fokus_status fokus_out_begin(fokus_ctx *ctx, const char *fn, const fokus_tensor *dst, fokus_dtype dt, int ndim,
                             const int64_t *shape, const fokus_tensor *const *inputs, int n_inputs,
                             fokus_tensor *res, fokus_error *err);
void fokus_out_finish(const fokus_tensor *dst, fokus_tensor *res, fokus_tensor *out);

/* Concatenation along dimension `dim` (0-based) into a new contiguous tensor of the
 * first one's dtype: all have the same rank and the same sizes except along `dim`;
 * float dtypes may mix (converted), other dtypes must match. */
fokus_status fokus_tensor_cat(fokus_tensor *out, const fokus_tensor *const *ts, size_t n, int dim,
                              fokus_error *err);

/* The same (ctx's allocator for a new result) with a destination: dst NULL gives a new
 * tensor in *out; else the result goes into dst (fokus_out_check's contract: the first
 * tensor's dtype, no overlap with any input) and *out is untouched. */
fokus_status fokus_tensor_cat_ctx(fokus_ctx *ctx, const fokus_tensor *const *ts, size_t n, int dim,
                                  const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);
/* Stacking along a new dimension `dim` (0..ndim): all tensors have the same shape;
 * dtypes as for cat; dst / out as fokus_tensor_cat_ctx. */
fokus_status fokus_tensor_stack_ctx(fokus_ctx *ctx, const fokus_tensor *const *ts, size_t n, int dim,
                                    const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);

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


#ifdef __cplusplus
}
#endif

#endif /* FOKUS_BASE_H */
