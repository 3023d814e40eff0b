/* CLIP text transformer forward pass (models.md 2.3): embeddings, pre-LN layers with
 * causal self-attention, final LayerNorm, pooling at the first EOS, projection.
 *
 * The residual stream x [rows, D] and the per-layer temporaries live in one scratch
 * block of the context, so a forward pass allocates only its outputs. Bias adds and
 * residual adds are fused into the GEMMs (bias argument, accumulate = true); q, k and v
 * are one fokus_gemm_group (one parallel region, LN output packed once), and the MLP
 * is one fokus_gemm_mlp (activation applied in the fc1 store, hidden layer never
 * written row-major). */
#include <stdlib.h>
#include <string.h>

#include "clip_internal.h"
#include "fokus.h"

void fokus_clip_output_free(fokus_clip_output *o)
{
    if (!o) return;
    fokus_tensor_release(&o->last_hidden_state);
    fokus_tensor_release(&o->pooled);
    fokus_tensor_release(&o->text_embeds);
    fokus_tensor_release(&o->eos_positions);
    fokus_tensor_release(&o->attention);
    for (int i = 0; i < o->n_hidden; i++) fokus_tensor_release(&o->hidden_states[i]);
    free(o->hidden_states);
    memset(o, 0, sizeof *o);
}

/* The product y[rows, N] (+)= act(x · Wᵀ + b) for a checkpoint matrix W [N, K] of any
 * float dtype, as a part of fokus_gemm_group / fokus_gemm_mlp. */
static fokus_gemm_part part(const fokus_tensor *w, const float *b, fokus_act act, bool acc, float *y, int64_t ldy)
{
    fokus_gemm_part p = {w->data, w->dtype, w->shape[0], w->stride[0], b, act, acc, y, ldy};
    return p;
}

static fokus_status linear(fokus_ctx *ctx, const float *x, int64_t rows, int64_t K, const fokus_tensor *w,
                           const float *b, bool acc, float *y, int64_t ldy, fokus_error *err)
{
    fokus_gemm_part p = part(w, b, FOKUS_ACT_NONE, acc, y, ldy);
    return fokus_gemm_group(ctx, rows, K, x, K, 1, &p, err);
}

static fokus_status copy_state(fokus_ctx *ctx, fokus_tensor *dst, const float *x, int64_t B, int64_t N, int64_t D, fokus_error *err)
{
    int64_t shape[3] = {B, N, D};
    fokus_status st = fokus_tensor_empty_ctx(ctx, dst, FOKUS_F32, 3, shape, err);
    if (st == FOKUS_OK) memcpy(dst->data, x, (size_t)(B * N * D) * sizeof(float));
    return st;
}

typedef struct run_opts {
    bool want_hidden;
    int attention_layer;       /* layer whose attention probabilities to keep, or -1 */
    int capture;               /* hidden-state index to copy out (0..L), or -1 */
    fokus_tensor *captured;
    const fokus_tensor *out;   /* the caller's tensor for last_hidden_state, or NULL */
} run_opts;

/* Reads the ids as int64 and validates them against the vocabulary. */
static fokus_status read_ids(const fokus_clip *m, const fokus_tensor *ids, int64_t **out, int64_t *B, int64_t *N,
                             fokus_error *err)
{
    char sb[128];
    if (ids->ndim != 2 || fokus_dtype_is_float(ids->dtype) || ids->dtype == FOKUS_BOOL)
        return fokus_fail(err, FOKUS_EINVAL, "clip: ids must be an integer tensor [B, N], got %s %s",
                          fokus_dtype_name(ids->dtype), fokus_shape_str(ids, sb, sizeof sb));
    *B = ids->shape[0];
    *N = ids->shape[1];
    if (*B < 1 || *N < 1 || *N > m->cfg.max_positions)
        return fokus_fail(err, FOKUS_EINVAL, "clip: ids of shape %s: need B >= 1 and 1 <= N <= %lld",
                          fokus_shape_str(ids, sb, sizeof sb), (long long)m->cfg.max_positions);
    int64_t n = *B * *N;
    int64_t *v = malloc((size_t)n * sizeof *v);
    if (!v) return fokus_fail(err, FOKUS_ENOMEM, "clip: out of memory");
    for (int64_t i = 0; i < n; i++) {
        v[i] = fokus_tensor_get_i64(ids, i);
        if (v[i] < 0 || v[i] >= m->cfg.vocab_size) {
            int64_t bad = v[i];
            free(v);
            return fokus_fail(err, FOKUS_EINVAL, "clip: token id %lld at [%lld, %lld] is outside the vocabulary 0..%lld",
                              (long long)bad, (long long)(i / *N + 1), (long long)(i % *N + 1),
                              (long long)m->cfg.vocab_size - 1);
        }
    }
    *out = v;
    return FOKUS_OK;
}

