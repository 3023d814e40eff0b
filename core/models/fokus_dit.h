/*
 * Diffusion transformers (part of the fokus core; included by fokus.h): the fixed
 * embeddings that DiT and SD3 MMDiT share, and the class-conditional DiT model
 * (facebookresearch/DiT). Equations and names: shared/specs/models.md sections 3 and 4.
 */
#ifndef FOKUS_DIT_H
#define FOKUS_DIT_H

#include "base/fokus_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------
 * Fixed embeddings (models.md 3.4), shared by DiT and MMDiT
 * ---------------------------------------------------------------------------------- */

/* GLIDE timestep features, cos first: out [n, dim] (row-major) for timesteps t [n]:
 *   half = dim / 2;  f_i = exp(-ln(max_period) * i / half), i = 0..half-1
 *   a_i = t * f_i;   out[b] = [cos(a_0..a_{half-1}), sin(a_0..a_{half-1})] (+ one 0 if dim is odd)
 * f_i and a_i are computed in float32 with PyTorch's order of operations (DiT and SD3
 * do it in float32, and at t near 1000 the rounding of a_i moves cos/sin by ~6e-5).
 * exp is correctly rounded here; PyTorch's vectorised exp is not, and differs by an
 * ulp in about one f_i in five, which moves the features at t = 999 by up to ~3e-5.
 * max_period <= 0 means 10000. Errors: FOKUS_EINVAL for dim < 2 or n < 0. */
fokus_status fokus_timestep_features(float *out, const float *t, int64_t n, int64_t dim, double max_period,
                                     fokus_error *err);

/* 2-D sin-cos position table (MAE / DiT) for a gh x gw grid of patches: out [gh*gw, dim],
 * rows in raster order (row r, column c -> r*gw + c), dim a multiple of 4:
 *   w_k = 10000^(-k / (dim/4)), k = 0..dim/4-1          (float64)
 *   out[r*gw + c] = [sin(c*w), cos(c*w), sin(r*w), cos(r*w)]   (each dim/4 wide)
 * The COLUMN index comes first (the upstream code calls that half "emb_h" but feeds it
 * the meshgrid's w coordinate). Values are computed in float64 and rounded once, as
 * the float32 tables stored in DiT checkpoints are.
 * Errors: FOKUS_EINVAL for dim not a positive multiple of 4 or gh, gw < 1. */
fokus_status fokus_pos_embed_2d(float *out, int64_t dim, int64_t gh, int64_t gw, fokus_error *err);

/* Centre crop of a stored square position table (SD3 MMDiT's pos_embed, models.md 4.3):
 * table is [1, M*M, D] or [M*M, D] (f32, f16 or bf16), viewed as an M x M grid; out
 * [gh*gw, D] f32 gets rows top..top+gh-1, columns left..left+gw-1 of it with
 * top = (M - gh) div 2, left = (M - gw) div 2, flattened row-major.
 * Errors: FOKUS_EINVAL when the table is not a square grid of rows, or the grid
 * (gh x gw) does not fit in M x M ("pos_embed covers 8x8 patches, the latent needs 4x10"). */
fokus_status fokus_pos_embed_crop(float *out, const fokus_tensor *table, int64_t gh, int64_t gw, fokus_error *err);


/* ------------------------------------------------------------------------------------
 * DiT (facebookresearch/DiT, class-conditional, adaLN-Zero; models.md 3)
 * ---------------------------------------------------------------------------------- */

/* Hyper-parameters. As input to fokus_dit_new every field 0 means "infer"; sizes given
 * explicitly must match the shapes (FOKUS_EINVAL otherwise):
 *   hidden_size D, in_channels C, patch_size p   from x_embedder.proj.weight [D, C, p, p]
 *   freq_dim                                      from t_embedder.mlp.0.weight [D, freq_dim]
 *   depth                                         the number of blocks.N
 *   mlp_hidden M                                  from blocks.0.mlp.fc1.weight [M, D]
 *   out_channels                                  final_layer.linear.weight [p*p*out, D]
 *   num_classes K, null_class                     y_embedder.embedding_table.weight [rows, D]:
 *       rows - 1 classes and a null class (label K, for classifier-free guidance) unless
 *       num_classes is given as rows (a model trained without class dropout)
 *   input_size                                    sqrt(rows of pos_embed) * p (0 without one)
 *   num_heads    not visible in the shapes: 16 for D 1152 (XL) and 1024 (L), 12 for 768
 *                (B), 6 for 384 (S), else D / 64 when D is a multiple of 64, else an error
 *                asking for it (pass it for any model not shaped like the released ones)
 *   max_period 10000, eps 1e-6 (the blocks' LayerNorm).
 * learn_sigma (output only) is out_channels == 2 * in_channels: channels C..2C-1 of the
 * output are the variance-interpolation values. */
typedef struct fokus_dit_config {
    int64_t input_size, in_channels, out_channels, patch_size, hidden_size, depth, num_heads, mlp_hidden,
        num_classes, freq_dim;
    double max_period, eps;
    bool learn_sigma, null_class;
} fokus_dit_config;

