/* Private layout of a CLIP text model, shared by clip_load.c (names, shapes, config)
 * and clip.c (forward pass). */
#ifndef FOKUS_CLIP_INTERNAL_H
#define FOKUS_CLIP_INTERNAL_H

#include "fokus.h"

typedef struct clip_layer {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;     /* [D], f32 copies */
    /* q, k, v either separate [D, D] (HF) or one fused [3D, D] (OpenCLIP in_proj); both
     * are written into one [rows, 3D] buffer so the attention sees one layout */
    bool fused_qkv;
    fokus_tensor wqkv, wq, wk, wv;            /* copies in the model's block (own_matrices), any float dtype */
    float *bqkv;                              /* [3D] f32: bq | bk | bv */
    fokus_tensor wo, w1, w2;                  /* [D, D], [I, D], [D, I] */
    float *bo, *b1, *b2;
} clip_layer;

struct fokus_clip {
    fokus_clip_config cfg;
    fokus_clip_naming naming;
    char *prefix;
    fokus_tensor tok_emb;                     /* [V, D], in place */
    float *pos_emb;                           /* [T, D] f32 */
    clip_layer *layers;
    float *lnf_w, *lnf_b;
    bool has_proj;
    bool proj_trans;                          /* true: HF weight [P, D]; false: OpenCLIP [D, P] */
    fokus_tensor proj;
};

#endif
