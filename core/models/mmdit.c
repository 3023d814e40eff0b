/* SD3 MMDiT / MMDiT-X forward pass (models.md 4.3): patch embedding as one GEMM over
 * gathered patches plus the centre crop of the stored position table, timestep and
 * pooled-vector embedders, the context embedder, joint blocks (two streams with their
 * own adaLN, ONE flash attention over [context ; x] per block, the MMDiT-X image-only
 * attn2), the final layer and unpatchify into the caller's output tensor.
 *
 * Layout. The two streams live in their own row buffers (x [N*T, D], context
 * [N*Lc, D]) so that every per-stream GEMM, LayerNorm and MLP runs over all batch
 * entries at once. Only q, k, v are interleaved: qkv is [N, Lc + T, 3D] with each batch
 * entry's context rows first, so the attention sees one joint sequence per entry with
 * a uniform row stride and writes its heads merged into a [N, Lc + T, D] buffer. The
 * projections into and out of that joint layout are one GEMM per stream and batch
 * entry. All activations are in the context's scratch (slots MODEL and MODEL2): a pass
 * allocates nothing but f32 copies of non-f32 inputs, the trace and the attention map
 * when they are asked for. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fokus.h"
#include "mmdit_internal.h"

void fokus_mmdit_trace_free(fokus_mmdit_trace *tr)
{
    if (!tr) return;
    fokus_tensor_release(&tr->pos_embed);
    fokus_tensor_release(&tr->x_tokens);
    fokus_tensor_release(&tr->t_freq);
    fokus_tensor_release(&tr->t_emb);
    fokus_tensor_release(&tr->y_emb);
    fokus_tensor_release(&tr->c);
    fokus_tensor_release(&tr->context_tokens);
    fokus_tensor_release(&tr->final_tokens);
    for (int i = 0; i < tr->n_blocks; i++) {
        if (tr->block_x) fokus_tensor_release(&tr->block_x[i]);
        if (tr->block_context) fokus_tensor_release(&tr->block_context[i]);
    }
    free(tr->block_x);
    free(tr->block_context);
    memset(tr, 0, sizeof *tr);
}

/* An f32 contiguous copy (or reference) of a float input, checked to be finite. */
static fokus_status finite_f32(const char *name, const char *what, const fokus_tensor *src, fokus_tensor *dst,
                               fokus_error *err)
{
    fokus_status st = fokus_tensor_f32(dst, src, err);
    if (st != FOKUS_OK) return st;
    int64_t bad = fokus_first_nonfinite(dst->data, fokus_tensor_numel(dst));
    if (bad >= 0) {
        char a[128];
        double v = ((const float *)dst->data)[bad];
        fokus_tensor_release(dst);
        return fokus_fail(err, FOKUS_EINVAL, "mmdit: %s has %s at %s; %s must be finite", name, isnan(v) ? "NaN" : "inf",
                          fokus_index_where(a, sizeof a, src, bad), what);
    }
    return FOKUS_OK;
}

typedef struct inputs {
    fokus_tensor x, ctx, y;   /* f32 contiguous */
    float *t;                 /* [N] */
} inputs;

static void inputs_free(inputs *in)
{
    fokus_tensor_release(&in->x), fokus_tensor_release(&in->ctx), fokus_tensor_release(&in->y);
    free(in->t);
}

