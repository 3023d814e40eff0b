/* Building an SD3 MMDiT from named weights: the prefix (given, or found next to the text
 * encoders and the VAE of a full SD3 file), the configuration inferred from the shapes
 * (models.md 4.1-4.2; nothing assumes hidden = 64 * depth), qk-norm, pre_only and
 * MMDiT-X attn2 detected from the names, a shape check of every tensor before anything
 * is used, and errors that say what a checkpoint of another family looks like. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmdit_internal.h"

const char *fokus_qk_norm_name(fokus_qk_norm q)
{
    return q == FOKUS_QK_RMS ? "rms" : q == FOKUS_QK_LN ? "ln" : "none";
}

static void free_attn(mmdit_attn *a)
{
    fokus_tensor_release(&a->qkv), fokus_tensor_release(&a->proj);
    fokus_free(a->b_qkv), fokus_free(a->b_proj);
    fokus_free(a->ln_q), fokus_free(a->ln_k), fokus_free(a->ln_q_b), fokus_free(a->ln_k_b);
}

static void free_stream(mmdit_stream *s)
{
    fokus_tensor_release(&s->ada), fokus_tensor_release(&s->fc1), fokus_tensor_release(&s->fc2);
    fokus_free(s->b_ada), fokus_free(s->b_fc1), fokus_free(s->b_fc2);
    free_attn(&s->attn);
    free_attn(&s->attn2);
}

void fokus_mmdit_free(fokus_mmdit *m)
{
    if (!m) return;
    if (m->blocks)
        for (int64_t i = 0; i < m->cfg.depth; i++) free_stream(&m->blocks[i].ctx), free_stream(&m->blocks[i].x);
    free(m->blocks);
    fokus_tensor_release(&m->pos), fokus_tensor_release(&m->x_w), fokus_tensor_release(&m->t1);
    fokus_tensor_release(&m->t2), fokus_tensor_release(&m->y1), fokus_tensor_release(&m->y2);
    fokus_tensor_release(&m->ctx_w), fokus_tensor_release(&m->f_ada), fokus_tensor_release(&m->f_lin);
    fokus_free(m->x_b), fokus_free(m->t1_b), fokus_free(m->t2_b), fokus_free(m->y1_b), fokus_free(m->y2_b);
    fokus_free(m->ctx_b), fokus_free(m->f_ada_b), fokus_free(m->f_lin_b);
    free(m->prefix);
    free(m);
}

const fokus_mmdit_config *fokus_mmdit_get_config(const fokus_mmdit *m)
{
    return &m->cfg;
}

const char *fokus_mmdit_prefix(const fokus_mmdit *m)
{
    return m->prefix;
}

bool fokus_mmdit_has_attn2(const fokus_mmdit *m, int64_t block)
{
    return block >= 0 && block < m->cfg.depth && m->blocks[block].x.has_attn2;
}

bool fokus_mmdit_pre_only(const fokus_mmdit *m, int64_t block)
{
    return block >= 0 && block < m->cfg.depth && m->blocks[block].ctx.pre_only;
}

static fokus_status agree(fokus_error *err, const char *what, int64_t given, int64_t found)
{
    if (given > 0 && given != found)
        return fokus_fail(err, FOKUS_EINVAL, "mmdit: config %s = %lld, but the weights have %lld", what, (long long)given,
                          (long long)found);
    return FOKUS_OK;
}

/* "mmdit: no SD3 MMDiT in these weights (...); they look like a DiT (...)" */
static fokus_status not_an_mmdit(const fokus_st_entry *w, size_t n, const char *where, fokus_error *err)
{
    const char *fam = fokus_guess_family(w, n);
    if (fam && strstr(fam, "an SD3 MMDiT") == fam) fam = NULL;
    return fokus_fail(err, FOKUS_EFORMAT,
                      "mmdit: no SD3 MMDiT in these weights (looked for 'context_embedder.weight' %s)%s%s%s", where,
                      fam ? "; they look like " : "", fam ? fam : "", fam ? ", not an MMDiT" : "");
}

