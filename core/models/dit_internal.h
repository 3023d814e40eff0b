/* Private layout of a DiT, shared by dit_load.c (names, shapes, config) and dit.c
 * (forward pass). Matrices are views of the checkpoint in its own dtype, 2-d
 * [out, in] with unit column stride; vectors are f32 copies. */
#ifndef FOKUS_DIT_INTERNAL_H
#define FOKUS_DIT_INTERNAL_H

#include "models_internal.h"

typedef struct dit_block {
    fokus_tensor qkv, proj, fc1, fc2, ada;       /* [3D, D], [D, D], [M, D], [D, M], [6D, D] */
    float *b_qkv, *b_proj, *b_fc1, *b_fc2, *b_ada;
} dit_block;

struct fokus_dit {
    fokus_dit_config cfg;
    char *prefix;
    float *pos;                                  /* [pos_grid^2, D] stored table, or NULL */
    int64_t pos_grid;                            /* its side in patches */
    fokus_tensor x_w;                            /* [D, C*p*p]: the patch conv as a matrix */
    float *x_b;
    fokus_tensor t1, t2;                         /* [D, freq_dim], [D, D] */
    float *t1_b, *t2_b;
    fokus_tensor ytab;                           /* [K (+1), D] */
    dit_block *blocks;
    fokus_tensor f_ada, f_lin;                   /* [2D, D], [p*p*out, D] */
    float *f_ada_b, *f_lin_b;
};

#endif