static fokus_status run(fokus_ctx *ctx, fokus_clip *m, const fokus_tensor *ids, const run_opts *ro,
                        fokus_clip_output *out, fokus_error *err)
{
    const fokus_clip_config *c = &m->cfg;
    const int64_t D = c->hidden_size, H = c->num_heads, dh = D / H, L = c->num_layers;
    int64_t B = 0, N = 0, *idv = NULL;
    memset(out, 0, sizeof *out);
    fokus_status st = read_ids(m, ids, &idv, &B, &N, err);
    if (st != FOKUS_OK) return st;
    const int64_t R = B * N;
    /* scratch: x [R,D] | h [R,D] | qkv [R,3D] | a [R,D] (the MLP's hidden layer is
     * fokus_gemm_mlp's) */
    size_t floats = (size_t)(R * 6 * D);
    float *x = fokus_ctx_scratch(ctx, FOKUS_SCRATCH_MODEL, 0, floats * sizeof(float));
    if (!x) {
        free(idv);
        return fokus_fail(err, FOKUS_ENOMEM, "clip: cannot allocate %zu bytes of scratch", floats * sizeof(float));
    }
    float *h = x + R * D, *qkv = h + R * D, *a = qkv + R * 3 * D;

    for (int64_t r = 0; r < R; r++) {
        fokus_rows_f32(x + r * D, &m->tok_emb, idv[r], NULL); /* ids were validated */
        const float *p = m->pos_emb + (r % N) * D;
        for (int64_t j = 0; j < D; j++) x[r * D + j] += p[j];
    }
    if (ro->want_hidden) {
        out->hidden_states = calloc((size_t)L + 1, sizeof *out->hidden_states);
        if (!out->hidden_states) {
            st = fokus_fail(err, FOKUS_ENOMEM, "clip: out of memory");
            goto fail;
        }
        out->n_hidden = (int)L + 1;
        if ((st = copy_state(ctx, &out->hidden_states[0], x, B, N, D, err)) != FOKUS_OK) goto fail;
    }
    if (ro->capture == 0 && (st = copy_state(ctx, ro->captured, x, B, N, D, err)) != FOKUS_OK) goto fail;

    /* q, k, v are views into the [R, 3D] buffer: [B, H, N, dh] with row stride 3D */
    int64_t qshape[4] = {B, H, N, dh}, qstride[4] = {N * 3 * D, dh, 3 * D, 1};
    fokus_tensor q, k, v;
    fokus_tensor_borrow(&q, qkv, FOKUS_F32, 4, qshape, qstride);
    fokus_tensor_borrow(&k, qkv + D, FOKUS_F32, 4, qshape, qstride);
    fokus_tensor_borrow(&v, qkv + 2 * D, FOKUS_F32, 4, qshape, qstride);
    int64_t astride[4] = {N * D, dh, D, 1};
    fokus_tensor av;
    fokus_tensor_borrow(&av, a, FOKUS_F32, 4, qshape, astride);
    fokus_attend_opts ao;
    memset(&ao, 0, sizeof ao);
    ao.causal = FOKUS_CAUSAL_TOP_LEFT;

    for (int64_t l = 0; l < L; l++) {
        const clip_layer *ly = &m->layers[l];
        if (fokus_ctx_interrupted(ctx)) {
            st = fokus_fail(err, FOKUS_EINTERRUPT, "clip: interrupted");
            goto fail;
        }
        fokus_layernorm(ctx, h, D, x, D, R, D, ly->ln1_w, ly->ln1_b, (float)c->layer_norm_eps);
        if (ly->fused_qkv) {
            st = linear(ctx, h, R, D, &ly->wqkv, ly->bqkv, false, qkv, 3 * D, err);
        } else { /* one parallel region for the three, h packed once */
            fokus_gemm_part p[3] = {part(&ly->wq, ly->bqkv, FOKUS_ACT_NONE, false, qkv, 3 * D),
                                    part(&ly->wk, ly->bqkv + D, FOKUS_ACT_NONE, false, qkv + D, 3 * D),
                                    part(&ly->wv, ly->bqkv + 2 * D, FOKUS_ACT_NONE, false, qkv + 2 * D, 3 * D)};
            st = fokus_gemm_group(ctx, R, D, h, D, 3, p, err);
        }
        if (st != FOKUS_OK) goto fail;
        /* the heads land merged in a [B, N, H*dh] as a [B, H, N, dh] view: no copy */
        bool maps = ro->attention_layer == l;
        ao.want_probs = maps;
        if ((st = fokus_attend_into(ctx, &q, &k, &v, &ao, &av, NULL, maps ? &out->attention : NULL, err)) != FOKUS_OK)
            goto fail;
        if ((st = linear(ctx, a, R, D, &ly->wo, ly->bo, true, x, D, err)) != FOKUS_OK) goto fail;
        fokus_layernorm(ctx, h, D, x, D, R, D, ly->ln2_w, ly->ln2_b, (float)c->layer_norm_eps);
        {
            fokus_gemm_part fc1 = part(&ly->w1, ly->b1, c->act, false, NULL, 0), fc2 = part(&ly->w2, ly->b2, FOKUS_ACT_NONE, true, x, D);
            if ((st = fokus_gemm_mlp(ctx, R, D, h, D, &fc1, &fc2, err)) != FOKUS_OK) goto fail;
        }
        if (ro->want_hidden && (st = copy_state(ctx, &out->hidden_states[l + 1], x, B, N, D, err)) != FOKUS_OK) goto fail;
        if (ro->capture == l + 1 && (st = copy_state(ctx, ro->captured, x, B, N, D, err)) != FOKUS_OK) goto fail;
    }

    int64_t shp[3] = {B, N, D};
    /* into the caller's tensor when given (directly when contiguous); pooling below
     * reads it before fokus_out_finish copies a strided one */
    if ((st = fokus_out_begin(ctx, "forward", ro->out, FOKUS_F32, 3, shp, NULL, 0, &out->last_hidden_state, err)) !=
        FOKUS_OK)
        goto fail;
    float *last = out->last_hidden_state.data;
    fokus_layernorm(ctx, last, D, x, D, R, D, m->lnf_w, m->lnf_b, (float)c->layer_norm_eps);

    /* pooling: first EOS of each row; rows without one fall back to the argmax id, which
     * is the OpenAI / OpenCLIP rule (the two agree when EOS is the largest id) */
    int64_t bshape[1] = {B}, pshape[2] = {B, D};
    if ((st = fokus_tensor_empty_ctx(ctx, &out->eos_positions, FOKUS_I32, 1, bshape, err)) != FOKUS_OK ||
        (st = fokus_tensor_empty_ctx(ctx, &out->pooled, FOKUS_F32, 2, pshape, err)) != FOKUS_OK)
        goto fail;
    for (int64_t b = 0; b < B; b++) {
        int64_t pos = -1, best = 0;
        for (int64_t n = 0; n < N; n++) {
            if (idv[b * N + n] == c->eos_id) {
                pos = n;
                break;
            }
            if (idv[b * N + n] > idv[b * N + best]) best = n;
        }
        if (pos < 0) pos = best;
        ((int32_t *)out->eos_positions.data)[b] = (int32_t)pos;
        memcpy((float *)out->pooled.data + b * D, last + (b * N + pos) * D, (size_t)D * sizeof(float));
    }
    if (m->has_proj) {
        int64_t P = c->projection_dim, eshape[2] = {B, P};
        if ((st = fokus_tensor_empty_ctx(ctx, &out->text_embeds, FOKUS_F32, 2, eshape, err)) != FOKUS_OK) goto fail;
        st = fokus_gemm(ctx, B, P, D, out->pooled.data, D, m->proj.data, m->proj.dtype, m->proj_trans, m->proj.stride[0],
                        NULL, false, out->text_embeds.data, P, err);
        if (st != FOKUS_OK) goto fail;
    }
    if (ro->out) fokus_out_finish(ro->out, &out->last_hidden_state, NULL); /* leaves it empty */
    free(idv);
    return FOKUS_OK;
fail:
    free(idv);
    fokus_clip_output_free(out);
    return st;
}

