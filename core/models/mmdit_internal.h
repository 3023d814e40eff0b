/* Private layout of an SD3 MMDiT, shared by mmdit_load.c (names, shapes, config) and
 * mmdit.c (forward pass). Matrices are views of the checkpoint in its own dtype, 2-d
 * [out, in] with unit column stride; vectors are f32 copies. */
#ifndef FOKUS_MMDIT_INTERNAL_H
#define FOKUS_MMDIT_INTERNAL_H

#include "models_internal.h"

/* One attention of a stream: qkv [3D, D], proj [D, D] (absent when pre_only), the
 * optional per-head norms of q and k ([dh] each; bias only for LayerNorm). */
typedef struct mmdit_attn {
    fokus_tensor qkv, proj;
    float *b_qkv, *b_proj;
    float *ln_q, *ln_k, *ln_q_b, *ln_k_b;
} mmdit_attn;

/* One stream of a joint block (context_block or x_block). n_mod is the number of
 * D-wide chunks of adaLN_modulation.1: 6, 2 (pre_only) or 9 (MMDiT-X x_block). */
typedef struct mmdit_stream {
    int n_mod;
    bool pre_only, has_attn2;
    fokus_tensor ada, fc1, fc2;
    float *b_ada, *b_fc1, *b_fc2;
    mmdit_attn attn, attn2;
} mmdit_stream;

typedef struct mmdit_block {
    mmdit_stream ctx, x;
} mmdit_block;

struct fokus_mmdit {
    fokus_mmdit_config cfg;
    char *prefix;
    fokus_tensor pos;                            /* [Mx*Mx, D] stored table, in place */
    fokus_tensor x_w;                            /* [D, C*p*p]: the patch conv as a matrix */
    float *x_b;
    fokus_tensor t1, t2, y1, y2, ctx_w;          /* [D, F], [D, D], [D, adm], [D, D], [D, ctx] */
    float *t1_b, *t2_b, *y1_b, *y2_b, *ctx_b;
    mmdit_block *blocks;
    fokus_tensor f_ada, f_lin;                   /* [2D, D], [p*p*out, D] */
    float *f_ada_b, *f_lin_b;
};

#endif