static fokus_status check_inputs(const fokus_mmdit *m, const fokus_tensor *x, const fokus_tensor *t,
                                 const fokus_tensor *context, const fokus_tensor *y, const fokus_tensor *out,
                                 inputs *in, fokus_error *err)
{
    const fokus_mmdit_config *c = &m->cfg;
    char a[128], b[128];
    if (x->ndim != 4 || !fokus_dtype_is_float(x->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "mmdit: x must be a float tensor [N, C, H, W], got %s %s",
                          fokus_dtype_name(x->dtype), fokus_shape_str(x, a, sizeof a));
    const int64_t N = x->shape[0], H = x->shape[2], W = x->shape[3], p = c->patch_size, Mx = c->pos_embed_max_size;
    if (x->shape[1] != c->in_channels)
        return fokus_fail(err, FOKUS_EINVAL, "mmdit: x has %lld channels, the model takes %lld (x is %s)",
                          (long long)x->shape[1], (long long)c->in_channels, fokus_shape_str(x, a, sizeof a));
    if (N < 1 || H < p || W < p || H % p || W % p)
        return fokus_fail(err, FOKUS_EINVAL,
                          "mmdit: x is %s: N must be >= 1 and H, W positive multiples of the patch size %lld",
                          fokus_shape_str(x, a, sizeof a), (long long)p);
    if (H / p > Mx || W / p > Mx)
        return fokus_fail(err, FOKUS_EINVAL,
                          "mmdit: x is %s, a %lldx%lld patch grid; the position table covers %lldx%lld patches "
                          "(latents up to %lldx%lld)", fokus_shape_str(x, a, sizeof a), (long long)(H / p),
                          (long long)(W / p), (long long)Mx, (long long)Mx, (long long)(Mx * p), (long long)(Mx * p));
    if (t->ndim != 1 || t->shape[0] != N || t->dtype == FOKUS_BOOL)
        return fokus_fail(err, FOKUS_EINVAL,
                          "mmdit: t must be a numeric tensor [%lld] (one timestep per batch entry), got %s %s",
                          (long long)N, fokus_dtype_name(t->dtype), fokus_shape_str(t, a, sizeof a));
    if (context->ndim != 3 || !fokus_dtype_is_float(context->dtype) || context->shape[0] != N ||
        context->shape[2] != c->context_dim || context->shape[1] < 1)
        return fokus_fail(err, FOKUS_EINVAL, "mmdit: context must be a float tensor [%lld, T, %lld] with T >= 1, got %s %s",
                          (long long)N, (long long)c->context_dim, fokus_dtype_name(context->dtype),
                          fokus_shape_str(context, a, sizeof a));
    if (c->pooled_dim > 0) {
        if (!y || y->ndim != 2 || !fokus_dtype_is_float(y->dtype) || y->shape[0] != N || y->shape[1] != c->pooled_dim)
            return fokus_fail(err, FOKUS_EINVAL, "mmdit: y must be a float tensor [%lld, %lld] (the pooled text vector), got %s %s",
                              (long long)N, (long long)c->pooled_dim, y ? fokus_dtype_name(y->dtype) : "nothing",
                              y ? fokus_shape_str(y, a, sizeof a) : "");
    } else if (y && fokus_tensor_numel(y) != 0) {
        return fokus_fail(err, FOKUS_EINVAL, "mmdit: this model has no y_embedder, but y is %s",
                          fokus_shape_str(y, a, sizeof a));
    }
    int64_t want[4] = {N, c->out_channels, H, W};
    bool shape_ok = out->ndim == 4;
    for (int d = 0; shape_ok && d < 4; d++) shape_ok = out->shape[d] == want[d];
    if (!shape_ok || out->dtype != FOKUS_F32 || !fokus_tensor_is_contiguous(out) || !out->data)
        return fokus_fail(err, FOKUS_EINVAL, "mmdit: out must be a contiguous f32 tensor %lldx%lldx%lldx%lld, got %s %s",
                          (long long)N, (long long)c->out_channels, (long long)H, (long long)W,
                          fokus_dtype_name(out->dtype), fokus_shape_str(out, b, sizeof b));
    memset(in, 0, sizeof *in);
    in->t = malloc((size_t)N * sizeof *in->t);
    if (!in->t) return fokus_fail(err, FOKUS_ENOMEM, "mmdit: out of memory");
    for (int64_t i = 0; i < N; i++) {
        in->t[i] = (float)fokus_tensor_get(t, i);
        if (!isfinite(in->t[i])) {
            double v = in->t[i];
            inputs_free(in);
            return fokus_fail(err, FOKUS_EINVAL, "mmdit: t[%lld] is %g; timesteps (1000 * sigma) must be finite",
                              (long long)i + 1, v);
        }
    }
    fokus_status st;
    if ((st = finite_f32("x", "the latent", x, &in->x, err)) ||
        (st = finite_f32("context", "the text conditioning", context, &in->ctx, err)) ||
        (c->pooled_dim > 0 && (st = finite_f32("y", "the pooled vector", y, &in->y, err)))) {
        inputs_free(in);
        return st;
    }
    return FOKUS_OK;
}

/* ---------------------------------------------------------------- qk-norm */

typedef struct qkn_args {
    float *qkv;             /* first row; q at +0, k at +D */
    int64_t ld, D, dh;
    const mmdit_attn *at;
    fokus_qk_norm kind;
    float eps;
} qkn_args;

static void norm_head(float *v, int64_t n, const float *w, const float *b, fokus_qk_norm kind, float eps)
{
    if (kind == FOKUS_QK_RMS) {
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)v[i] * v[i];
        const float s = (float)(1.0 / sqrt(ss / (double)n + eps));
        for (int64_t i = 0; i < n; i++) v[i] = v[i] * s * w[i];
    } else {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < n; i++) mean += v[i];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++) var += ((double)v[i] - mean) * ((double)v[i] - mean);
        const float s = (float)(1.0 / sqrt(var / (double)n + eps)), mf = (float)mean;
        for (int64_t i = 0; i < n; i++) v[i] = (v[i] - mf) * s * w[i] + b[i];
    }
}