typedef struct fokus_dit fokus_dit;

/* Builds a DiT over named weights (e.g. the entries of a fokus_st_file) in the original
 * checkpoint names (pos_embed, x_embedder.proj, t_embedder.mlp.0/2, y_embedder.
 * embedding_table, blocks.N.{attn.qkv, attn.proj, mlp.fc1, mlp.fc2, adaLN_modulation.1},
 * final_layer.{linear, adaLN_modulation.1}). Matrices (f32, f16 or bf16) are used in
 * place, never widened whole; the model keeps references to them, so the file struct
 * may be freed afterwards. Biases and the position table are small f32 copies.
 * `prefix` (may be NULL) is stripped from every name; NULL finds it from
 * y_embedder.embedding_table.weight (several candidates are an error listing them).
 * pos_embed may be absent (the table is then computed, models.md 3.4).
 * Errors: FOKUS_EFORMAT for weights that are not a DiT (the message says which family
 * they look like, e.g. an SD3 MMDiT), a missing tensor or a wrong shape (named, with
 * both shapes); FOKUS_EINVAL for a config that contradicts the shapes. */
fokus_status fokus_dit_new(fokus_dit **out, const fokus_st_entry *weights, size_t n, const char *prefix,
                           const fokus_dit_config *config, fokus_error *err);
void fokus_dit_free(fokus_dit *m);
const fokus_dit_config *fokus_dit_get_config(const fokus_dit *m);
const char *fokus_dit_prefix(const fokus_dit *m);

/* Stored intermediates of one forward pass (the oracle's outputs.* names), new f32
 * tensors owned by the trace: */
typedef struct fokus_dit_trace {
    fokus_tensor x_tokens;        /* [N, T, D] patch embedding + position table */
    fokus_tensor t_freq;          /* [N, freq_dim] timestep features */
    fokus_tensor t_emb, y_emb, c; /* [N, D] t_embedder output, embedding_table[y], their sum */
    fokus_tensor *blocks;         /* depth tensors [N, T, D]: the tokens after each block */
    int n_blocks;
    fokus_tensor final_tokens;    /* [N, T, p*p*out_channels] final layer, before unpatchify */
} fokus_dit_trace;
void fokus_dit_trace_free(fokus_dit_trace *tr);

/* One forward pass (models.md 3.3):
 *   x [N, C, H, W] any float dtype and strides; H and W multiples of p (any size: the
 *     stored position table when (H/p, W/p) is its grid, else the sin-cos table of
 *     that grid computed as in fokus_pos_embed_2d);
 *   t [N] timesteps, any numeric dtype, may be fractional (0..999 in DiT's training);
 *   y [N] integer labels in 0..num_classes-1, or num_classes for the null class when
 *     the model has one;
 *   out: the caller's f32 contiguous tensor [N, out_channels, H, W], fully written
 *     (so the caller chooses where the result lives);
 *   trace: NULL, or filled with every intermediate (free with fokus_dit_trace_free).
 * Activations live in the context's scratch (slots FOKUS_SCRATCH_MODEL and _MODEL2):
 * about N*T*(6D + max(M, C*p*p, p*p*out)) floats; nothing else is allocated beyond
 * the f32 copy of x when x is not already f32 contiguous, and the trace.
 * Errors (FOKUS_EINVAL, naming the argument, expected and got): wrong ranks, channel
 * count, H or W not a multiple of p, t or y batch not N, NaN/inf in x or t (with
 * the index), labels out of range; FOKUS_ENOMEM; FOKUS_EINTERRUPT between blocks when
 * ctx's interrupt flag is set. On failure out is unspecified and trace is empty. */
fokus_status fokus_dit_forward(fokus_ctx *ctx, const fokus_dit *m, const fokus_tensor *x, const fokus_tensor *t,
                               const fokus_tensor *y, fokus_tensor *out, fokus_dit_trace *trace, fokus_error *err);

/* Options of the seeded random DiT (0 = the default in brackets). */
typedef struct fokus_dit_tiny_opts {
    int64_t hidden_size;   /* [64] a multiple of 4 */
    int64_t depth;         /* [2] */
    int64_t in_channels;   /* [4] */
    int64_t patch_size;    /* [2] */
    int64_t input_size;    /* [8] latent side of the stored position table (multiple of p) */
    int64_t num_classes;   /* [10], plus the null class */
    bool no_sigma;         /* false: learn_sigma (out 2C) as the released DiTs */
} fokus_dit_tiny_opts;

/* Seeded random weights of a small DiT in the original names, scaled like the oracles'
 * (every path changes the output: nonzero adaLN and final layers); the position table
 * is the real sin-cos table. For demos and tests without a checkpoint. Same seed, same
 * weights on every machine. Free with fokus_st_entries_free. opts may be NULL. */
fokus_status fokus_dit_tiny_weights(uint64_t seed, const fokus_dit_tiny_opts *opts, fokus_st_entry **out,
                                    size_t *n, fokus_error *err);

#ifdef __cplusplus
}
#endif

#endif /* FOKUS_DIT_H */
