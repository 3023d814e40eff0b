/* Helpers shared by the diffusion transformers of core/models (DiT, MMDiT), not part of
 * the public API (the library is built with hidden visibility):
 *   embed.c   patchify / unpatchify, finiteness check of inputs (the public fixed
 *             tables are declared in fokus_dit.h)
 *   adaln.c   adaLN modulation, gated residual adds, SiLU of the conditioning
 *   weights.c named weights under a prefix: lookup, shape checks, family guess, and
 *             the GEMM over a checkpoint matrix used in place
 *   clip_tiny.c the seeded random-weight builder of the *.tiny models (also CLIP's)
 *
 * Buffers are float32 and row-major. "rows" are tokens of all batch entries stacked:
 * row b*tokens + i is token i of batch entry b; per-batch vectors (shift, scale, gate)
 * are rows of a modulation output [batch, k*D] with row stride ldmod, so the j-th
 * chunk of adaLN_modulation's output is at mod + j*D with ldmod = k*D. */
#ifndef FOKUS_MODELS_INTERNAL_H
#define FOKUS_MODELS_INTERNAL_H

#include "fokus.h"

/* ---------------------------------------------------------------- embed.c */

/* Gathers the p x p patches of x [n, c, h, w] (contiguous f32; h, w multiples of p)
 * into patches [n*(h/p)*(w/p), c*p*p]: row b*T + r*(w/p) + col, columns in (c, py, px)
 * order, which is the layout of a Conv2d weight [D, c, p, p] viewed as [D, c*p*p]; so
 * the stride-p patch convolution becomes one GEMM: patches · Wᵀ + bias. */
void fokus_patchify(float *patches, const float *x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t p);

/* The inverse layout of the final layer: tokens [n*T, p*p*c] (row stride ldt >= p*p*c)
 * whose columns are in (py, px, c) order, channel fastest, scattered into out
 * [n, c, h, w] (contiguous f32). Note the order differs from fokus_patchify's. */
void fokus_unpatchify(float *out, const float *tokens, int64_t ldt, int64_t n, int64_t c, int64_t h, int64_t w,
                      int64_t p);

/* First element of x [n] that is NaN or infinite, or -1 (inputs are checked so that a
 * NaN latent is reported where it is, not found later as a NaN output). */
int64_t fokus_first_nonfinite(const float *x, int64_t n);

/* ---------------------------------------------------------------- adaln.c */

/* adaLN: y[b*tokens + i, :] = LN(x[b*tokens + i, :]) * (1 + scale[b, :]) + shift[b, :],
 * LN over d values without affine (biased variance, eps). x and y are [batch*tokens, d]
 * with row strides ldx, ldy and may be the same buffer. shift and scale point at the
 * first batch entry's chunk; entry b's is at + b*ldmod. Threads: ctx's pool over rows. */
void fokus_adaln_modulate(fokus_ctx *ctx, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t batch,
                          int64_t tokens, int64_t d, const float *shift, const float *scale, int64_t ldmod, float eps);

/* Gated residual: x[b*tokens + i, :] += gate[b, :] * r[b*tokens + i, :] (row strides
 * ldx, ldr; gate entry b at gate + b*ldmod). */
void fokus_gated_add(fokus_ctx *ctx, float *x, int64_t ldx, const float *r, int64_t ldr, int64_t batch, int64_t tokens,
                     int64_t d, const float *gate, int64_t ldmod);

/* dst[i] = SiLU(src[i]) for n floats (the adaLN_modulation.0 / mlp.1 activations). */
void fokus_silu_copy(fokus_ctx *ctx, float *dst, const float *src, int64_t n);

/* ---------------------------------------------------------------- weights.c */

/* A set of named weights seen under a prefix, with the model family for messages. */
typedef struct fokus_wset {
    const fokus_st_entry *w;
    size_t n;
    const char *prefix;        /* stripped from names; "" for none */
    const char *family;        /* "dit", "mmdit", ...: the first word of every message */
    fokus_error *err;
} fokus_wset;

/* The tensor named prefix + name, or NULL. */
const fokus_tensor *fokus_wset_find(const fokus_wset *ws, const char *name);

