/* fokus.clip.tiny: a small CLIP-shaped text model with seeded random weights, so demos
 * and tests run without downloading a checkpoint. It uses the real CLIP vocabulary
 * size (ids from the real tokenizer are valid) and HF naming. The weights are scaled
 * like the oracles' (LayerNorm gains near 1, std 1/sqrt(fan_in) matrices, small
 * embeddings), so every path changes the output; it is not a trained model. */
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

fokus_status fokus_tiny_add(fokus_st_entry **e, size_t *n, size_t *cap, uint64_t seed, const char *who,
                            const char *name, int ndim, const int64_t *shape, double mean, double std,
                            fokus_error *err)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        fokus_st_entry *ne = realloc(*e, c * sizeof *ne);
        if (!ne) return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", who);
        *e = ne;
        *cap = c;
    }
    fokus_st_entry *x = &(*e)[*n];
    fokus_status st = fokus_tensor_empty(&x->tensor, FOKUS_F32, ndim, shape, err);
    if (st != FOKUS_OK) return st;
    x->name = strdup(name);
    if (!x->name) {
        fokus_tensor_release(&x->tensor);
        return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", who);
    }
    (*n)++;
    fokus_rng r;
    fokus_rng_init(&r, seed * 1000003u + *n);
    float *v = x->tensor.data;
    int64_t k = fokus_tensor_numel(&x->tensor);
    fokus_rng_normal_n(&r, v, (size_t)k);
    for (int64_t i = 0; i < k; i++) v[i] = (float)(mean + std * v[i]);
    return FOKUS_OK;
}

/* values = mean + std * N(0, 1) from the tensor's own stream (see fokus_tiny_add) */
static fokus_status add(builder *b, const char *name, int ndim, int64_t d0, int64_t d1, double mean, double std)
{
    int64_t shape[2] = {d0, d1};
    return fokus_tiny_add(&b->e, &b->n, &b->cap, b->seed, "clip.tiny", name, ndim, shape, mean, std, b->err);
}

void fokus_st_entries_free(fokus_st_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
        fokus_tensor_release(&e[i].tensor);
    }
    free(e);
}

fokus_status fokus_clip_tiny_weights(uint64_t seed, int64_t width, int64_t layers, fokus_st_entry **out, size_t *n_out,
                                     fokus_error *err)
{
    *out = NULL;
    *n_out = 0;
    if (width < 16 || width > 4096 || width % 16 != 0 || layers < 1 || layers > 64)
        return fokus_fail(err, FOKUS_EINVAL, "clip.tiny: width must be a multiple of 16 in 16..4096 and layers 1..64");
    const int64_t V = 49408, T = 77, D = width, I = 4 * width;
    builder b = {NULL, 0, 0, seed, err};
    char s[160];
    fokus_status st;
    double gd = 1.0 / sqrt((double)D), gi = 1.0 / sqrt((double)I);
    if ((st = add(&b, "text_model.embeddings.token_embedding.weight", 2, V, D, 0, 0.02)) ||
        (st = add(&b, "text_model.embeddings.position_embedding.weight", 2, T, D, 0, 0.01)))
        goto fail;
    for (int64_t l = 0; l < layers; l++) {
        static const struct {
            const char *name;
            int rows_i; /* 1: rows = I */
            int cols_i; /* 1: cols = I, 0: D, -1: a vector */
            double mean, std_scale; /* std = std_scale * (1/sqrt(fan_in)) for matrices */
        } parts[] = {
            {"layer_norm1.weight", 0, -1, 1, 0.1},      {"layer_norm1.bias", 0, -1, 0, 0.05},
            {"self_attn.q_proj.weight", 0, 0, 0, 1},    {"self_attn.q_proj.bias", 0, -1, 0, 0.02},
            {"self_attn.k_proj.weight", 0, 0, 0, 1},    {"self_attn.k_proj.bias", 0, -1, 0, 0.02},
            {"self_attn.v_proj.weight", 0, 0, 0, 0.5},  {"self_attn.v_proj.bias", 0, -1, 0, 0.02},
            {"self_attn.out_proj.weight", 0, 0, 0, 0.5}, {"self_attn.out_proj.bias", 0, -1, 0, 0.02},
            {"layer_norm2.weight", 0, -1, 1, 0.1},      {"layer_norm2.bias", 0, -1, 0, 0.05},
            {"mlp.fc1.weight", 1, 0, 0, 2},             {"mlp.fc1.bias", 1, -1, 0, 0.02},
            {"mlp.fc2.weight", 0, 1, 0, 0.5},           {"mlp.fc2.bias", 0, -1, 0, 0.02},
        };
        for (size_t j = 0; j < sizeof parts / sizeof *parts; j++) {
            snprintf(s, sizeof s, "text_model.encoder.layers.%lld.%s", (long long)l, parts[j].name);
            int64_t rows = parts[j].rows_i ? I : D;
            if (parts[j].cols_i < 0)
                st = add(&b, s, 1, rows, 0, parts[j].mean, parts[j].std_scale);
            else
                st = add(&b, s, 2, rows, parts[j].cols_i ? I : D, 0, parts[j].std_scale * (parts[j].cols_i ? gi : gd));
            if (st != FOKUS_OK) goto fail;
        }
    }
    if ((st = add(&b, "text_model.final_layer_norm.weight", 1, D, 0, 1, 0.1)) ||
        (st = add(&b, "text_model.final_layer_norm.bias", 1, D, 0, 0, 0.05)) ||
        (st = add(&b, "text_projection.weight", 2, D, D, 0, gd)))
        goto fail;
    *out = b.e;
    *n_out = b.n;
    return FOKUS_OK;
fail:
    fokus_st_entries_free(b.e, b.n);
    return st;
}
