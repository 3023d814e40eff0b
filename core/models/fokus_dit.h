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

#ifdef __cplusplus
}
#endif

#endif /* FOKUS_DIT_H */