fokus_status fokus_clip_forward(fokus_ctx *ctx, fokus_clip *m, const fokus_tensor *ids,
                                const fokus_clip_run_opts *opts, fokus_clip_output *out, fokus_error *err)
{
    run_opts ro = {opts && opts->want_hidden, opts ? opts->attention_layer : -1, -1, NULL, opts ? opts->out : NULL};
    if (ro.attention_layer >= m->cfg.num_layers) {
        memset(out, 0, sizeof *out);
        return fokus_fail(err, FOKUS_EINVAL, "clip: attention layer %d outside 1..%lld", ro.attention_layer + 1,
                          (long long)m->cfg.num_layers);
    }
    return run(ctx, m, ids, &ro, out, err);
}

static fokus_status encode(fokus_ctx *ctx, fokus_clip *m, const fokus_tensor *ids, int skip, bool final_norm,
                           const fokus_tensor *cond_out, fokus_tensor *cond, fokus_tensor *pooled,
                           fokus_tensor *projected, fokus_error *err);

fokus_status fokus_clip_encode(fokus_ctx *ctx, fokus_clip *m, const fokus_tensor *ids, int skip, bool final_norm,
                               fokus_tensor *cond, fokus_tensor *pooled, fokus_tensor *projected, fokus_error *err)
{
    return encode(ctx, m, ids, skip, final_norm, NULL, cond, pooled, projected, err);
}

