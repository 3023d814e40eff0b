/* adaLN-Zero plumbing of the diffusion transformer blocks (models.md 3.3, 4.3): the
 * conditioning vector c modulates every token of its batch entry through per-channel
 * shift, scale and gate rows computed by one small GEMM per block. These loops are
 * memory-bound next to the block's GEMMs; they run over rows on the context's pool. */
#include "models_internal.h"

typedef struct mod_args {
    float *y;
    const float *x, *shift, *scale, *r;
    int64_t ldy, ldx, ldr, tokens, d, ldmod;
} mod_args;

static void modulate_rows(void *argp, int64_t begin, int64_t end, int worker)
{
    const mod_args *a = argp;
    for (int64_t row = begin; row < end; row++) {
        const int64_t b = row / a->tokens;
        const float *sh = a->shift + b * a->ldmod, *sc = a->scale + b * a->ldmod;
        float *y = a->y + row * a->ldy;
        for (int64_t j = 0; j < a->d; j++) y[j] = y[j] * (1.0f + sc[j]) + sh[j];
    }
}

void fokus_adaln_modulate(fokus_ctx *ctx, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t batch,
                          int64_t tokens, int64_t d, const float *shift, const float *scale, int64_t ldmod, float eps)
{
    const int64_t rows = batch * tokens;
    if (rows <= 0 || d <= 0) return;
    fokus_layernorm(ctx, y, ldy, x, ldx, rows, d, NULL, NULL, eps);
    mod_args a = {y, NULL, shift, scale, NULL, ldy, 0, 0, tokens, d, ldmod};
    fokus_parallel(ctx, rows, (65536 + d - 1) / d, modulate_rows, &a);
}

static void gated_rows(void *argp, int64_t begin, int64_t end, int worker)
{
    const mod_args *a = argp;
    for (int64_t row = begin; row < end; row++) {
        const float *g = a->scale + (row / a->tokens) * a->ldmod, *r = a->r + row * a->ldr;
        float *x = a->y + row * a->ldy;
        for (int64_t j = 0; j < a->d; j++) x[j] += g[j] * r[j];
    }
}

void fokus_gated_add(fokus_ctx *ctx, float *x, int64_t ldx, const float *r, int64_t ldr, int64_t batch, int64_t tokens,
                     int64_t d, const float *gate, int64_t ldmod)
{
    const int64_t rows = batch * tokens;
    if (rows <= 0 || d <= 0) return;
    mod_args a = {x, NULL, NULL, gate, r, ldx, 0, ldr, tokens, d, ldmod};
    fokus_parallel(ctx, rows, (65536 + d - 1) / d, gated_rows, &a);
}

void fokus_silu_copy(fokus_ctx *ctx, float *dst, const float *src, int64_t n)
{
    if (dst != src)
        for (int64_t i = 0; i < n; i++) dst[i] = src[i];
    fokus_activate(ctx, dst, n, FOKUS_ACT_SILU);
}