static void qknorm_rows(void *argp, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    const qkn_args *a = argp;
    for (int64_t r = begin; r < end; r++) {
        float *row = a->qkv + r * a->ld;
        for (int64_t h = 0; h < a->D / a->dh; h++) {
            norm_head(row + h * a->dh, a->dh, a->at->ln_q, a->at->ln_q_b, a->kind, a->eps);
            norm_head(row + a->D + h * a->dh, a->dh, a->at->ln_k, a->at->ln_k_b, a->kind, a->eps);
        }
    }
}

/* Per-head norm of q and k over `rows` rows of a qkv buffer (row stride ld). */
static void qk_norm(fokus_ctx *ctx, const fokus_mmdit *m, const mmdit_attn *at, float *qkv, int64_t ld, int64_t rows)
{
    const fokus_mmdit_config *c = &m->cfg;
    if (c->qk_norm == FOKUS_QK_NONE || rows <= 0) return;
    qkn_args a = {qkv, ld, c->hidden_size, c->hidden_size / c->num_heads, at, c->qk_norm, (float)c->qk_eps};
    fokus_parallel(ctx, rows, (16384 + 2 * a.D - 1) / (2 * a.D), qknorm_rows, &a);
}

/* ---------------------------------------------------------------- attention capture */

typedef struct cap_args {
    const float *s;          /* [T, Lc] logits of one (batch, head) */
    const float *lse;        /* [T] log-sum-exp of those queries over all keys */
    float *map;              /* [Lc, T] of this batch entry */
    int64_t T, Lc;
    float scale, w;
} cap_args;

static void cap_rows(void *argp, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    const cap_args *a = argp;
    for (int64_t i = begin; i < end; i++) {
        const float *s = a->s + i * a->Lc, l = a->lse[i];
        for (int64_t j = 0; j < a->Lc; j++) a->map[j * a->T + i] += a->w * expf(a->scale * s[j] - l);
    }
}

/* Adds w * P[image query -> text key] of every head of one block into map [N, Lc, T]:
 * the [T, Lc] block of logits per (batch, head) is one small GEMM over the normed q and
 * k still in the qkv buffer, and the flash kernel's lse turns it into probabilities of
 * the full softmax over Lc + T keys. */
static fokus_status capture(fokus_ctx *ctx, const float *qkv, const fokus_tensor *lse, int64_t N, int64_t Hh,
                            int64_t Lc, int64_t T, int64_t D, float w, float *map, fokus_error *err)
{
    const int64_t L = Lc + T, dh = D / Hh;
    float *s = fokus_ctx_scratch(ctx, FOKUS_SCRATCH_TMP, 0, (size_t)(T * Lc) * sizeof(float));
    if (!s) return fokus_fail(err, FOKUS_ENOMEM, "mmdit: cannot allocate the attention capture buffer");
    const float *lv = lse->data;
    for (int64_t b = 0; b < N; b++)
        for (int64_t h = 0; h < Hh; h++) {
            const float *base = qkv + b * L * 3 * D;
            fokus_status st = fokus_gemm(ctx, T, Lc, dh, base + Lc * 3 * D + h * dh, 3 * D, base + D + h * dh, FOKUS_F32,
                                         true, 3 * D, NULL, false, s, Lc, err);
            if (st != FOKUS_OK) return st;
            cap_args a = {s, lv + (b * Hh + h) * L + Lc, map + b * Lc * T, T, Lc, (float)(1.0 / sqrt((double)dh)), w};
            fokus_parallel(ctx, T, 64, cap_rows, &a);
        }
    return FOKUS_OK;
}