fokus_status fokus_clip_encode_into(fokus_ctx *ctx, fokus_clip *m, const fokus_tensor *ids, int skip,
                                    bool final_norm, const fokus_tensor *cond_out, fokus_tensor *pooled,
                                    fokus_tensor *projected, fokus_error *err)
{
    fokus_tensor unused;
    if (!cond_out) return fokus_fail(err, FOKUS_EINVAL, "encode: out must not be NULL");
    return encode(ctx, m, ids, skip, final_norm, cond_out, &unused, pooled, projected, err);
}

/* Both forms: cond_out NULL makes *cond. With cond_out and skip 1 the final LayerNorm
 * writes straight into it (the forward pass's out, seen as [C, N, D]) when it is
 * contiguous; otherwise cond is made and copied in. */
static fokus_status encode(fokus_ctx *ctx, fokus_clip *m, const fokus_tensor *ids, int skip, bool final_norm,
                           const fokus_tensor *cond_out, fokus_tensor *cond, fokus_tensor *pooled,
                           fokus_tensor *projected, fokus_error *err)
{
    const fokus_clip_config *c = &m->cfg;
    memset(cond, 0, sizeof *cond);
    memset(pooled, 0, sizeof *pooled);
    if (projected) memset(projected, 0, sizeof *projected);
    if (skip < 1 || skip > c->num_layers)
        return fokus_fail(err, FOKUS_EINVAL, "encode: skip must be in 1..%lld, got %d", (long long)c->num_layers, skip);
    fokus_tensor cap = {0}, direct = {0};
    run_opts ro = {false, -1, skip > 1 ? (int)(c->num_layers + 1 - skip) : -1, &cap, NULL};
    if (cond_out && ids->ndim == 2) { /* checked before the work (ids are checked by run) */
        int64_t want[3] = {1, ids->shape[0] * ids->shape[1], c->hidden_size};
        fokus_status cs = fokus_out_check("encode", cond_out, FOKUS_F32, 3, want, NULL, 0, err);
        if (cs != FOKUS_OK) return cs;
        if (skip == 1 && fokus_tensor_is_contiguous(cond_out)) {
            int64_t as3[3] = {ids->shape[0], ids->shape[1], c->hidden_size};
            fokus_tensor_borrow(&direct, cond_out->data, FOKUS_F32, 3, as3, NULL);
            ro.out = &direct;
        }
    }
    fokus_clip_output o;
    fokus_status st = run(ctx, m, ids, &ro, &o, err);
    if (st != FOKUS_OK) return st;
    const int64_t C = ids->shape[0], N = ids->shape[1], D = c->hidden_size;
    if (ro.out) {
        /* already written into cond_out */
    } else if (skip == 1) {
        *cond = o.last_hidden_state;
        memset(&o.last_hidden_state, 0, sizeof o.last_hidden_state);
    } else {
        *cond = cap;
        if (final_norm) fokus_layernorm(ctx, cond->data, D, cond->data, D, C * N, D, m->lnf_w, m->lnf_b, (float)c->layer_norm_eps);
    }
    if (!ro.out) {
        cond->ndim = 3;
        cond->shape[0] = 1;
        cond->shape[1] = C * N;
        cond->stride[0] = C * N * D;
        cond->stride[1] = D;
        if (cond_out) { /* strided, or skip > 1: made, then copied in */
            st = fokus_tensor_copy((fokus_tensor *)cond_out, cond, err);
            fokus_tensor_release(cond);
            if (st != FOKUS_OK) {
                fokus_clip_output_free(&o);
                return st;
            }
        }
    }
    /* pooled of the first chunk, as A1111 and ComfyUI take it */
    st = fokus_tensor_narrow(pooled, &o.pooled, 0, 0, 1, err);
    if (st == FOKUS_OK && projected && m->has_proj) st = fokus_tensor_narrow(projected, &o.text_embeds, 0, 0, 1, err);
    fokus_clip_output_free(&o);
    if (st != FOKUS_OK) {
        fokus_tensor_release(cond);
        fokus_tensor_release(pooled);
        if (projected) fokus_tensor_release(projected);
    }
    return st;
}
