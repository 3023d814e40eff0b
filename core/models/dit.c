/* DiT forward pass (models.md 3.3): patch embedding as one GEMM over gathered patches,
 * position table, timestep and label embedders, adaLN-Zero blocks (modulation GEMM from
 * SiLU(c), flash attention with the heads written merged, GELU-tanh MLP), the final
 * layer and unpatchify into the caller's output tensor.
 *
 * The token stream x [R, D] (R = N*T rows) and the block temporaries live in one
 * scratch block of the context (slot MODEL), the per-batch conditioning in another
 * (MODEL2), so a pass allocates nothing but the trace it is asked for. Biases and the
 * attention's output projection are fused into the GEMMs; the gated residuals cannot
 * be (the gate is per batch entry and channel), so those go through one small pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dit_internal.h"

void fokus_dit_trace_free(fokus_dit_trace *tr)
{
    if (!tr) return;
    fokus_tensor_release(&tr->x_tokens);
    fokus_tensor_release(&tr->t_freq);
    fokus_tensor_release(&tr->t_emb);
    fokus_tensor_release(&tr->y_emb);
    fokus_tensor_release(&tr->c);
    fokus_tensor_release(&tr->final_tokens);
    for (int i = 0; i < tr->n_blocks; i++) fokus_tensor_release(&tr->blocks[i]);
    free(tr->blocks);
    memset(tr, 0, sizeof *tr);
}

/* Checks x, t and y against the model and reads t and y: xf (f32 contiguous x, a new
 * reference), tv [N] floats and yv [N] labels into the caller's arrays. */
