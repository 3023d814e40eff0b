/* fokus.mmdit.tiny: a small SD3-shaped MMDiT with seeded random weights in the official
 * names, so demos, samplers and tests run without a checkpoint. Scaled like the
 * oracles' (models.md 6): matrices with std gain/sqrt(fan_in) (gain 1 for q/k, the
 * embedders and adaLN, 2 for the MLP, 0.5 elsewhere), adaLN biases N(0, 0.1^2) so every
 * shift, scale and gate is nonzero, nonzero final layers, qk-norm gains near 1. The
 * last context block is pre_only as in SD3; the position table is the real sin-cos
 * table SD3 stores. Not a trained model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models_internal.h"

typedef struct builder {
    fokus_st_entry *e;
    size_t n, cap;
    uint64_t seed;
    fokus_dtype dt;
    fokus_error *err;
} builder;

/* The last tensor added, rounded to the builder's dtype (after its f32 values are final). */
static fokus_status finish(builder *b)
{
    if (b->dt == FOKUS_F32 || b->n == 0) return FOKUS_OK;
    fokus_tensor *t = &b->e[b->n - 1].tensor, h;
    fokus_status st = fokus_tensor_to(&h, t, b->dt, b->err);
    if (st != FOKUS_OK) return st;
    fokus_tensor_release(t);
    *t = h;
    return FOKUS_OK;
}

/* A new f32 tensor `name` = mean + std * N(0, 1) from its own stream (seed, index). */
static fokus_status add(builder *b, const char *name, int ndim, const int64_t *shape, double mean, double std)
{
    fokus_status st = fokus_tiny_add(&b->e, &b->n, &b->cap, b->seed, "mmdit.tiny", name, ndim, shape, mean, std, b->err);
    if (st != FOKUS_OK) return st;
    return strcmp(name, "pos_embed") == 0 ? FOKUS_OK : finish(b); /* the table is filled in first */
}

/* a Linear layer prefix.{weight [out, in], bias [out]} */
static fokus_status linear(builder *b, const char *prefix, int64_t out, int64_t in, double gain, double bias_std)
{
    char s[240];
    fokus_status st;
    snprintf(s, sizeof s, "%.200s.weight", prefix);
    if ((st = add(b, s, 2, (const int64_t[]){out, in}, 0, gain / sqrt((double)in))) != FOKUS_OK) return st;
    snprintf(s, sizeof s, "%.200s.bias", prefix);
    return add(b, s, 1, (const int64_t[]){out}, 0, bias_std);
}

/* prefix.{qkv, proj unless pre_only, ln_q, ln_k} */
static fokus_status attention(builder *b, const char *prefix, int64_t D, int64_t dh, bool pre_only, fokus_qk_norm qk)
{
    char s[240];
    fokus_status st;
    snprintf(s, sizeof s, "%.200s.qkv", prefix);
    if ((st = linear(b, s, 3 * D, D, 1, 0.02)) != FOKUS_OK) return st;
    snprintf(s, sizeof s, "%.200s.proj", prefix);
    if (!pre_only && (st = linear(b, s, D, D, 0.5, 0.02)) != FOKUS_OK) return st;
    static const char *const qk_names[2] = {"ln_q", "ln_k"};
    for (int j = 0; qk != FOKUS_QK_NONE && j < 2; j++) {
        snprintf(s, sizeof s, "%.200s.%s.weight", prefix, qk_names[j]);
        if ((st = add(b, s, 1, (const int64_t[]){dh}, 1, 0.1)) != FOKUS_OK) return st;
        snprintf(s, sizeof s, "%.200s.%s.bias", prefix, qk_names[j]);
        if (qk == FOKUS_QK_LN && (st = add(b, s, 1, (const int64_t[]){dh}, 0, 0.05)) != FOKUS_OK) return st;
    }
    return FOKUS_OK;
}

