/*
 * SD3 MMDiT and SD3.5 MMDiT-X (Stability-AI sd3.5 mmditx.py; part of the fokus core,
 * included by fokus.h). Equations and tensor names: shared/specs/models.md section 4.
 * The fixed embeddings it shares with DiT (timestep features, position-table crop)
 * are declared in fokus_dit.h.
 */
#ifndef FOKUS_MMDIT_H
#define FOKUS_MMDIT_H

#include "base/fokus_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fokus_qk_norm {
    FOKUS_QK_NONE = 0,   /* SD3-medium */
    FOKUS_QK_RMS,        /* attn.ln_q.weight / ln_k.weight [dh] (SD3.5) */
    FOKUS_QK_LN          /* LayerNorm with ln_q.weight and ln_q.bias [dh] */
} fokus_qk_norm;

const char *fokus_qk_norm_name(fokus_qk_norm q);   /* "none", "rms", "ln" */

/* Hyper-parameters. As input to fokus_mmdit_new every field 0 means "infer"; sizes
 * given explicitly must match the shapes (FOKUS_EINVAL otherwise):
 *   hidden_size D, in_channels C, patch_size p    x_embedder.proj.weight [D, C, p, p]
 *   depth                                         the number of joint_blocks.N
 *   mlp_hidden M                                  joint_blocks.0.x_block.mlp.fc1.weight [M, D]
 *   context_dim                                   context_embedder.weight [D, context_dim]
 *   pooled_dim (adm_in_channels)                  y_embedder.mlp.0.weight [D, pooled_dim];
 *                                                 0 when the model has no y_embedder
 *   freq_dim                                      t_embedder.mlp.0.weight [D, freq_dim]
 *   out_channels                                  final_layer.linear.weight [p*p*out, D]
 *   pos_embed_max_size                            sqrt(rows of pos_embed [1, Mx*Mx, D])
 *   qk_norm (output only)                         ln_q.weight present: rms; with ln_q.bias: ln
 *   num_heads    from ln_q.weight [dh] when there is a qk-norm (D / dh); otherwise not
 *                visible in the shapes: D / 64 (every released SD3 has 64-wide heads),
 *                or an error asking for it when D is not a multiple of 64
 *   n_attn2 (output only)                         blocks whose x_block has attn2 (MMDiT-X)
 *   max_period 10000, eps 1e-6 (adaLN LayerNorms), qk_eps 1e-6 (qk-norm). */
typedef struct fokus_mmdit_config {
    int64_t in_channels, out_channels, patch_size, hidden_size, depth, num_heads, mlp_hidden, context_dim,
        pooled_dim, pos_embed_max_size, freq_dim;
    fokus_qk_norm qk_norm;
    int64_t n_attn2;
    double max_period, eps, qk_eps;
} fokus_mmdit_config;

typedef struct fokus_mmdit fokus_mmdit;

/* Builds an MMDiT over named weights (e.g. the entries of a fokus_st_file) in the
 * official SD3 names (pos_embed, x_embedder.proj, t_embedder.mlp.0/2, y_embedder.mlp.0/2,
 * context_embedder, joint_blocks.N.{context_block,x_block}.{attn.qkv, attn.proj,
 * attn.ln_q/ln_k, mlp.fc1/fc2, adaLN_modulation.1}, x_block.attn2.* (MMDiT-X),
 * final_layer.{linear, adaLN_modulation.1}). Matrices (f32, f16 or bf16) and the
 * position table are used in place, never widened whole; the model keeps references
 * to them, so the file struct may be freed afterwards. Biases and norm weights are
 * small f32 copies.
 * `prefix` (may be NULL) is stripped from every name; NULL finds it from
 * context_embedder.weight, so "model.diffusion_model." of an SD3 single file is found
 * next to the text encoders and the VAE (several candidates: an error listing them).
 * The last block's context_block may be "pre_only" (adaLN [2D, D], no proj and MLP);
 * a pre_only context block elsewhere is an error. An x_block with attn2 needs the
 * 9-way adaLN [9D, D].
 * Errors: FOKUS_EFORMAT for weights that are not an MMDiT (the message says which
 * family they look like, e.g. a DiT), a missing tensor or a wrong shape (named, with
 * both shapes); FOKUS_EINVAL for a config that contradicts the shapes. */
fokus_status fokus_mmdit_new(fokus_mmdit **out, const fokus_st_entry *weights, size_t n, const char *prefix,
                             const fokus_mmdit_config *config, fokus_error *err);
void fokus_mmdit_free(fokus_mmdit *m);
const fokus_mmdit_config *fokus_mmdit_get_config(const fokus_mmdit *m);
const char *fokus_mmdit_prefix(const fokus_mmdit *m);
/* Whether block i (0-based) has the MMDiT-X image-only attention (x_block.attn2). */
bool fokus_mmdit_has_attn2(const fokus_mmdit *m, int64_t block);
/* Whether block i's context_block is pre_only (only the last one can be). */
bool fokus_mmdit_pre_only(const fokus_mmdit *m, int64_t block);

/* Stored intermediates of one forward pass (the oracle's outputs.* names), new f32
 * tensors owned by the trace. */