static fokus_status find_prefix(fokus_mmdit *m, const fokus_st_entry *w, size_t n, const char *prefix, fokus_error *err)
{
    fokus_status st = fokus_pick_prefix(w, n, prefix, "context_embedder.weight", "mmdit", "MMDiTs", &m->prefix, err);
    if (st == FOKUS_OK && !m->prefix) return not_an_mmdit(w, n, "under any prefix", err);
    return st;
}

/* attn (or attn2) of one stream: qkv, proj unless pre_only, qk-norm vectors */
static fokus_status load_attn(const fokus_wset *ws, const fokus_mmdit_config *c, const char *base, bool pre_only,
                              mmdit_attn *a)
{
    const int64_t D = c->hidden_size, dh = D / c->num_heads;
    char s[200];
    fokus_status st;
#define NM(part) (snprintf(s, sizeof s, "%s.%s", base, part), s)
    if ((st = fokus_wset_matrix(ws, NM("qkv.weight"), 2, (const int64_t[]){3 * D, D}, &a->qkv)) ||
        (st = fokus_wset_f32(ws, NM("qkv.bias"), 3 * D, &a->b_qkv)))
        return st;
    if (!pre_only && ((st = fokus_wset_matrix(ws, NM("proj.weight"), 2, (const int64_t[]){D, D}, &a->proj)) ||
                      (st = fokus_wset_f32(ws, NM("proj.bias"), D, &a->b_proj))))
        return st;
    if (c->qk_norm != FOKUS_QK_NONE &&
        ((st = fokus_wset_f32(ws, NM("ln_q.weight"), dh, &a->ln_q)) || (st = fokus_wset_f32(ws, NM("ln_k.weight"), dh, &a->ln_k))))
        return st;
    if (c->qk_norm == FOKUS_QK_LN &&
        ((st = fokus_wset_f32(ws, NM("ln_q.bias"), dh, &a->ln_q_b)) || (st = fokus_wset_f32(ws, NM("ln_k.bias"), dh, &a->ln_k_b))))
        return st;
    if (c->qk_norm == FOKUS_QK_NONE && fokus_wset_find(ws, NM("ln_q.weight")))
        return fokus_fail(ws->err, FOKUS_EFORMAT, "mmdit: '%s%s' exists, but block 0 has no qk-norm", ws->prefix, s);
#undef NM
    return FOKUS_OK;
}

static fokus_status load_stream(const fokus_wset *ws, const fokus_mmdit_config *c, int64_t i, const char *which,
                                mmdit_stream *s)
{
    const int64_t D = c->hidden_size, M = c->mlp_hidden;
    char base[160], nm[200];
    fokus_status st;
    snprintf(base, sizeof base, "joint_blocks.%lld.%s", (long long)i, which);
#define NM(part) (snprintf(nm, sizeof nm, "%s.%s", base, part), nm)
    const bool is_x = strcmp(which, "x_block") == 0;
    s->has_attn2 = is_x && fokus_wset_find(ws, NM("attn2.qkv.weight")) != NULL;
    s->pre_only = !is_x && fokus_wset_find(ws, NM("attn.proj.weight")) == NULL;
    s->n_mod = s->pre_only ? 2 : s->has_attn2 ? 9 : 6;
    if (s->pre_only && i != c->depth - 1)
        return fokus_fail(ws->err, FOKUS_EFORMAT,
                          "mmdit: '%s%s.attn.proj.weight' is missing; only the last block's context_block can be pre_only",
                          ws->prefix, base);
    const fokus_tensor *ada = fokus_wset_find(ws, NM("adaLN_modulation.1.weight"));
    if (ada && ada->ndim == 2 && ada->shape[0] != s->n_mod * D) {
        char got[64];
        return fokus_fail(ws->err, FOKUS_EFORMAT, "mmdit: '%s%s' has shape %s, expected %lldx%lld (%d chunks: %s)",
                          ws->prefix, nm, fokus_shape_str(ada, got, sizeof got), (long long)(s->n_mod * D), (long long)D,
                          s->n_mod,
                          s->pre_only ? "a pre_only context block" : s->has_attn2 ? "an MMDiT-X x_block with attn2"
                                                                                  : "a full block");
    }
    if ((st = fokus_wset_matrix(ws, NM("adaLN_modulation.1.weight"), 2, (const int64_t[]){s->n_mod * D, D}, &s->ada)) ||
        (st = fokus_wset_f32(ws, NM("adaLN_modulation.1.bias"), s->n_mod * D, &s->b_ada)))
        return st;
    if (!s->pre_only &&
        ((st = fokus_wset_matrix(ws, NM("mlp.fc1.weight"), 2, (const int64_t[]){M, D}, &s->fc1)) ||
         (st = fokus_wset_f32(ws, NM("mlp.fc1.bias"), M, &s->b_fc1)) ||
         (st = fokus_wset_matrix(ws, NM("mlp.fc2.weight"), 2, (const int64_t[]){D, M}, &s->fc2)) ||
         (st = fokus_wset_f32(ws, NM("mlp.fc2.bias"), D, &s->b_fc2))))
        return st;
    if ((st = load_attn(ws, c, NM("attn"), s->pre_only, &s->attn)) != FOKUS_OK) return st;
    if (s->has_attn2 && (st = load_attn(ws, c, NM("attn2"), false, &s->attn2)) != FOKUS_OK) return st;
#undef NM
    return FOKUS_OK;
}