/* A float tensor of exactly this shape with unit stride in its last dimension and rows
 * that can be addressed by stride[0] after viewing it as [shape[0], rest] (checked;
 * the GEMM also needs stride[0] >= rest, which every file layout has),
 * returned as a retained 2-d view [shape[0], prod(shape[1..])]: a matrix used in place.
 * Errors (FOKUS_EFORMAT): "dit: missing tensor 'weights.blocks.1.attn.qkv.weight'",
 * "dit: 'x' has shape 192x32, expected 192x64", non-float dtype. */
fokus_status fokus_wset_matrix(const fokus_wset *ws, const char *name, int ndim, const int64_t *shape,
                               fokus_tensor *dst);

/* Any float tensor of exactly n elements as a fresh fokus_alloc'd f32 array (biases,
 * small tables). Errors as fokus_wset_matrix. */
fokus_status fokus_wset_f32(const fokus_wset *ws, const char *name, int64_t n, float **dst);

/* Which model family a set of weights looks like, from the names (any prefix), as a
 * phrase for error messages: "an SD3 MMDiT (joint_blocks.*, context_embedder)",
 * "a DiT (blocks.*, y_embedder.embedding_table)", "a CLIP text encoder", "an SD UNet",
 * "a VAE", "a T5 encoder", "a Flux transformer", or NULL when none is recognised. */
const char *fokus_guess_family(const fokus_st_entry *w, size_t n);

/* The prefix under which `key` (a name without prefix, e.g. "x_embedder.proj.weight")
 * appears, for every occurrence: up to max strdup'ed prefixes into out, returns the count
 * (names matching the key only as a suffix of a longer component are skipped). */
size_t fokus_find_prefixes(const fokus_st_entry *w, size_t n, const char *key, char **out, size_t max);
/* The prefix of the one model in `w`: a copy of `prefix` when given, else the prefix of the
 * only tensor named `...key` (*out NULL when there is none, so the caller can say which
 * family the weights look like). Several candidates: FOKUS_EINVAL listing them, naming
 * `fname` and the model kind `what` ("DiTs"). *out is freed by the caller. */
fokus_status fokus_pick_prefix(const fokus_st_entry *w, size_t n, const char *prefix, const char *key,
                               const char *fname, const char *what, char **out, fokus_error *err);
/* Hidden size, input channels and patch size from the patch embedding
 * `x_embedder.proj.weight` [D, C, p, p] (DiT and MMDiT name it alike). */
fokus_status fokus_wset_patch_embed(const fokus_wset *ws, int64_t *D, int64_t *C, int64_t *p);

/* y[rows, N] (+)= x[rows, K] · Wᵀ + b for a checkpoint matrix W [N, K] (f32/f16/bf16,
 * rows with unit stride, used in place). acc: add into y. b may be NULL. */
fokus_status fokus_linear_rows(fokus_ctx *ctx, const float *x, int64_t ldx, int64_t rows, const fokus_tensor *w,
                               const float *b, bool acc, float *y, int64_t ldy, fokus_error *err);

/* A new [d0, d1(, d2)] f32 tensor (ndim 2 or 3) holding a copy of src, for the traces
 * of the forward passes. */
fokus_status fokus_trace_keep(fokus_tensor *dst, const float *src, int ndim, int64_t d0, int64_t d1, int64_t d2,
                             fokus_error *err);

/* Writes "[1, 2, 3, 4]", the 1-based position of flat index i in t's shape, into buf
 * (truncated to size) and returns buf; used in the non-finite input messages. */
const char *fokus_index_where(char *buf, size_t size, const fokus_tensor *t, int64_t i);

/* ------------------------------------------------------------ clip_tiny.c */

/* Appends a new f32 tensor `name` [shape] to the growing array (*e, *n, *cap) of the
 * seeded random-weight builders (clip.tiny, dit.tiny, mmdit.tiny), filled with
 * mean + std * N(0, 1) from its own stream (seed, index), so adding a tensor never
 * changes the others. `who` prefixes the out-of-memory message. On failure the array
 * keeps its first *n entries (free them with fokus_st_entries_free). */
fokus_status fokus_tiny_add(fokus_st_entry **e, size_t *n, size_t *cap, uint64_t seed, const char *who,
                            const char *name, int ndim, const int64_t *shape, double mean, double std,
                            fokus_error *err);

#endif