typedef struct fokus_mmdit_trace {
    fokus_tensor pos_embed;          /* [1, T, D] centre crop of the position table */
    fokus_tensor x_tokens;           /* [N, T, D] patch embedding + position table */
    fokus_tensor t_freq;             /* [N, freq_dim] */
    fokus_tensor t_emb, y_emb, c;    /* [N, D]; y_emb empty without a y_embedder */
    fokus_tensor context_tokens;     /* [N, Lc, D] context_embedder(context) */
    fokus_tensor *block_x;           /* depth tensors [N, T, D]: x stream after each block */
    fokus_tensor *block_context;     /* depth tensors [N, Lc, D]; empty after a pre_only block */
    int n_blocks;
    fokus_tensor final_tokens;       /* [N, T, p*p*out_channels] before unpatchify */
} fokus_mmdit_trace;
void fokus_mmdit_trace_free(fokus_mmdit_trace *tr);

/* Options of one forward pass (NULL = none). */
typedef struct fokus_mmdit_opts {
    /* Attention capture: NULL, or `depth` flags (nonzero = record this block). Records
     * the joint attention's probabilities from every image patch (query) to every text
     * token (key) -- the softmax over all Lc + T keys, as the block computes it --
     * averaged over heads and the chosen blocks: attention [N, Lc, H/p, W/p] (a new f32
     * tensor), map[b, j, r, c] = mean P[b, h, patch (r, c) -> token j]. This is DAAM's
     * choice (image queries over text keys): where each word lands. For a patch the
     * values over the Lc tokens sum to at most 1 (the rest goes to image keys).
     * Computed from the flash kernel's log-sum-exp and one [T, Lc] block of logits per
     * head, never the whole [L, L] matrix; calls without it pay nothing. */
    const uint8_t *attention_blocks;
    fokus_tensor *attention;         /* where the map goes (needed with attention_blocks) */
    fokus_mmdit_trace *trace;        /* NULL, or filled with every intermediate */
} fokus_mmdit_opts;

/* One forward pass (models.md 4.3):
 *   x [N, C, H, W] any float dtype and strides; H and W multiples of p, H/p and W/p at
 *     most pos_embed_max_size (the centre crop of the stored table is used);
 *   t [N] timesteps = 1000 * sigma, any numeric dtype, finite;
 *   context [N, Lc, context_dim] any float dtype, Lc >= 1;
 *   y [N, pooled_dim] any float dtype (NULL when pooled_dim is 0);
 *   out: the caller's f32 contiguous tensor [N, out_channels, H, W], fully written.
 * Activations live in the context's scratch (slots FOKUS_SCRATCH_MODEL and _MODEL2):
 * about N*(T*(9D + max(M, 3D)) + Lc*(6D + M)) floats (+ N*T*D for MMDiT-X); nothing
 * else is allocated beyond f32 copies of inputs that are not f32 contiguous, the
 * attention map and the trace when asked for.
 * Errors (FOKUS_EINVAL, naming the argument, expected and got): wrong ranks, channel
 * count, context width, H or W not a multiple of p or beyond the position table,
 * batch of t/context/y not N, NaN/inf in any input (with the index), a capture flag
 * array without an output; FOKUS_ENOMEM; FOKUS_EINTERRUPT between blocks when ctx's
 * interrupt flag is set. On failure out is unspecified, trace and attention empty. */
fokus_status fokus_mmdit_forward(fokus_ctx *ctx, const fokus_mmdit *m, const fokus_tensor *x, const fokus_tensor *t,
                                 const fokus_tensor *context, const fokus_tensor *y, const fokus_mmdit_opts *opts,
                                 fokus_tensor *out, fokus_error *err);

/* Options of the seeded random MMDiT (0 = the default in brackets). */
typedef struct fokus_mmdit_tiny_opts {
    int64_t hidden_size;         /* [64] a multiple of 4 and of num_heads */
    int64_t num_heads;           /* [hidden_size / 16] */
    int64_t depth;               /* [2] */
    int64_t in_channels;         /* [4] (out_channels the same) */
    int64_t patch_size;          /* [2] */
    int64_t context_dim;         /* [32] */
    int64_t pooled_dim;          /* [48] */
    int64_t pos_embed_max_size;  /* [32] side of the stored table, in patches */
    fokus_qk_norm qk_norm;       /* [none]; with a qk-norm the head count is in the shapes */
    uint64_t attn2_mask;         /* bit i: block i gets MMDiT-X attn2 (blocks < 64) */
    fokus_dtype dtype;           /* [f32] f16 / bf16: every tensor rounded to it (as
                                    released checkpoints store them), made one tensor at
                                    a time so no f32 copy of the whole model exists */
} fokus_mmdit_tiny_opts;

/* Seeded random weights of a small MMDiT in the official names, scaled like the
 * oracles' (every path changes the output: nonzero adaLN and final layers); the
 * position table is the real sin-cos table. The last context block is pre_only as in
 * SD3. Same seed, same weights on every machine. Free with fokus_st_entries_free. */
fokus_status fokus_mmdit_tiny_weights(uint64_t seed, const fokus_mmdit_tiny_opts *opts, fokus_st_entry **out,
                                      size_t *n, fokus_error *err);

#ifdef __cplusplus
}
#endif

#endif /* FOKUS_MMDIT_H */
