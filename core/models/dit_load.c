/* Building a DiT from named weights: the prefix (given or found), the configuration
 * inferred from the shapes (models.md 3.1-3.2; nothing assumes hidden = 64 * depth),
 * a shape check of every tensor before anything is used, and errors that say what a
 * checkpoint of another family looks like. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dit_internal.h"

static void free_blocks(fokus_dit *m)
{
    if (!m->blocks) return;
    for (int64_t i = 0; i < m->cfg.depth; i++) {
        dit_block *b = &m->blocks[i];
        fokus_tensor_release(&b->qkv), fokus_tensor_release(&b->proj), fokus_tensor_release(&b->fc1);
        fokus_tensor_release(&b->fc2), fokus_tensor_release(&b->ada);
        fokus_free(b->b_qkv), fokus_free(b->b_proj), fokus_free(b->b_fc1), fokus_free(b->b_fc2), fokus_free(b->b_ada);
    }
    free(m->blocks);
    m->blocks = NULL;
}

void fokus_dit_free(fokus_dit *m)
{
    if (!m) return;
    free_blocks(m);
    fokus_tensor_release(&m->x_w), fokus_tensor_release(&m->t1), fokus_tensor_release(&m->t2);
    fokus_tensor_release(&m->ytab), fokus_tensor_release(&m->f_ada), fokus_tensor_release(&m->f_lin);
    fokus_free(m->pos), fokus_free(m->x_b), fokus_free(m->t1_b), fokus_free(m->t2_b);
    fokus_free(m->f_ada_b), fokus_free(m->f_lin_b);
    free(m->prefix);
    free(m);
}

const fokus_dit_config *fokus_dit_get_config(const fokus_dit *m)
{
    return &m->cfg;
}

const char *fokus_dit_prefix(const fokus_dit *m)
{
    return m->prefix;
}

static fokus_status agree(fokus_error *err, const char *what, int64_t given, int64_t found)
{
    if (given > 0 && given != found)
        return fokus_fail(err, FOKUS_EINVAL, "dit: config %s = %lld, but the weights have %lld", what, (long long)given,
                          (long long)found);
    return FOKUS_OK;
}

/* "dit: no DiT in these weights (...); they look like an SD3 MMDiT (...)" */
static fokus_status not_a_dit(const fokus_st_entry *w, size_t n, const char *where, fokus_error *err)
{
    const char *fam = fokus_guess_family(w, n);
    if (fam && strstr(fam, "a DiT") == fam) fam = NULL; /* a DiT under another prefix: say nothing more */
    return fokus_fail(err, FOKUS_EFORMAT, "dit: no DiT in these weights (looked for 'y_embedder.embedding_table.weight' %s)%s%s%s",
                      where, fam ? "; they look like " : "", fam ? fam : "", fam ? ", not a DiT" : "");
}

/* The official head counts (DiT-S/B/L/XL); other widths: 64-wide heads. */
static int64_t default_heads(int64_t d)
{
    switch (d) {
    case 1152: return 16;
    case 1024: return 16;
    case 768: return 12;
    case 384: return 6;
    default: return d % 64 == 0 ? d / 64 : 0;
    }
}

static fokus_status load_block(const fokus_wset *ws, fokus_dit *m, int64_t i)
{
    const int64_t D = m->cfg.hidden_size, M = m->cfg.mlp_hidden;
    dit_block *b = &m->blocks[i];
    char s[160];
    fokus_status st;
#define NM(part) (snprintf(s, sizeof s, "blocks.%lld.%s", (long long)i, part), s)
#define MAT(part, r, c, dst) fokus_wset_matrix(ws, NM(part), 2, (const int64_t[]){(r), (c)}, (dst))
    if ((st = MAT("attn.qkv.weight", 3 * D, D, &b->qkv)) || (st = fokus_wset_f32(ws, NM("attn.qkv.bias"), 3 * D, &b->b_qkv)) ||
        (st = MAT("attn.proj.weight", D, D, &b->proj)) || (st = fokus_wset_f32(ws, NM("attn.proj.bias"), D, &b->b_proj)) ||
        (st = MAT("mlp.fc1.weight", M, D, &b->fc1)) || (st = fokus_wset_f32(ws, NM("mlp.fc1.bias"), M, &b->b_fc1)) ||
        (st = MAT("mlp.fc2.weight", D, M, &b->fc2)) || (st = fokus_wset_f32(ws, NM("mlp.fc2.bias"), D, &b->b_fc2)) ||
        (st = MAT("adaLN_modulation.1.weight", 6 * D, D, &b->ada)) ||
        (st = fokus_wset_f32(ws, NM("adaLN_modulation.1.bias"), 6 * D, &b->b_ada)))
        return st;
#undef MAT
#undef NM
    return FOKUS_OK;
}