/* ---------------------------------------------------------------- forward */

fokus_status fokus_mmdit_forward(fokus_ctx *ctx, const fokus_mmdit *m, const fokus_tensor *x, const fokus_tensor *t,
                                 const fokus_tensor *context, const fokus_tensor *y, const fokus_mmdit_opts *opts,
                                 fokus_tensor *out, fokus_error *err)
{
    const fokus_mmdit_config *c = &m->cfg;
    fokus_mmdit_trace *trace = opts ? opts->trace : NULL;
    const uint8_t *capflags = opts ? opts->attention_blocks : NULL;
    fokus_tensor *attn_out = opts ? opts->attention : NULL;
    if (trace) memset(trace, 0, sizeof *trace);
    if (attn_out) memset(attn_out, 0, sizeof *attn_out);
    int ncap = 0;
    for (int64_t i = 0; capflags && i < c->depth; i++) ncap += capflags[i] != 0;
    if (capflags && !attn_out) return fokus_fail(err, FOKUS_EINVAL, "mmdit: attention capture needs an output tensor");
    inputs in;
    fokus_status st = check_inputs(m, x, t, context, y, out, &in, err);
    if (st != FOKUS_OK) return st;

    const int64_t N = x->shape[0], C = c->in_channels, H = x->shape[2], W = x->shape[3], p = c->patch_size;
    const int64_t gh = H / p, gw = W / p, T = gh * gw, Lc = context->shape[1], L = Lc + T;
    const int64_t D = c->hidden_size, M = c->mlp_hidden, F = c->freq_dim, OC = c->out_channels, A = c->pooled_dim;
    const int64_t X = c->context_dim, PP = C * p * p, PO = p * p * OC, Hh = c->num_heads, dh = D / Hh;
    const int64_t RX = N * T, RC = N * Lc, rows = RX > RC ? RX : RC;
    int64_t wide = M;
    if (PP > wide) wide = PP;
    if (PO > wide) wide = PO;
    /* MODEL: xs [RX,D] | cx [RC,D] | hx [RX,D] | hc [RC,D] | qkv [N*L,3D] | a [N*L,D] | f [rows,wide] | x2 [RX,D]
     * MODEL2: tf [N,F] | temb | yemb | cv | sc | tmp [N,D] each | modc [N,6D] | modx [N,9D] | pos [T,D] */
    const int64_t x2n = c->n_attn2 > 0 ? RX * D : 0;
    size_t big = (size_t)(2 * RX * D + 2 * RC * D + N * L * 4 * D + rows * wide + x2n);
    size_t small = (size_t)(N * (F + 5 * D + 15 * D) + T * D);
    float *xs = fokus_ctx_scratch(ctx, FOKUS_SCRATCH_MODEL, 0, big * sizeof(float));
    float *cs = fokus_ctx_scratch(ctx, FOKUS_SCRATCH_MODEL2, 0, small * sizeof(float));
    if (!xs || !cs) {
        st = fokus_fail(err, FOKUS_ENOMEM, "mmdit: cannot allocate %zu bytes of scratch", (big + small) * sizeof(float));
        goto done;
    }
    float *cx = xs + RX * D, *hx = cx + RC * D, *hc = hx + RX * D, *qkv = hc + RC * D, *a = qkv + N * L * 3 * D;
    float *f = a + N * L * D, *x2 = f + rows * wide;
    float *tf = cs, *temb = tf + N * F, *yemb = temb + N * D, *cv = yemb + N * D, *sc = cv + N * D, *tmp = sc + N * D;
    float *modc = tmp + N * D, *modx = modc + N * 6 * D, *pos = modx + N * 9 * D;
    if (attn_out && capflags) {
        int64_t shp[4] = {N, Lc, gh, gw};
        if ((st = fokus_tensor_new(attn_out, FOKUS_F32, 4, shp, err)) != FOKUS_OK) goto done;
    }

    /* X = patchify(x) · Wᵀ + b + centre crop of pos_embed */
    fokus_patchify(f, in.x.data, N, C, H, W, p);
    if ((st = fokus_linear_rows(ctx, f, PP, RX, &m->x_w, m->x_b, false, xs, D, err)) != FOKUS_OK) goto done;
    if ((st = fokus_pos_embed_crop(pos, &m->pos, gh, gw, err)) != FOKUS_OK) goto done;
    for (int64_t r = 0; r < RX; r++) {
        const float *pr = pos + (r % T) * D;
        float *xr = xs + r * D;
        for (int64_t j = 0; j < D; j++) xr[j] += pr[j];
    }
    /* c = MLP_t(t_freq) + MLP_y(y) */
    if ((st = fokus_timestep_features(tf, in.t, N, F, c->max_period, err)) != FOKUS_OK) goto done;
    if ((st = fokus_linear_rows(ctx, tf, F, N, &m->t1, m->t1_b, false, tmp, D, err)) != FOKUS_OK) goto done;
    fokus_activate(ctx, tmp, N * D, FOKUS_ACT_SILU);
    if ((st = fokus_linear_rows(ctx, tmp, D, N, &m->t2, m->t2_b, false, temb, D, err)) != FOKUS_OK) goto done;
    if (A > 0) {
        if ((st = fokus_linear_rows(ctx, in.y.data, A, N, &m->y1, m->y1_b, false, tmp, D, err)) != FOKUS_OK) goto done;
        fokus_activate(ctx, tmp, N * D, FOKUS_ACT_SILU);
        if ((st = fokus_linear_rows(ctx, tmp, D, N, &m->y2, m->y2_b, false, yemb, D, err)) != FOKUS_OK) goto done;
    } else {
        memset(yemb, 0, (size_t)(N * D) * sizeof(float));
    }
    for (int64_t i = 0; i < N * D; i++) cv[i] = temb[i] + yemb[i];
    fokus_silu_copy(ctx, sc, cv, N * D);
    /* context stream */
    if ((st = fokus_linear_rows(ctx, in.ctx.data, X, RC, &m->ctx_w, m->ctx_b, false, cx, D, err)) != FOKUS_OK) goto done;
    if (trace) {
        if ((st = fokus_trace_keep(&trace->pos_embed, pos, 3, 1, T, D, err)) || (st = fokus_trace_keep(&trace->x_tokens, xs, 3, N, T, D, err)) ||
            (st = fokus_trace_keep(&trace->t_freq, tf, 2, N, F, 0, err)) || (st = fokus_trace_keep(&trace->t_emb, temb, 2, N, D, 0, err)) ||
            (A > 0 && (st = fokus_trace_keep(&trace->y_emb, yemb, 2, N, D, 0, err))) || (st = fokus_trace_keep(&trace->c, cv, 2, N, D, 0, err)) ||
            (st = fokus_trace_keep(&trace->context_tokens, cx, 3, N, Lc, D, err)))
            goto done;
        trace->block_x = calloc((size_t)c->depth, sizeof *trace->block_x);
        trace->block_context = calloc((size_t)c->depth, sizeof *trace->block_context);
        if (!trace->block_x || !trace->block_context) {
            st = fokus_fail(err, FOKUS_ENOMEM, "mmdit: out of memory");
            goto done;
        }
        trace->n_blocks = (int)c->depth;
    }

    /* joint q, k, v: [N, H, L, dh] views of the [N*L, 3D] buffer; the attention writes
     * its heads merged into the [N*L, D] buffer through a [N, H, L, dh] view */
    int64_t qshape[4] = {N, Hh, L, dh}, qstride[4] = {L * 3 * D, dh, 3 * D, 1}, astride[4] = {L * D, dh, D, 1};
    fokus_tensor q, k, v, av;
    fokus_tensor_borrow(&q, qkv, FOKUS_F32, 4, qshape, qstride);
    fokus_tensor_borrow(&k, qkv + D, FOKUS_F32, 4, qshape, qstride);
    fokus_tensor_borrow(&v, qkv + 2 * D, FOKUS_F32, 4, qshape, qstride);
    fokus_tensor_borrow(&av, a, FOKUS_F32, 4, qshape, astride);
    /* MMDiT-X attn2: over the x tokens only, [N, H, T, dh] views of the first N*T rows */
    int64_t q2shape[4] = {N, Hh, T, dh}, q2stride[4] = {T * 3 * D, dh, 3 * D, 1}, a2stride[4] = {T * D, dh, D, 1};
    fokus_tensor q2, k2, v2, av2;
    fokus_tensor_borrow(&q2, qkv, FOKUS_F32, 4, q2shape, q2stride);
    fokus_tensor_borrow(&k2, qkv + D, FOKUS_F32, 4, q2shape, q2stride);
    fokus_tensor_borrow(&v2, qkv + 2 * D, FOKUS_F32, 4, q2shape, q2stride);
    fokus_tensor_borrow(&av2, hx, FOKUS_F32, 4, q2shape, a2stride);
    const float eps = (float)c->eps;
    fokus_attend_opts ao;
    memset(&ao, 0, sizeof ao);
    for (int64_t i = 0; i < c->depth; i++) {
        const mmdit_stream *bc = &m->blocks[i].ctx, *bx = &m->blocks[i].x;
        const int64_t nc = bc->n_mod, nx = bx->n_mod;
        if (fokus_ctx_interrupted(ctx)) {
            st = fokus_fail(err, FOKUS_EINTERRUPT, "mmdit: interrupted");
            goto done;
        }
        /* modulation chunks: ctx (sh1, sc1, g1, sh2, sc2, g2) or (sh1, sc1) when pre_only;
         * x the same, plus (sh3, sc3, g3) for MMDiT-X */
        if ((st = fokus_linear_rows(ctx, sc, D, N, &bc->ada, bc->b_ada, false, modc, nc * D, err)) ||
            (st = fokus_linear_rows(ctx, sc, D, N, &bx->ada, bx->b_ada, false, modx, nx * D, err)))
            goto done;
        fokus_adaln_modulate(ctx, hc, D, cx, D, N, Lc, D, modc, modc + D, nc * D, eps);
        fokus_adaln_modulate(ctx, hx, D, xs, D, N, T, D, modx, modx + D, nx * D, eps);
        for (int64_t b = 0; b < N; b++) {
            float *qc = qkv + b * L * 3 * D, *qx = qc + Lc * 3 * D;
            if ((st = fokus_linear_rows(ctx, hc + b * Lc * D, D, Lc, &bc->attn.qkv, bc->attn.b_qkv, false, qc, 3 * D, err)) ||
                (st = fokus_linear_rows(ctx, hx + b * T * D, D, T, &bx->attn.qkv, bx->attn.b_qkv, false, qx, 3 * D, err)))
                goto done;
            qk_norm(ctx, m, &bc->attn, qc, 3 * D, Lc);
            qk_norm(ctx, m, &bx->attn, qx, 3 * D, T);
        }
        const bool cap = capflags && capflags[i];
        fokus_tensor lse = {0};
        ao.want_lse = cap;
        st = fokus_attend_into(ctx, &q, &k, &v, &ao, &av, cap ? &lse : NULL, NULL, err);
        if (st == FOKUS_OK && cap)
            st = capture(ctx, qkv, &lse, N, Hh, Lc, T, D, 1.0f / (float)(Hh * ncap), attn_out->data, err);
        fokus_tensor_release(&lse);
        if (st != FOKUS_OK) goto done;
        /* MMDiT-X: attn2 over the x tokens, from LN(X) of the block's input (so before X
         * changes), modulated by (sh3, sc3); its projection waits in x2 for the gate g3 */
        if (bx->has_attn2) {
            fokus_adaln_modulate(ctx, hx, D, xs, D, N, T, D, modx + 6 * D, modx + 7 * D, nx * D, eps);
            if ((st = fokus_linear_rows(ctx, hx, D, RX, &bx->attn2.qkv, bx->attn2.b_qkv, false, qkv, 3 * D, err)) != FOKUS_OK)
                goto done;
            qk_norm(ctx, m, &bx->attn2, qkv, 3 * D, RX);
            if ((st = fokus_attend_into(ctx, &q2, &k2, &v2, NULL, &av2, NULL, NULL, err)) ||
                (st = fokus_linear_rows(ctx, hx, D, RX, &bx->attn2.proj, bx->attn2.b_proj, false, x2, D, err)))
                goto done;
        }
        /* context stream: dropped after a pre_only block (only its q, k, v were needed) */
        if (!bc->pre_only) {
            for (int64_t b = 0; b < N; b++)
                if ((st = fokus_linear_rows(ctx, a + b * L * D, D, Lc, &bc->attn.proj, bc->attn.b_proj, false,
                                            hc + b * Lc * D, D, err)) != FOKUS_OK)
                    goto done;
            fokus_gated_add(ctx, cx, D, hc, D, N, Lc, D, modc + 2 * D, nc * D);
            fokus_adaln_modulate(ctx, hc, D, cx, D, N, Lc, D, modc + 3 * D, modc + 4 * D, nc * D, eps);
            if ((st = fokus_linear_rows(ctx, hc, D, RC, &bc->fc1, bc->b_fc1, false, f, M, err)) != FOKUS_OK) goto done;
            fokus_activate(ctx, f, RC * M, FOKUS_ACT_GELU_TANH);
            if ((st = fokus_linear_rows(ctx, f, M, RC, &bc->fc2, bc->b_fc2, false, hc, D, err)) != FOKUS_OK) goto done;
            fokus_gated_add(ctx, cx, D, hc, D, N, Lc, D, modc + 5 * D, nc * D);
        }
        /* x stream */
        for (int64_t b = 0; b < N; b++)
            if ((st = fokus_linear_rows(ctx, a + (b * L + Lc) * D, D, T, &bx->attn.proj, bx->attn.b_proj, false,
                                        hx + b * T * D, D, err)) != FOKUS_OK)
                goto done;
        fokus_gated_add(ctx, xs, D, hx, D, N, T, D, modx + 2 * D, nx * D);
        if (bx->has_attn2) fokus_gated_add(ctx, xs, D, x2, D, N, T, D, modx + 8 * D, nx * D);
        fokus_adaln_modulate(ctx, hx, D, xs, D, N, T, D, modx + 3 * D, modx + 4 * D, nx * D, eps);
        if ((st = fokus_linear_rows(ctx, hx, D, RX, &bx->fc1, bx->b_fc1, false, f, M, err)) != FOKUS_OK) goto done;
        fokus_activate(ctx, f, RX * M, FOKUS_ACT_GELU_TANH);
        if ((st = fokus_linear_rows(ctx, f, M, RX, &bx->fc2, bx->b_fc2, false, hx, D, err)) != FOKUS_OK) goto done;
        fokus_gated_add(ctx, xs, D, hx, D, N, T, D, modx + 5 * D, nx * D);
        if (trace && ((st = fokus_trace_keep(&trace->block_x[i], xs, 3, N, T, D, err)) ||
                      (!bc->pre_only && (st = fokus_trace_keep(&trace->block_context[i], cx, 3, N, Lc, D, err)))))
            goto done;
    }
    /* final layer: (shift, scale) = split2(Linear(SiLU(c))), then p*p*out values per
     * token, scattered back to pixels */
    if ((st = fokus_linear_rows(ctx, sc, D, N, &m->f_ada, m->f_ada_b, false, modx, 2 * D, err)) != FOKUS_OK) goto done;
    fokus_adaln_modulate(ctx, hx, D, xs, D, N, T, D, modx, modx + D, 2 * D, eps);
    if ((st = fokus_linear_rows(ctx, hx, D, RX, &m->f_lin, m->f_lin_b, false, f, PO, err)) != FOKUS_OK) goto done;
    if (trace && (st = fokus_trace_keep(&trace->final_tokens, f, 3, N, T, PO, err)) != FOKUS_OK) goto done;
    fokus_unpatchify(out->data, f, PO, N, OC, H, W, p);
done:
    if (st != FOKUS_OK) {
        if (trace) fokus_mmdit_trace_free(trace);
        if (attn_out) fokus_tensor_release(attn_out);
    }
    inputs_free(&in);
    return st;
}