static fokus_status check_inputs(const fokus_dit *m, const fokus_tensor *x, const fokus_tensor *t, const fokus_tensor *y,
                                 const fokus_tensor *out, fokus_tensor *xf, float *tv, int64_t *yv, fokus_error *err)
{
    const fokus_dit_config *c = &m->cfg;
    char a[128], b[128];
    if (x->ndim != 4 || !fokus_dtype_is_float(x->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "dit: x must be a float tensor [N, C, H, W], got %s %s",
                          fokus_dtype_name(x->dtype), fokus_shape_str(x, a, sizeof a));
    const int64_t N = x->shape[0], H = x->shape[2], W = x->shape[3], p = c->patch_size;
    if (x->shape[1] != c->in_channels)
        return fokus_fail(err, FOKUS_EINVAL, "dit: x has %lld channels, the model takes %lld (x is %s)",
                          (long long)x->shape[1], (long long)c->in_channels, fokus_shape_str(x, a, sizeof a));
    if (N < 1 || H < p || W < p || H % p || W % p)
        return fokus_fail(err, FOKUS_EINVAL, "dit: x is %s: N must be >= 1 and H, W positive multiples of the patch size %lld",
                          fokus_shape_str(x, a, sizeof a), (long long)p);
    if (t->ndim != 1 || t->shape[0] != N || t->dtype == FOKUS_BOOL)
        return fokus_fail(err, FOKUS_EINVAL, "dit: t must be a numeric tensor [%lld] (one timestep per batch entry), got %s %s",
                          (long long)N, fokus_dtype_name(t->dtype), fokus_shape_str(t, a, sizeof a));
    if (y->ndim != 1 || y->shape[0] != N || fokus_dtype_is_float(y->dtype) || y->dtype == FOKUS_BOOL)
        return fokus_fail(err, FOKUS_EINVAL, "dit: y must be an integer tensor [%lld] (one label per batch entry), got %s %s",
                          (long long)N, fokus_dtype_name(y->dtype), fokus_shape_str(y, a, sizeof a));
    int64_t want[4] = {N, c->out_channels, H, W};
    bool shape_ok = out->ndim == 4;
    for (int d = 0; shape_ok && d < 4; d++) shape_ok = out->shape[d] == want[d];
    if (!shape_ok || out->dtype != FOKUS_F32 || !fokus_tensor_is_contiguous(out) || !out->data)
        return fokus_fail(err, FOKUS_EINVAL, "dit: out must be a contiguous f32 tensor %lldx%lldx%lldx%lld, got %s %s",
                          (long long)N, (long long)c->out_channels, (long long)H, (long long)W,
                          fokus_dtype_name(out->dtype), fokus_shape_str(out, b, sizeof b));
    const int64_t K = c->num_classes, top = c->null_class ? K : K - 1;
    for (int64_t i = 0; i < N; i++) {
        tv[i] = (float)fokus_tensor_get(t, i);
        if (!isfinite(tv[i]))
            return fokus_fail(err, FOKUS_EINVAL, "dit: t[%lld] is %g; timesteps must be finite", (long long)i + 1,
                              (double)tv[i]);
        yv[i] = fokus_tensor_get_i64(y, i);
        if (yv[i] < 0 || yv[i] > top)
            return fokus_fail(err, FOKUS_EINVAL, "dit: label %lld at y[%lld] is outside 0..%lld%s", (long long)yv[i],
                              (long long)i + 1, (long long)top,
                              c->null_class ? " (the last one is the null class)" : " (the model has no null class)");
    }
    fokus_status st = fokus_tensor_f32(xf, x, err);
    if (st != FOKUS_OK) return st;
    int64_t bad = fokus_first_nonfinite(xf->data, fokus_tensor_numel(xf));
    if (bad >= 0) {
        double v = ((const float *)xf->data)[bad];
        fokus_tensor_release(xf);
        return fokus_fail(err, FOKUS_EINVAL, "dit: x has %s at %s; the latent must be finite", isnan(v) ? "NaN" : "inf",
                          fokus_index_where(a, sizeof a, x, bad));
    }
    return FOKUS_OK;
}

fokus_status fokus_dit_forward(fokus_ctx *ctx, const fokus_dit *m, const fokus_tensor *x, const fokus_tensor *t,
                               const fokus_tensor *y, fokus_tensor *out, fokus_dit_trace *trace, fokus_error *err)
{
    const fokus_dit_config *c = &m->cfg;
    if (trace) memset(trace, 0, sizeof *trace);
    /* the batch size only sizes the label arrays here; check_inputs validates it */
    const int64_t N0 = x->ndim == 4 && x->shape[0] > 0 ? x->shape[0] : 1;
    float *tv = malloc((size_t)N0 * sizeof *tv);
    int64_t *yv = malloc((size_t)N0 * sizeof *yv);
    fokus_tensor xf = {0};
    fokus_status st = tv && yv ? check_inputs(m, x, t, y, out, &xf, tv, yv, err) : fokus_fail(err, FOKUS_ENOMEM, "dit: out of memory");
    if (st != FOKUS_OK) {
        free(tv), free(yv);
        return st;
    }
    const int64_t N = N0, C = c->in_channels, H = x->shape[2], W = x->shape[3], p = c->patch_size;
    const int64_t gh = H / p, gw = W / p, T = gh * gw, R = N * T, D = c->hidden_size, M = c->mlp_hidden;
    const int64_t F = c->freq_dim, OC = c->out_channels, PP = C * p * p, PO = p * p * OC;
    const int64_t Hh = c->num_heads, dh = D / Hh;
    int64_t wide = M;
    if (PP > wide) wide = PP;
    if (PO > wide) wide = PO;
    /* MODEL: x [R,D] | h [R,D] | qkv [R,3D] | a [R,D] | f [R,wide]
     * MODEL2: tf [N,F] | temb [N,D] | yemb [N,D] | c [N,D] | sc [N,D] | mod [N,6D] | pos [T,D] */
    const bool own_pos = !(m->pos && gh == m->pos_grid && gw == m->pos_grid);
    size_t big = (size_t)R * (size_t)(6 * D + wide), small = (size_t)(N * (F + 10 * D) + (own_pos ? T * D : 0));
    float *xs = fokus_ctx_scratch(ctx, FOKUS_SCRATCH_MODEL, 0, big * sizeof(float));
    float *cs = fokus_ctx_scratch(ctx, FOKUS_SCRATCH_MODEL2, 0, small * sizeof(float));
    if (!xs || !cs) {
        st = fokus_fail(err, FOKUS_ENOMEM, "dit: cannot allocate %zu bytes of scratch", (big + small) * sizeof(float));
        goto done;
    }
    float *h = xs + R * D, *qkv = h + R * D, *a = qkv + R * 3 * D, *f = a + R * D;
    float *tf = cs, *temb = tf + N * F, *yemb = temb + N * D, *cv = yemb + N * D, *sc = cv + N * D, *mod = sc + N * D;
    float *pos = own_pos ? mod + N * 6 * D : m->pos;

    /* tokens = patchify(x) · Wᵀ + b + pos */
    fokus_patchify(f, xf.data, N, C, H, W, p);
    if ((st = fokus_linear_rows(ctx, f, PP, R, &m->x_w, m->x_b, false, xs, D, err)) != FOKUS_OK) goto done;
    if (own_pos && (st = fokus_pos_embed_2d(pos, D, gh, gw, err)) != FOKUS_OK) goto done;
    for (int64_t r = 0; r < R; r++) {
        const float *pr = pos + (r % T) * D;
        float *xr = xs + r * D;
        for (int64_t j = 0; j < D; j++) xr[j] += pr[j];
    }
    /* c = MLP(t_freq) + table[y] */
    if ((st = fokus_timestep_features(tf, tv, N, F, c->max_period, err)) != FOKUS_OK) goto done;
    if ((st = fokus_linear_rows(ctx, tf, F, N, &m->t1, m->t1_b, false, sc, D, err)) != FOKUS_OK) goto done;
    fokus_activate(ctx, sc, N * D, FOKUS_ACT_SILU);
    if ((st = fokus_linear_rows(ctx, sc, D, N, &m->t2, m->t2_b, false, temb, D, err)) != FOKUS_OK) goto done;
    for (int64_t b = 0; b < N; b++) {
        if ((st = fokus_rows_f32(yemb + b * D, &m->ytab, yv[b], err)) != FOKUS_OK) goto done;
        for (int64_t j = 0; j < D; j++) cv[b * D + j] = temb[b * D + j] + yemb[b * D + j];
    }
    fokus_silu_copy(ctx, sc, cv, N * D);
    if (trace) {
        if ((st = fokus_trace_keep(&trace->x_tokens, xs, 3, N, T, D, err)) || (st = fokus_trace_keep(&trace->t_freq, tf, 2, N, F, 0, err)) ||
            (st = fokus_trace_keep(&trace->t_emb, temb, 2, N, D, 0, err)) || (st = fokus_trace_keep(&trace->y_emb, yemb, 2, N, D, 0, err)) ||
            (st = fokus_trace_keep(&trace->c, cv, 2, N, D, 0, err)))
            goto done;
        trace->blocks = calloc((size_t)c->depth, sizeof *trace->blocks);
        if (!trace->blocks) {
            st = fokus_fail(err, FOKUS_ENOMEM, "dit: out of memory");
            goto done;
        }
        trace->n_blocks = (int)c->depth;
    }

    /* q, k, v: [N, H, T, dh] views of the [R, 3D] buffer; the attention writes its
     * heads merged into a [R, D] buffer through a [N, H, T, dh] view */
    int64_t qshape[4] = {N, Hh, T, dh}, qstride[4] = {T * 3 * D, dh, 3 * D, 1}, astride[4] = {T * D, dh, D, 1};
    fokus_tensor q, k, v, av;
    fokus_tensor_borrow(&q, qkv, FOKUS_F32, 4, qshape, qstride);
    fokus_tensor_borrow(&k, qkv + D, FOKUS_F32, 4, qshape, qstride);
    fokus_tensor_borrow(&v, qkv + 2 * D, FOKUS_F32, 4, qshape, qstride);
    fokus_tensor_borrow(&av, a, FOKUS_F32, 4, qshape, astride);
    const float eps = (float)c->eps;
    for (int64_t i = 0; i < c->depth; i++) {
        const dit_block *bl = &m->blocks[i];
        if (fokus_ctx_interrupted(ctx)) {
            st = fokus_fail(err, FOKUS_EINTERRUPT, "dit: interrupted");
            goto done;
        }
        /* (shift1, scale1, gate1, shift2, scale2, gate2) = split6(Linear(SiLU(c))) */
        if ((st = fokus_linear_rows(ctx, sc, D, N, &bl->ada, bl->b_ada, false, mod, 6 * D, err)) != FOKUS_OK) goto done;
        fokus_adaln_modulate(ctx, h, D, xs, D, N, T, D, mod, mod + D, 6 * D, eps);
        if ((st = fokus_linear_rows(ctx, h, D, R, &bl->qkv, bl->b_qkv, false, qkv, 3 * D, err)) != FOKUS_OK) goto done;
        if ((st = fokus_attend_into(ctx, &q, &k, &v, NULL, &av, NULL, NULL, err)) != FOKUS_OK) goto done;
        if ((st = fokus_linear_rows(ctx, a, D, R, &bl->proj, bl->b_proj, false, h, D, err)) != FOKUS_OK) goto done;
        fokus_gated_add(ctx, xs, D, h, D, N, T, D, mod + 2 * D, 6 * D);
        fokus_adaln_modulate(ctx, h, D, xs, D, N, T, D, mod + 3 * D, mod + 4 * D, 6 * D, eps);
        if ((st = fokus_linear_rows(ctx, h, D, R, &bl->fc1, bl->b_fc1, false, f, M, err)) != FOKUS_OK) goto done;
        fokus_activate(ctx, f, R * M, FOKUS_ACT_GELU_TANH);
        if ((st = fokus_linear_rows(ctx, f, M, R, &bl->fc2, bl->b_fc2, false, h, D, err)) != FOKUS_OK) goto done;
        fokus_gated_add(ctx, xs, D, h, D, N, T, D, mod + 5 * D, 6 * D);
        if (trace && (st = fokus_trace_keep(&trace->blocks[i], xs, 3, N, T, D, err)) != FOKUS_OK) goto done;
    }
    /* final layer: (shift, scale) = split2(Linear(SiLU(c))), then the linear map to
     * p*p*out values per token, scattered back to pixels */
    if ((st = fokus_linear_rows(ctx, sc, D, N, &m->f_ada, m->f_ada_b, false, mod, 2 * D, err)) != FOKUS_OK) goto done;
    fokus_adaln_modulate(ctx, h, D, xs, D, N, T, D, mod, mod + D, 2 * D, eps);
    if ((st = fokus_linear_rows(ctx, h, D, R, &m->f_lin, m->f_lin_b, false, f, PO, err)) != FOKUS_OK) goto done;
    if (trace && (st = fokus_trace_keep(&trace->final_tokens, f, 3, N, T, PO, err)) != FOKUS_OK) goto done;
    fokus_unpatchify(out->data, f, PO, N, OC, H, W, p);
done:
    if (st != FOKUS_OK && trace) fokus_dit_trace_free(trace);
    fokus_tensor_release(&xf);
    free(tv), free(yv);
    return st;
}
