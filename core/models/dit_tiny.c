/* fokus.dit.tiny: a small DiT with seeded random weights in the original checkpoint
 * names, so demos, samplers and tests run without a checkpoint. The weights are scaled
 * like the oracles' (models.md 6): matrices with std gain/sqrt(fan_in) (gain 1 for the
 * embedders and adaLN, 2 for the MLP, 0.5 elsewhere), adaLN biases N(0, 0.1^2) so every
 * shift, scale and gate is nonzero, and nonzero final layers (the real adaLN-Zero init
 * zeroes them, which would make the output ignore the blocks). The position table is
 * the real sin-cos one. Not a trained model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models_internal.h"

typedef struct builder {
    fokus_st_entry *e;
    size_t n, cap;
    uint64_t seed;
    fokus_error *err;
} builder;

/* A new f32 tensor named `name` = mean + std * N(0, 1) (see fokus_tiny_add). */
static fokus_status add(builder *b, const char *name, int ndim, const int64_t *shape, double mean, double std)
{
    return fokus_tiny_add(&b->e, &b->n, &b->cap, b->seed, "dit.tiny", name, ndim, shape, mean, std, b->err);
}

/* a Linear layer: weight [out, in] with std gain/sqrt(in), bias N(0, bias_std^2) */
static fokus_status linear(builder *b, const char *name, int64_t out, int64_t in, double gain, double bias_std)
{
    char s[200];
    fokus_status st;
    snprintf(s, sizeof s, "%.160s.weight", name);
    if ((st = add(b, s, 2, (const int64_t[]){out, in}, 0, gain / sqrt((double)in))) != FOKUS_OK) return st;
    snprintf(s, sizeof s, "%.160s.bias", name);
    return add(b, s, 1, (const int64_t[]){out}, 0, bias_std);
}

fokus_status fokus_dit_tiny_weights(uint64_t seed, const fokus_dit_tiny_opts *opts, fokus_st_entry **out, size_t *n_out,
                                    fokus_error *err)
{
    *out = NULL;
    *n_out = 0;
    fokus_dit_tiny_opts o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    const int64_t D = o.hidden_size ? o.hidden_size : 64, depth = o.depth ? o.depth : 2;
    const int64_t C = o.in_channels ? o.in_channels : 4, p = o.patch_size ? o.patch_size : 2;
    const int64_t S = o.input_size ? o.input_size : 8, K = o.num_classes ? o.num_classes : 10;
    const int64_t OC = o.no_sigma ? C : 2 * C, M = 4 * D, F = 256;
    if (D < 4 || D > 4096 || D % 4 || depth < 1 || depth > 64 || C < 1 || C > 64 || p < 1 || p > 8 || S < p ||
        S > 512 || S % p || K < 1 || K > 100000)
        return fokus_fail(err, FOKUS_EINVAL,
                          "dit.tiny: need hidden_size a multiple of 4 in 4..4096, depth 1..64, in_channels 1..64, "
                          "patch_size 1..8, input_size a multiple of patch_size up to 512, num_classes 1..100000");
    builder b = {NULL, 0, 0, seed, err};
    char s[160];
    fokus_status st;
    const int64_t g = S / p;
    if ((st = add(&b, "pos_embed", 3, (const int64_t[]){1, g * g, D}, 0, 0)) != FOKUS_OK) goto fail;
    if ((st = fokus_pos_embed_2d(b.e[b.n - 1].tensor.data, D, g, g, err)) != FOKUS_OK) goto fail;
    if ((st = add(&b, "x_embedder.proj.weight", 4, (const int64_t[]){D, C, p, p}, 0, 1 / sqrt((double)(C * p * p)))) ||
        (st = add(&b, "x_embedder.proj.bias", 1, (const int64_t[]){D}, 0, 0.02)) ||
        (st = linear(&b, "t_embedder.mlp.0", D, F, 1, 0.02)) || (st = linear(&b, "t_embedder.mlp.2", D, D, 1, 0.02)) ||
        (st = add(&b, "y_embedder.embedding_table.weight", 2, (const int64_t[]){K + 1, D}, 0, 0.5)))
        goto fail;
    for (int64_t i = 0; i < depth; i++) {
        static const struct {
            const char *name;
            int out_mul, in_mlp; /* out = out_mul * D (0: M); in = M when in_mlp */
            double gain, bias_std;
        } parts[] = {
            {"attn.qkv", 3, 0, 1, 0.02}, {"attn.proj", 1, 0, 0.5, 0.02}, {"mlp.fc1", 0, 0, 2, 0.02},
            {"mlp.fc2", 1, 1, 2, 0.02},  {"adaLN_modulation.1", 6, 0, 1, 0.1},
        };
        for (size_t j = 0; j < sizeof parts / sizeof *parts; j++) {
            snprintf(s, sizeof s, "blocks.%lld.%s", (long long)i, parts[j].name);
            int64_t rows = parts[j].out_mul ? parts[j].out_mul * D : M, cols = parts[j].in_mlp ? M : D;
            if ((st = linear(&b, s, rows, cols, parts[j].gain, parts[j].bias_std)) != FOKUS_OK) goto fail;
        }
    }
    if ((st = linear(&b, "final_layer.linear", p * p * OC, D, 0.5, 0.02)) ||
        (st = linear(&b, "final_layer.adaLN_modulation.1", 2 * D, D, 1, 0.1)))
        goto fail;
    *out = b.e;
    *n_out = b.n;
    return FOKUS_OK;
fail:
    fokus_st_entries_free(b.e, b.n);
    return st;
}