fokus_status fokus_mmdit_tiny_weights(uint64_t seed, const fokus_mmdit_tiny_opts *opts, fokus_st_entry **out,
                                      size_t *n_out, fokus_error *err)
{
    *out = NULL;
    *n_out = 0;
    fokus_mmdit_tiny_opts o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    const int64_t D = o.hidden_size ? o.hidden_size : 64, depth = o.depth ? o.depth : 2;
    const int64_t Hh = o.num_heads ? o.num_heads : D >= 16 && D % 16 == 0 ? D / 16 : 1;
    const int64_t C = o.in_channels ? o.in_channels : 4, p = o.patch_size ? o.patch_size : 2;
    const int64_t X = o.context_dim ? o.context_dim : 32, A = o.pooled_dim ? o.pooled_dim : 48;
    const int64_t Mx = o.pos_embed_max_size ? o.pos_embed_max_size : 32, M = 4 * D, F = 256;
    if (D < 4 || D > 4096 || D % 4 || Hh < 1 || D % Hh || D / Hh > 256 || depth < 1 || depth > 64 || C < 1 || C > 64 ||
        p < 1 || p > 8 || X < 1 || X > 8192 || A < 1 || A > 8192 || Mx < 1 || Mx > 512 ||
        (depth < 64 && (o.attn2_mask >> depth) != 0) || o.qk_norm > FOKUS_QK_LN || !fokus_dtype_is_float(o.dtype))
        return fokus_fail(err, FOKUS_EINVAL,
                          "mmdit.tiny: need hidden_size a multiple of 4 in 4..4096 split into heads of at most 256, "
                          "depth 1..64, in_channels 1..64, patch_size 1..8, context_dim and pooled_dim 1..8192, "
                          "pos_embed_max_size 1..512, attn2 blocks within the depth, a float dtype");
    const int64_t dh = D / Hh;
    builder b = {NULL, 0, 0, seed, o.dtype, err};
    char s[200];
    fokus_status st;
    if ((st = add(&b, "pos_embed", 3, (const int64_t[]){1, Mx * Mx, D}, 0, 0)) != FOKUS_OK) goto fail;
    if ((st = fokus_pos_embed_2d(b.e[b.n - 1].tensor.data, D, Mx, Mx, err)) || (st = finish(&b))) goto fail;
    if ((st = add(&b, "x_embedder.proj.weight", 4, (const int64_t[]){D, C, p, p}, 0, 1 / sqrt((double)(C * p * p)))) ||
        (st = add(&b, "x_embedder.proj.bias", 1, (const int64_t[]){D}, 0, 0.02)) ||
        (st = linear(&b, "t_embedder.mlp.0", D, F, 1, 0.02)) || (st = linear(&b, "t_embedder.mlp.2", D, D, 1, 0.02)) ||
        (st = linear(&b, "y_embedder.mlp.0", D, A, 1, 0.02)) || (st = linear(&b, "y_embedder.mlp.2", D, D, 1, 0.02)) ||
        (st = linear(&b, "context_embedder", D, X, 1, 0.02)))
        goto fail;
    for (int64_t i = 0; i < depth; i++) {
        for (int sx = 0; sx < 2; sx++) {
            const bool pre_only = sx == 0 && i == depth - 1;
            const bool attn2 = sx == 1 && i < 64 && ((o.attn2_mask >> i) & 1u);
            const int64_t nmod = pre_only ? 2 : attn2 ? 9 : 6;
            char base[120];
            snprintf(base, sizeof base, "joint_blocks.%lld.%s", (long long)i, sx ? "x_block" : "context_block");
            snprintf(s, sizeof s, "%s.attn", base);
            if ((st = attention(&b, s, D, dh, pre_only, o.qk_norm)) != FOKUS_OK) goto fail;
            if (attn2) {
                snprintf(s, sizeof s, "%s.attn2", base);
                if ((st = attention(&b, s, D, dh, false, o.qk_norm)) != FOKUS_OK) goto fail;
            }
            if (!pre_only) {
                snprintf(s, sizeof s, "%s.mlp.fc1", base);
                if ((st = linear(&b, s, M, D, 2, 0.02)) != FOKUS_OK) goto fail;
                snprintf(s, sizeof s, "%s.mlp.fc2", base);
                if ((st = linear(&b, s, D, M, 2, 0.02)) != FOKUS_OK) goto fail;
            }
            snprintf(s, sizeof s, "%s.adaLN_modulation.1", base);
            if ((st = linear(&b, s, nmod * D, D, 1, 0.1)) != FOKUS_OK) goto fail;
        }
    }
    if ((st = linear(&b, "final_layer.linear", p * p * C, D, 0.5, 0.02)) ||
        (st = linear(&b, "final_layer.adaLN_modulation.1", 2 * D, D, 1, 0.1)))
        goto fail;
    *out = b.e;
    *n_out = b.n;
    return FOKUS_OK;
fail:
    fokus_st_entries_free(b.e, b.n);
    return st;
}