/* A 2-d matrix's shape [rows, cols] or an error naming it. */
static fokus_status dims2(const fokus_wset *ws, const char *name, int64_t *rows, int64_t *cols)
{
    const fokus_tensor *t = fokus_wset_find(ws, name);
    char sb[64];
    if (!t) return fokus_fail(ws->err, FOKUS_EFORMAT, "mmdit: missing tensor '%s%s'", ws->prefix, name);
    if (t->ndim != 2)
        return fokus_fail(ws->err, FOKUS_EFORMAT, "mmdit: '%s%s' has shape %s, expected a matrix", ws->prefix, name,
                          fokus_shape_str(t, sb, sizeof sb));
    *rows = t->shape[0];
    *cols = t->shape[1];
    return FOKUS_OK;
}

fokus_status fokus_mmdit_new(fokus_mmdit **out, const fokus_st_entry *weights, size_t n, const char *prefix,
                             const fokus_mmdit_config *config, fokus_error *err)
{
    *out = NULL;
    fokus_mmdit_config given;
    memset(&given, 0, sizeof given);
    if (config) given = *config;
    fokus_mmdit *m = calloc(1, sizeof *m);
    if (!m) return fokus_fail(err, FOKUS_ENOMEM, "mmdit: out of memory");
    fokus_status st = find_prefix(m, weights, n, prefix, err);
    if (st != FOKUS_OK) {
        fokus_mmdit_free(m);
        return st;
    }
    fokus_wset ws = {weights, n, m->prefix, "mmdit", err};
    fokus_mmdit_config *c = &m->cfg;
    char sb[128], where[300];
    if (!fokus_wset_find(&ws, "context_embedder.weight")) {
        snprintf(where, sizeof where, "under prefix '%s'", m->prefix);
        st = not_an_mmdit(weights, n, where, err);
        goto fail;
    }
    /* sizes from the shapes */
    if ((st = fokus_wset_patch_embed(&ws, &c->hidden_size, &c->in_channels, &c->patch_size))) goto fail;
    const int64_t D = c->hidden_size, C = c->in_channels, p = c->patch_size;
    int64_t rows = 0, cols = 0;
    if ((st = dims2(&ws, "t_embedder.mlp.0.weight", &rows, &c->freq_dim)) ||
        (st = dims2(&ws, "context_embedder.weight", &rows, &c->context_dim)))
        goto fail;
    if (fokus_wset_find(&ws, "y_embedder.mlp.0.weight") && (st = dims2(&ws, "y_embedder.mlp.0.weight", &rows, &c->pooled_dim)))
        goto fail;
    for (c->depth = 0;; c->depth++) {
        char s[96];
        snprintf(s, sizeof s, "joint_blocks.%lld.x_block.attn.qkv.weight", (long long)c->depth);
        if (!fokus_wset_find(&ws, s)) break;
    }
    if (c->depth == 0) {
        st = fokus_fail(err, FOKUS_EFORMAT,
                        "mmdit: no joint blocks under prefix '%s' (missing '%sjoint_blocks.0.x_block.attn.qkv.weight')",
                        m->prefix, m->prefix);
        goto fail;
    }
    if ((st = dims2(&ws, "joint_blocks.0.x_block.mlp.fc1.weight", &c->mlp_hidden, &cols)) ||
        (st = dims2(&ws, "final_layer.linear.weight", &rows, &cols)))
        goto fail;
    if (rows % (p * p) != 0) {
        st = fokus_fail(err, FOKUS_EFORMAT, "mmdit: '%sfinal_layer.linear.weight' has %lld rows, expected p*p*out_channels with p = %lld",
                        m->prefix, (long long)rows, (long long)p);
        goto fail;
    }
    c->out_channels = rows / (p * p);
    /* the stored position table: [1, Mx*Mx, D] */
    const fokus_tensor *pe = fokus_wset_find(&ws, "pos_embed");
    if (!pe) {
        st = fokus_fail(err, FOKUS_EFORMAT, "mmdit: missing tensor '%spos_embed'", m->prefix);
        goto fail;
    }
    {
        int64_t T0 = pe->ndim == 3 && pe->shape[0] == 1 ? pe->shape[1] : pe->ndim == 2 ? pe->shape[0] : -1;
        int64_t g = T0 > 0 ? (int64_t)llround(sqrt((double)T0)) : 0;
        if (T0 < 1 || g * g != T0 || pe->shape[pe->ndim - 1] != D || !fokus_dtype_is_float(pe->dtype)) {
            st = fokus_fail(err, FOKUS_EFORMAT, "mmdit: '%spos_embed' has shape %s, expected [1, Mx*Mx, %lld]", m->prefix,
                            fokus_shape_str(pe, sb, sizeof sb), (long long)D);
            goto fail;
        }
        c->pos_embed_max_size = g;
        m->pos = *pe; /* in place: fokus_pos_embed_crop reads the rows it needs */
        fokus_tensor_retain(&m->pos);
    }
    /* qk-norm and, with it, the head width */
    const fokus_tensor *lq = fokus_wset_find(&ws, "joint_blocks.0.x_block.attn.ln_q.weight");
    c->qk_norm = !lq ? FOKUS_QK_NONE
                     : fokus_wset_find(&ws, "joint_blocks.0.x_block.attn.ln_q.bias") ? FOKUS_QK_LN : FOKUS_QK_RMS;
    int64_t heads = 0;
    if (lq) {
        int64_t dh = fokus_tensor_numel(lq);
        if (dh < 1 || D % dh != 0) {
            st = fokus_fail(err, FOKUS_EFORMAT, "mmdit: '%sjoint_blocks.0.x_block.attn.ln_q.weight' has %lld values, "
                            "not a head width dividing %lld", m->prefix, (long long)dh, (long long)D);
            goto fail;
        }
        heads = D / dh;
        if (given.num_heads > 0 && given.num_heads != heads) {
            st = fokus_fail(err, FOKUS_EINVAL, "mmdit: config num_heads = %lld, but the qk-norm weights are %lld wide "
                            "(%lld heads)", (long long)given.num_heads, (long long)dh, (long long)heads);
            goto fail;
        }
    } else {
        heads = given.num_heads > 0 ? given.num_heads : D % 64 == 0 ? D / 64 : 0;
        if (heads < 1) {
            st = fokus_fail(err, FOKUS_EINVAL, "mmdit: cannot infer num_heads for hidden size %lld (no qk-norm weights, "
                            "not a multiple of 64); give it in the config", (long long)D);
            goto fail;
        }
    }
    c->num_heads = heads;
    if (D % heads != 0 || D / heads > 256) {
        st = fokus_fail(err, FOKUS_EINVAL, "mmdit: hidden size %lld is not divisible into %lld heads of at most 256",
                        (long long)D, (long long)heads);
        goto fail;
    }
    if ((st = agree(err, "hidden_size", given.hidden_size, D)) || (st = agree(err, "in_channels", given.in_channels, C)) ||
        (st = agree(err, "patch_size", given.patch_size, p)) || (st = agree(err, "depth", given.depth, c->depth)) ||
        (st = agree(err, "mlp hidden size", given.mlp_hidden, c->mlp_hidden)) ||
        (st = agree(err, "out_channels", given.out_channels, c->out_channels)) ||
        (st = agree(err, "context_dim", given.context_dim, c->context_dim)) ||
        (st = agree(err, "adm_in_channels", given.pooled_dim, c->pooled_dim)) ||
        (st = agree(err, "pos_embed_max_size", given.pos_embed_max_size, c->pos_embed_max_size)) ||
        (st = agree(err, "frequency_embedding_size", given.freq_dim, c->freq_dim)))
        goto fail;
    c->max_period = given.max_period > 0 ? given.max_period : 10000;
    c->eps = given.eps > 0 ? given.eps : 1e-6;
    c->qk_eps = given.qk_eps > 0 ? given.qk_eps : 1e-6;
    if (c->freq_dim < 2 || D % 4 != 0) {
        st = fokus_fail(err, FOKUS_EFORMAT, "mmdit: frequency embedding size %lld or width %lld unusable",
                        (long long)c->freq_dim, (long long)D);
        goto fail;
    }

    /* every tensor, shape-checked */
    const int64_t F = c->freq_dim, OC = c->out_channels, A = c->pooled_dim, X = c->context_dim;
    if ((st = fokus_wset_matrix(&ws, "x_embedder.proj.weight", 4, (const int64_t[]){D, C, p, p}, &m->x_w)) ||
        (st = fokus_wset_f32(&ws, "x_embedder.proj.bias", D, &m->x_b)) ||
        (st = fokus_wset_matrix(&ws, "t_embedder.mlp.0.weight", 2, (const int64_t[]){D, F}, &m->t1)) ||
        (st = fokus_wset_f32(&ws, "t_embedder.mlp.0.bias", D, &m->t1_b)) ||
        (st = fokus_wset_matrix(&ws, "t_embedder.mlp.2.weight", 2, (const int64_t[]){D, D}, &m->t2)) ||
        (st = fokus_wset_f32(&ws, "t_embedder.mlp.2.bias", D, &m->t2_b)) ||
        (st = fokus_wset_matrix(&ws, "context_embedder.weight", 2, (const int64_t[]){D, X}, &m->ctx_w)) ||
        (st = fokus_wset_f32(&ws, "context_embedder.bias", D, &m->ctx_b)) ||
        (st = fokus_wset_matrix(&ws, "final_layer.linear.weight", 2, (const int64_t[]){p * p * OC, D}, &m->f_lin)) ||
        (st = fokus_wset_f32(&ws, "final_layer.linear.bias", p * p * OC, &m->f_lin_b)) ||
        (st = fokus_wset_matrix(&ws, "final_layer.adaLN_modulation.1.weight", 2, (const int64_t[]){2 * D, D}, &m->f_ada)) ||
        (st = fokus_wset_f32(&ws, "final_layer.adaLN_modulation.1.bias", 2 * D, &m->f_ada_b)))
        goto fail;
    if (A > 0 && ((st = fokus_wset_matrix(&ws, "y_embedder.mlp.0.weight", 2, (const int64_t[]){D, A}, &m->y1)) ||
                  (st = fokus_wset_f32(&ws, "y_embedder.mlp.0.bias", D, &m->y1_b)) ||
                  (st = fokus_wset_matrix(&ws, "y_embedder.mlp.2.weight", 2, (const int64_t[]){D, D}, &m->y2)) ||
                  (st = fokus_wset_f32(&ws, "y_embedder.mlp.2.bias", D, &m->y2_b))))
        goto fail;
    m->blocks = calloc((size_t)c->depth, sizeof *m->blocks);
    if (!m->blocks) {
        st = fokus_fail(err, FOKUS_ENOMEM, "mmdit: out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < c->depth; i++) {
        if ((st = load_stream(&ws, c, i, "context_block", &m->blocks[i].ctx)) ||
            (st = load_stream(&ws, c, i, "x_block", &m->blocks[i].x)))
            goto fail;
        c->n_attn2 += m->blocks[i].x.has_attn2;
    }
    *out = m;
    return FOKUS_OK;
fail:
    fokus_mmdit_free(m);
    return st;
}