/* Finds the prefix: the one given, or the single one under which a DiT's label table
 * appears. */
static fokus_status find_prefix(fokus_dit *m, const fokus_st_entry *w, size_t n, const char *prefix, fokus_error *err)
{
    fokus_status st = fokus_pick_prefix(w, n, prefix, "y_embedder.embedding_table.weight", "dit", "DiTs", &m->prefix, err);
    if (st == FOKUS_OK && !m->prefix) return not_a_dit(w, n, "under any prefix", err);
    return st;
}

fokus_status fokus_dit_new(fokus_dit **out, const fokus_st_entry *weights, size_t n, const char *prefix,
                           const fokus_dit_config *config, fokus_error *err)
{
    *out = NULL;
    fokus_dit_config given;
    memset(&given, 0, sizeof given);
    if (config) given = *config;
    fokus_dit *m = calloc(1, sizeof *m);
    if (!m) return fokus_fail(err, FOKUS_ENOMEM, "dit: out of memory");
    fokus_status st = find_prefix(m, weights, n, prefix, err);
    if (st != FOKUS_OK) {
        fokus_dit_free(m);
        return st;
    }
    fokus_wset ws = {weights, n, m->prefix, "dit", err};
    fokus_dit_config *c = &m->cfg;
    char sb[128], where[300];
    if (!fokus_wset_find(&ws, "y_embedder.embedding_table.weight")) {
        snprintf(where, sizeof where, "under prefix '%s'", m->prefix);
        st = not_a_dit(weights, n, where, err);
        goto fail;
    }
    /* sizes from the shapes */
    if ((st = fokus_wset_patch_embed(&ws, &c->hidden_size, &c->in_channels, &c->patch_size))) goto fail;
    const int64_t D = c->hidden_size, C = c->in_channels, p = c->patch_size;
    const fokus_tensor *t1 = fokus_wset_find(&ws, "t_embedder.mlp.0.weight");
    c->freq_dim = t1 && t1->ndim == 2 ? t1->shape[1] : 256;
    for (c->depth = 0;; c->depth++) {
        char s[96];
        snprintf(s, sizeof s, "blocks.%lld.attn.qkv.weight", (long long)c->depth);
        if (!fokus_wset_find(&ws, s)) break;
    }
    if (c->depth == 0) {
        st = fokus_fail(err, FOKUS_EFORMAT, "dit: no blocks under prefix '%s' (missing '%sblocks.0.attn.qkv.weight')",
                        m->prefix, m->prefix);
        goto fail;
    }
    const fokus_tensor *fc1 = fokus_wset_find(&ws, "blocks.0.mlp.fc1.weight");
    c->mlp_hidden = fc1 && fc1->ndim == 2 ? fc1->shape[0] : 4 * D;
    const fokus_tensor *fl = fokus_wset_find(&ws, "final_layer.linear.weight");
    if (fl && fl->ndim == 2 && fl->shape[0] % (p * p) == 0)
        c->out_channels = fl->shape[0] / (p * p);
    else if (fl) {
        st = fokus_fail(err, FOKUS_EFORMAT, "dit: '%sfinal_layer.linear.weight' has shape %s, expected [p*p*out_channels, %lld] with p = %lld",
                        m->prefix, fokus_shape_str(fl, sb, sizeof sb), (long long)D, (long long)p);
        goto fail;
    } else {
        st = fokus_fail(err, FOKUS_EFORMAT, "dit: missing tensor '%sfinal_layer.linear.weight'", m->prefix);
        goto fail;
    }
    c->learn_sigma = c->out_channels == 2 * C;
    const fokus_tensor *yt = fokus_wset_find(&ws, "y_embedder.embedding_table.weight");
    if (yt->ndim != 2 || yt->shape[0] < 1) {
        st = fokus_fail(err, FOKUS_EFORMAT, "dit: '%sy_embedder.embedding_table.weight' has shape %s, expected [num_classes + 1, %lld]",
                        m->prefix, fokus_shape_str(yt, sb, sizeof sb), (long long)D);
        goto fail;
    }
    const int64_t rows = yt->shape[0];
    if (given.num_classes > 0 && given.num_classes == rows) {
        c->num_classes = rows; /* trained without class dropout: no null class */
        c->null_class = false;
    } else {
        c->num_classes = rows - 1;
        c->null_class = true;
        if (given.num_classes > 0 && given.num_classes != rows - 1) {
            st = fokus_fail(err, FOKUS_EINVAL, "dit: config num_classes = %lld, but the label table has %lld rows "
                            "(num_classes + 1 with the null class)", (long long)given.num_classes, (long long)rows);
            goto fail;
        }
    }
    /* the stored position table sets the nominal input size */
    const fokus_tensor *pe = fokus_wset_find(&ws, "pos_embed");
    if (pe) {
        int64_t T0 = pe->ndim == 3 && pe->shape[0] == 1 ? pe->shape[1] : pe->ndim == 2 ? pe->shape[0] : -1;
        int64_t g = T0 > 0 ? (int64_t)llround(sqrt((double)T0)) : 0;
        if (T0 < 1 || g * g != T0 || pe->shape[pe->ndim - 1] != D) {
            st = fokus_fail(err, FOKUS_EFORMAT, "dit: '%spos_embed' has shape %s, expected [1, T, %lld] with T a square",
                            m->prefix, fokus_shape_str(pe, sb, sizeof sb), (long long)D);
            goto fail;
        }
        m->pos_grid = g;
        c->input_size = g * p;
        if ((st = fokus_wset_f32(&ws, "pos_embed", T0 * D, &m->pos)) != FOKUS_OK) goto fail;
    } else {
        c->input_size = given.input_size;
    }
    if ((st = agree(err, "hidden_size", given.hidden_size, D)) || (st = agree(err, "in_channels", given.in_channels, C)) ||
        (st = agree(err, "patch_size", given.patch_size, p)) || (st = agree(err, "depth", given.depth, c->depth)) ||
        (st = agree(err, "mlp hidden size", given.mlp_hidden, c->mlp_hidden)) ||
        (st = agree(err, "out_channels", given.out_channels, c->out_channels)) ||
        (st = agree(err, "frequency_embedding_size", given.freq_dim, c->freq_dim)) ||
        (st = agree(err, "input_size", given.input_size, c->input_size)))
        goto fail;
    c->num_heads = given.num_heads > 0 ? given.num_heads : default_heads(D);
    if (c->num_heads < 1) {
        st = fokus_fail(err, FOKUS_EINVAL, "dit: cannot infer num_heads for hidden size %lld (not a released DiT width, "
                        "not a multiple of 64); give it in the config", (long long)D);
        goto fail;
    }
    if (D % c->num_heads != 0 || D / c->num_heads > 256) {
        st = fokus_fail(err, FOKUS_EINVAL, "dit: hidden size %lld is not divisible into %lld heads of at most 256",
                        (long long)D, (long long)c->num_heads);
        goto fail;
    }
    c->max_period = given.max_period > 0 ? given.max_period : 10000;
    c->eps = given.eps > 0 ? given.eps : 1e-6;
    if (c->freq_dim < 2) {
        st = fokus_fail(err, FOKUS_EFORMAT, "dit: frequency embedding size %lld is below 2", (long long)c->freq_dim);
        goto fail;
    }

    /* every tensor, shape-checked */
    const int64_t F = c->freq_dim, OC = c->out_channels;
    if ((st = fokus_wset_matrix(&ws, "x_embedder.proj.weight", 4, (const int64_t[]){D, C, p, p}, &m->x_w)) ||
        (st = fokus_wset_f32(&ws, "x_embedder.proj.bias", D, &m->x_b)) ||
        (st = fokus_wset_matrix(&ws, "t_embedder.mlp.0.weight", 2, (const int64_t[]){D, F}, &m->t1)) ||
        (st = fokus_wset_f32(&ws, "t_embedder.mlp.0.bias", D, &m->t1_b)) ||
        (st = fokus_wset_matrix(&ws, "t_embedder.mlp.2.weight", 2, (const int64_t[]){D, D}, &m->t2)) ||
        (st = fokus_wset_f32(&ws, "t_embedder.mlp.2.bias", D, &m->t2_b)) ||
        (st = fokus_wset_matrix(&ws, "y_embedder.embedding_table.weight", 2, (const int64_t[]){rows, D}, &m->ytab)) ||
        (st = fokus_wset_matrix(&ws, "final_layer.linear.weight", 2, (const int64_t[]){p * p * OC, D}, &m->f_lin)) ||
        (st = fokus_wset_f32(&ws, "final_layer.linear.bias", p * p * OC, &m->f_lin_b)) ||
        (st = fokus_wset_matrix(&ws, "final_layer.adaLN_modulation.1.weight", 2, (const int64_t[]){2 * D, D}, &m->f_ada)) ||
        (st = fokus_wset_f32(&ws, "final_layer.adaLN_modulation.1.bias", 2 * D, &m->f_ada_b)))
        goto fail;
    m->blocks = calloc((size_t)c->depth, sizeof *m->blocks);
    if (!m->blocks) {
        st = fokus_fail(err, FOKUS_ENOMEM, "dit: out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < c->depth; i++)
        if ((st = load_block(&ws, m, i)) != FOKUS_OK) goto fail;
    *out = m;
    return FOKUS_OK;
fail:
    fokus_dit_free(m);
    return st;
}
