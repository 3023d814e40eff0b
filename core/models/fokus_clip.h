/*
 * CLIP text encoder (SD 1.x CLIP-L, SDXL/SD3 CLIP-G, OpenCLIP ViT-H) from real
 * checkpoints (part of the fokus core; included by fokus.h). Equations and names:
 * shared/specs/models.md section 2.
 */
#ifndef FOKUS_CLIP_H
#define FOKUS_CLIP_H

#include "base/fokus_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hyper-parameters. As input to fokus_clip_new, 0 (ids: -1, act: FOKUS_ACT_NONE) means
 * "infer": sizes from tensor shapes, heads = hidden / 64 (as in every released CLIP),
 * activation quick_gelu except gelu for widths 1024 and 1280 (OpenCLIP ViT-H and
 * bigG), eps 1e-5, EOS = vocab_size - 1, BOS = vocab_size - 2. Sizes given explicitly
 * must match the shapes. */
typedef struct fokus_clip_config {
    int64_t vocab_size, hidden_size, num_heads, num_layers, intermediate_size, max_positions,
        projection_dim;
    fokus_act act;
    double layer_norm_eps;
    int64_t bos_id, eos_id, pad_id;
} fokus_clip_config;

/* Weight layouts recognised (detected from the names). */
typedef enum fokus_clip_naming {
    FOKUS_CLIP_HF = 0,     /* text_model.embeddings..., text_model.encoder.layers.N... */
    FOKUS_CLIP_OPENCLIP    /* token_embedding, positional_embedding, transformer.resblocks.N... */
} fokus_clip_naming;

typedef struct fokus_clip fokus_clip;

/* Builds a model over named weights (e.g. the entries of a fokus_st_file). Matrices are
 * used in place (f32, f16 or bf16, no copy); the model keeps references to them, so the
 * file struct may be freed afterwards. `prefix` (may be NULL) is stripped from names;
 * without it the prefix is detected, and a checkpoint holding several text encoders
 * (SDXL: conditioner.embedders.0 and .1) is an error that lists them. Missing tensors
 * and wrong shapes give FOKUS_EFORMAT naming the tensor and the shapes. */
fokus_status fokus_clip_new(fokus_clip **out, const fokus_st_entry *weights, size_t n, const char *prefix,
                            const fokus_clip_config *config, fokus_error *err);
void fokus_clip_free(fokus_clip *m);
const fokus_clip_config *fokus_clip_get_config(const fokus_clip *m);
fokus_clip_naming fokus_clip_get_naming(const fokus_clip *m);
const char *fokus_clip_prefix(const fokus_clip *m);

typedef struct fokus_clip_output {
    fokus_tensor last_hidden_state;   /* [B, N, D], final LayerNorm applied */
    fokus_tensor pooled;              /* [B, D] at the first EOS (argmax id when absent) */
    fokus_tensor text_embeds;         /* [B, P] pooled · projection, empty without one */
    fokus_tensor eos_positions;       /* [B] i32, 0-based */
    fokus_tensor *hidden_states;      /* want_hidden: num_layers + 1 tensors [B, N, D] */
    int n_hidden;
    fokus_tensor attention;           /* attention_layer >= 0: its probabilities [B, H, N, N] */
} fokus_clip_output;

typedef struct fokus_clip_run_opts {
    bool want_hidden;                 /* every layer's output, as HF's output_hidden_states */
    int attention_layer;              /* 0-based layer whose attention map to keep, or -1 */
    const fokus_tensor *out;          /* NULL, or the caller's f32 [B, N, D] (any strides, not a
                                       * broadcast view) for last_hidden_state, which then
                                       * stays empty in the output */
} fokus_clip_run_opts;
void fokus_clip_output_free(fokus_clip_output *o);

/* Forward pass over ids [B, N] (any integer dtype, 1 <= N <= max_positions). Ids
 * outside [0, vocab_size) are FOKUS_EINVAL. opts (may be NULL): want_hidden adds every
 * layer's output (embeddings first, no final LayerNorm); attention_layer keeps that
 * layer's attention probabilities (for maps); out receives last_hidden_state (checked
 * like every out: FOKUS_EINVAL for a wrong dtype or shape). Every output tensor comes
 * from ctx's caching allocator, the activations from its scratch. */
fokus_status fokus_clip_forward(fokus_ctx *ctx, fokus_clip *m, const fokus_tensor *ids,
                                const fokus_clip_run_opts *opts, fokus_clip_output *out, fokus_error *err);

/* Conditioning as SD front ends build it from chunks of ids [C, 77]:
 *   cond [1, C*77, D]: the output of layer L + 1 - skip (skip 1 = last layer); with
 *     final_norm the final LayerNorm is applied to it (always for skip 1; for skip 2 as
 *     A1111/ComfyUI do for SD 1.x; SDXL and SD3 use skip 2 without it);
 *   pooled [1, D]: pooler output of the first chunk (final layer, normed);
 *   projected [1, P]: pooled · projection when the model has one (else empty). */
fokus_status fokus_clip_encode(fokus_ctx *ctx, fokus_clip *m, const fokus_tensor *ids, int skip,
                               bool final_norm, fokus_tensor *cond, fokus_tensor *pooled,
                               fokus_tensor *projected, fokus_error *err);

/* fokus_clip_encode writing cond into the caller's f32 [1, C*77, D] tensor (any
 * strides, not a broadcast view; *cond of fokus_clip_encode is not made). Errors also
 * for a wrong dtype or shape of cond_out (FOKUS_EINVAL, naming both). */
fokus_status fokus_clip_encode_into(fokus_ctx *ctx, fokus_clip *m, const fokus_tensor *ids, int skip,
                                    bool final_norm, const fokus_tensor *cond_out, fokus_tensor *pooled,
                                    fokus_tensor *projected, fokus_error *err);

/* Seeded random weights of a small CLIP-shaped text model in HF naming (vocabulary
 * 49408, 77 positions, the given width (a multiple of 16) and layers, MLP 4x width,
 * projection width x width): for demos and tests without a checkpoint. Free with
 * fokus_st_entries_free. Heads default to width / 64 when width >= 64 (else 1); pass
 * num_heads in the config to fokus_clip_new to choose. */
fokus_status fokus_clip_tiny_weights(uint64_t seed, int64_t width, int64_t layers, fokus_st_entry **out,
                                     size_t *n, fokus_error *err);
void fokus_st_entries_free(fokus_st_entry *e, size_t n);

#ifdef __cplusplus
}
#endif

#endif
