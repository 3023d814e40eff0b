/* Building a CLIP text model from named weights: naming detection (HF, SD/SDXL/SD3
 * prefixes, OpenCLIP), configuration inferred from shapes, and a shape check of every
 * tensor before anything is used. The layers' matrices are then copied, each in its
 * own dtype, one after the other into one block of huge pages (see own_matrices); the
 * token embedding, of which a pass reads a few rows, stays where it is (a view of the
 * mapped file); small vectors (biases, norms, positions) are widened to f32 copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip_internal.h"
#include "fokus.h"

typedef struct loader {
    const fokus_st_entry *w;
    size_t n;
    const char *prefix;
    fokus_error *err;
} loader;

static const fokus_tensor *find(const loader *ld, const char *suffix)
{
    size_t pl = strlen(ld->prefix);
    for (size_t i = 0; i < ld->n; i++) {
        const char *name = ld->w[i].name;
        if (strncmp(name, ld->prefix, pl) == 0 && strcmp(name + pl, suffix) == 0) return &ld->w[i].tensor;
    }
    return NULL;
}

static fokus_status shape_error(const loader *ld, const char *suffix, const fokus_tensor *t, int64_t a, int64_t b)
{
    char got[128];
    if (b >= 0)
        return fokus_fail(ld->err, FOKUS_EFORMAT, "clip: '%s%s' has shape %s, expected %lldx%lld", ld->prefix, suffix,
                          fokus_shape_str(t, got, sizeof got), (long long)a, (long long)b);
    return fokus_fail(ld->err, FOKUS_EFORMAT, "clip: '%s%s' has shape %s, expected %lld", ld->prefix, suffix,
                      fokus_shape_str(t, got, sizeof got), (long long)a);
}

static fokus_status need(const loader *ld, const char *suffix, const fokus_tensor **out)
{
    *out = find(ld, suffix);
    if (!*out) return fokus_fail(ld->err, FOKUS_EFORMAT, "clip: missing tensor '%s%s'", ld->prefix, suffix);
    if (!fokus_dtype_is_float((*out)->dtype))
        return fokus_fail(ld->err, FOKUS_EFORMAT, "clip: '%s%s' is %s, expected a float tensor", ld->prefix, suffix,
                          fokus_dtype_name((*out)->dtype));
    return FOKUS_OK;
}

/* A matrix [rows, cols] kept in place (a new reference). */
static fokus_status get_mat(const loader *ld, const char *suffix, int64_t rows, int64_t cols, fokus_tensor *dst)
{
    const fokus_tensor *t;
    fokus_status st = need(ld, suffix, &t);
    if (st != FOKUS_OK) return st;
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols || t->stride[1] != 1)
        return shape_error(ld, suffix, t, rows, cols);
    *dst = *t;
    fokus_tensor_retain(dst);
    return FOKUS_OK;
}

/* A vector of n values as a fresh f32 array. `rows` > 0 accepts [rows, n/rows] too. */
static fokus_status get_vec(const loader *ld, const char *suffix, int64_t n, float **dst)
{
    const fokus_tensor *t;
    fokus_status st = need(ld, suffix, &t);
    if (st != FOKUS_OK) return st;
    if (fokus_tensor_numel(t) != n || (t->ndim != 1 && t->ndim != 2)) return shape_error(ld, suffix, t, n, -1);
    fokus_tensor f;
    if ((st = fokus_tensor_f32(&f, t, ld->err)) != FOKUS_OK) return st;
    *dst = fokus_alloc((size_t)n * sizeof(float));
    if (*dst) memcpy(*dst, f.data, (size_t)n * sizeof(float));
    fokus_tensor_release(&f);
    return *dst ? FOKUS_OK : fokus_fail(ld->err, FOKUS_ENOMEM, "clip: out of memory");
}

/* Prefixes under which a text encoder's token embedding appears. */
static size_t candidates(const fokus_st_entry *w, size_t n, char **out, size_t max)
{
    static const char *const keys[] = {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"};
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        for (int j = 0; j < 2; j++) {
            size_t nl = strlen(w[i].name), kl = strlen(keys[j]);
            if (nl < kl || strcmp(w[i].name + nl - kl, keys[j]) != 0) continue;
            /* the OpenCLIP name must be a whole component, and HF's is matched first */
            if (j == 1 && nl > kl && w[i].name[nl - kl - 1] != '.') continue;
            if (j == 1 && nl >= strlen(keys[0]) && strcmp(w[i].name + nl - strlen(keys[0]), keys[0]) == 0) continue;
            char *p = strndup(w[i].name, nl - kl);
            if (!p) return k;
            /* an OpenCLIP prefix also needs positional_embedding beside it */
            if (j == 1) {
                loader ld = {w, n, p, NULL};
                if (!find(&ld, "positional_embedding")) {
                    free(p);
                    continue;
                }
            }
            out[k++] = p;
        }
    }
    return k;
}

static void free_layers(fokus_clip *m)
{
    if (!m->layers) return;
    for (int64_t l = 0; l < m->cfg.num_layers; l++) {
        clip_layer *L = &m->layers[l];
        fokus_free(L->ln1_w), fokus_free(L->ln1_b), fokus_free(L->ln2_w), fokus_free(L->ln2_b);
        fokus_free(L->bqkv), fokus_free(L->bo), fokus_free(L->b1), fokus_free(L->b2);
        fokus_tensor_release(&L->wqkv), fokus_tensor_release(&L->wq), fokus_tensor_release(&L->wk);
        fokus_tensor_release(&L->wv), fokus_tensor_release(&L->wo), fokus_tensor_release(&L->w1);
        fokus_tensor_release(&L->w2);
    }
    free(m->layers);
    m->layers = NULL;
}

void fokus_clip_free(fokus_clip *m)
{
    if (!m) return;
    free_layers(m);
    fokus_tensor_release(&m->tok_emb);
    fokus_tensor_release(&m->proj);
    fokus_free(m->pos_emb);
    fokus_free(m->lnf_w);
    fokus_free(m->lnf_b);
    free(m->prefix);
    free(m);
}

const fokus_clip_config *fokus_clip_get_config(const fokus_clip *m)
{
    return &m->cfg;
}

fokus_clip_naming fokus_clip_get_naming(const fokus_clip *m)
{
    return m->naming;
}

const char *fokus_clip_prefix(const fokus_clip *m)
{
    return m->prefix;
}

/* Copies the layers' matrices into one block, back to back in the order a forward pass
 * reads them, and makes them views of it.
 *
 * Why: at 77 tokens a forward pass reads every weight once, from memory, a few rows
 * at a time (gemm_rows.c), and that stream is the limit. From the 4 KiB pages of a
 * mapped file or of malloc each row crosses pages; in huge pages (a block of 2 MiB or
 * more from a fokus allocator, core/base/alloc.c) it does not, but separate blocks of
 * huge pages all start 2 MiB-aligned, so the same offsets of every matrix fall into
 * the same cache sets: 1 thread, 200 matrices 768x768 streamed at M = 77, 140 GFLOP/s
 * in such blocks, 151 in 4 KiB pages, 148-151 with the blocks' starts staggered and
 * 155-166 back to back in one block (where consecutive matrices start at staggered
 * offsets by themselves). CLIP-L forward, 2 threads, one process, two models of each
 * kind created ABBA and alternated: 4.3-5.6% faster than with the matrices left in
 * place in malloc'd memory, 4.8-5.2% faster than the same single block in 4 KiB pages.
 * The cost: one copy at load (the mapped file's pages stay reclaimable page cache). */
/* a matrix's bytes rounded up to a cache line: where the next one starts */
static size_t line_bytes(const fokus_tensor *t)
{
    return ((size_t)fokus_tensor_numel(t) * fokus_dtype_size(t->dtype) + 63) & ~(size_t)63;
}

static fokus_status own_matrices(fokus_clip *m, fokus_error *err)
{
    const int64_t L = m->cfg.num_layers;
    fokus_tensor **mats = malloc((size_t)L * 7 * sizeof *mats);
    if (!mats) return fokus_fail(err, FOKUS_ENOMEM, "clip: out of memory");
    size_t n = 0, total = 0;
    for (int64_t l = 0; l < L; l++) {
        clip_layer *ly = &m->layers[l];
        fokus_tensor *const all[] = {&ly->wqkv, &ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w1, &ly->w2};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
            fokus_tensor *t = all[i];
            /* rows that overlap (a broadcast view, stride 0) are not real weights */
            if (!t->data || t->stride[0] < t->shape[1]) continue;
            mats[n++] = t;
            total += line_bytes(t);
        }
    }
    fokus_status st = FOKUS_OK;
    fokus_tensor arena = {0};
    fokus_allocator *a = NULL;
    if (n > 0 && (st = fokus_allocator_new(&a, 0, err)) == FOKUS_OK) {
        const int64_t floats = (int64_t)(total / sizeof(float));
        st = fokus_tensor_empty_alloc(a, &arena, FOKUS_F32, 1, &floats, err);
        fokus_allocator_release(a); /* the block holds its own reference */
    }
    size_t off = 0;
    for (size_t i = 0; i < n && st == FOKUS_OK; i++) {
        fokus_tensor *t = mats[i], v;
        if ((st = fokus_tensor_from_storage(&v, arena.storage, off, t->dtype, 2, t->shape, err)) != FOKUS_OK) break;
        if ((st = fokus_tensor_copy(&v, t, err)) != FOKUS_OK) {
            fokus_tensor_release(&v);
            break;
        }
        off += line_bytes(t);
        fokus_tensor_release(t);
        *t = v;
    }
    fokus_tensor_release(&arena); /* the views hold the block */
    free(mats);
    return st;
}

/* Checks an explicit config size against the one found in the shapes. */
static fokus_status agree(fokus_error *err, const char *what, int64_t given, int64_t found)
{
    if (given > 0 && given != found)
        return fokus_fail(err, FOKUS_EINVAL, "clip: config %s = %lld, but the weights have %lld", what,
                          (long long)given, (long long)found);
    return FOKUS_OK;
}

static fokus_status load_layer(const loader *ld, fokus_clip *m, int64_t l)
{
    const int64_t D = m->cfg.hidden_size, I = m->cfg.intermediate_size;
    clip_layer *L = &m->layers[l];
    char s[256];
    fokus_status st;
#define SUF(fmt) (snprintf(s, sizeof s, fmt, (long long)l), s)
    L->bqkv = fokus_alloc((size_t)(3 * D) * sizeof(float));
    if (!L->bqkv) return fokus_fail(ld->err, FOKUS_ENOMEM, "clip: out of memory");
    if (m->naming == FOKUS_CLIP_HF) {
        float *b;
        const char *const names[3] = {"q_proj", "k_proj", "v_proj"};
        fokus_tensor *ws[3] = {&L->wq, &L->wk, &L->wv};
        for (int j = 0; j < 3; j++) {
            snprintf(s, sizeof s, "text_model.encoder.layers.%lld.self_attn.%s.weight", (long long)l, names[j]);
            if ((st = get_mat(ld, s, D, D, ws[j])) != FOKUS_OK) return st;
            snprintf(s, sizeof s, "text_model.encoder.layers.%lld.self_attn.%s.bias", (long long)l, names[j]);
            if ((st = get_vec(ld, s, D, &b)) != FOKUS_OK) return st;
            memcpy(L->bqkv + j * D, b, (size_t)D * sizeof(float));
            fokus_free(b);
        }
        if ((st = get_mat(ld, SUF("text_model.encoder.layers.%lld.self_attn.out_proj.weight"), D, D, &L->wo)) ||
            (st = get_vec(ld, SUF("text_model.encoder.layers.%lld.self_attn.out_proj.bias"), D, &L->bo)) ||
            (st = get_vec(ld, SUF("text_model.encoder.layers.%lld.layer_norm1.weight"), D, &L->ln1_w)) ||
            (st = get_vec(ld, SUF("text_model.encoder.layers.%lld.layer_norm1.bias"), D, &L->ln1_b)) ||
            (st = get_vec(ld, SUF("text_model.encoder.layers.%lld.layer_norm2.weight"), D, &L->ln2_w)) ||
            (st = get_vec(ld, SUF("text_model.encoder.layers.%lld.layer_norm2.bias"), D, &L->ln2_b)) ||
            (st = get_mat(ld, SUF("text_model.encoder.layers.%lld.mlp.fc1.weight"), I, D, &L->w1)) ||
            (st = get_vec(ld, SUF("text_model.encoder.layers.%lld.mlp.fc1.bias"), I, &L->b1)) ||
            (st = get_mat(ld, SUF("text_model.encoder.layers.%lld.mlp.fc2.weight"), D, I, &L->w2)) ||
            (st = get_vec(ld, SUF("text_model.encoder.layers.%lld.mlp.fc2.bias"), D, &L->b2)))
            return st;
    } else {
        float *b;
        L->fused_qkv = true;
        if ((st = get_mat(ld, SUF("transformer.resblocks.%lld.attn.in_proj_weight"), 3 * D, D, &L->wqkv)) ||
            (st = get_vec(ld, SUF("transformer.resblocks.%lld.attn.in_proj_bias"), 3 * D, &b)))
            return st;
        memcpy(L->bqkv, b, (size_t)(3 * D) * sizeof(float));
        fokus_free(b);
        if ((st = get_mat(ld, SUF("transformer.resblocks.%lld.attn.out_proj.weight"), D, D, &L->wo)) ||
            (st = get_vec(ld, SUF("transformer.resblocks.%lld.attn.out_proj.bias"), D, &L->bo)) ||
            (st = get_vec(ld, SUF("transformer.resblocks.%lld.ln_1.weight"), D, &L->ln1_w)) ||
            (st = get_vec(ld, SUF("transformer.resblocks.%lld.ln_1.bias"), D, &L->ln1_b)) ||
            (st = get_vec(ld, SUF("transformer.resblocks.%lld.ln_2.weight"), D, &L->ln2_w)) ||
            (st = get_vec(ld, SUF("transformer.resblocks.%lld.ln_2.bias"), D, &L->ln2_b)) ||
            (st = get_mat(ld, SUF("transformer.resblocks.%lld.mlp.c_fc.weight"), I, D, &L->w1)) ||
            (st = get_vec(ld, SUF("transformer.resblocks.%lld.mlp.c_fc.bias"), I, &L->b1)) ||
            (st = get_mat(ld, SUF("transformer.resblocks.%lld.mlp.c_proj.weight"), D, I, &L->w2)) ||
            (st = get_vec(ld, SUF("transformer.resblocks.%lld.mlp.c_proj.bias"), D, &L->b2)))
            return st;
    }
#undef SUF
    return FOKUS_OK;
}

fokus_status fokus_clip_new(fokus_clip **out, const fokus_st_entry *weights, size_t n, const char *prefix,
                            const fokus_clip_config *config, fokus_error *err)
{
    *out = NULL;
    fokus_clip *m = calloc(1, sizeof *m);
    if (!m) return fokus_fail(err, FOKUS_ENOMEM, "clip: out of memory");
    fokus_status st = FOKUS_OK;
    fokus_clip_config given;
    if (config)
        given = *config;
    else {
        memset(&given, 0, sizeof given);
        given.bos_id = given.eos_id = given.pad_id = -1;
    }
    if (prefix) {
        m->prefix = strdup(prefix);
    } else {
        char *c[8];
        size_t k = candidates(weights, n, c, 8);
        if (k == 0) {
            fokus_clip_free(m);
            return fokus_fail(err, FOKUS_EFORMAT,
                              "clip: no CLIP text encoder in these weights (looked for "
                              "'text_model.embeddings.token_embedding.weight' and OpenCLIP's 'token_embedding.weight' "
                              "under any prefix)");
        }
        if (k > 1) {
            char list[400] = "";
            for (size_t i = 0; i < k; i++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s'%s'", i ? ", " : "", c[i]);
            }
            for (size_t i = 0; i < k; i++) free(c[i]);
            fokus_clip_free(m);
            return fokus_fail(err, FOKUS_EINVAL, "clip: the weights hold %zu text encoders (prefixes %s); choose one with opts.prefix",
                              k, list);
        }
        m->prefix = c[0];
    }
    if (!m->prefix) {
        fokus_clip_free(m);
        return fokus_fail(err, FOKUS_ENOMEM, "clip: out of memory");
    }
    loader ld = {weights, n, m->prefix, err};
    const fokus_tensor *tok, *pos;
    if (find(&ld, "text_model.embeddings.token_embedding.weight")) {
        m->naming = FOKUS_CLIP_HF;
        st = need(&ld, "text_model.embeddings.token_embedding.weight", &tok);
        if (st == FOKUS_OK) st = need(&ld, "text_model.embeddings.position_embedding.weight", &pos);
    } else if (find(&ld, "token_embedding.weight")) {
        m->naming = FOKUS_CLIP_OPENCLIP;
        st = need(&ld, "token_embedding.weight", &tok);
        if (st == FOKUS_OK) st = need(&ld, "positional_embedding", &pos);
    } else {
        st = fokus_fail(err, FOKUS_EFORMAT,
                        "clip: no CLIP text encoder under prefix '%s' (missing '%stext_model.embeddings.token_embedding.weight' "
                        "and '%stoken_embedding.weight')", m->prefix, m->prefix, m->prefix);
    }
    if (st != FOKUS_OK) goto fail;
    if (tok->ndim != 2 || pos->ndim != 2 || pos->shape[1] != tok->shape[1]) {
        char a[64], b[64];
        st = fokus_fail(err, FOKUS_EFORMAT, "clip: token embedding %s and position embedding %s do not agree",
                        fokus_shape_str(tok, a, sizeof a), fokus_shape_str(pos, b, sizeof b));
        goto fail;
    }
    fokus_clip_config *c = &m->cfg;
    c->vocab_size = tok->shape[0];
    c->hidden_size = tok->shape[1];
    c->max_positions = pos->shape[0];
    /* count layers */
    for (c->num_layers = 0;; c->num_layers++) {
        char s[160];
        if (m->naming == FOKUS_CLIP_HF)
            snprintf(s, sizeof s, "text_model.encoder.layers.%lld.layer_norm1.weight", (long long)c->num_layers);
        else
            snprintf(s, sizeof s, "transformer.resblocks.%lld.ln_1.weight", (long long)c->num_layers);
        if (!find(&ld, s)) break;
    }
    if (c->num_layers == 0) {
        st = fokus_fail(err, FOKUS_EFORMAT, "clip: no transformer layers under prefix '%s'", m->prefix);
        goto fail;
    }
    const fokus_tensor *fc1 = find(&ld, m->naming == FOKUS_CLIP_HF ? "text_model.encoder.layers.0.mlp.fc1.weight"
                                                                   : "transformer.resblocks.0.mlp.c_fc.weight");
    c->intermediate_size = fc1 && fc1->ndim == 2 ? fc1->shape[0] : 4 * c->hidden_size;
    const fokus_tensor *pj = find(&ld, m->naming == FOKUS_CLIP_HF ? "text_projection.weight" : "text_projection");
    if (pj && pj->ndim == 2) {
        m->has_proj = true;
        m->proj_trans = m->naming == FOKUS_CLIP_HF;
        c->projection_dim = m->proj_trans ? pj->shape[0] : pj->shape[1];
    }
    if ((st = agree(err, "vocab_size", given.vocab_size, c->vocab_size)) ||
        (st = agree(err, "hidden_size", given.hidden_size, c->hidden_size)) ||
        (st = agree(err, "num_hidden_layers", given.num_layers, c->num_layers)) ||
        (st = agree(err, "intermediate_size", given.intermediate_size, c->intermediate_size)) ||
        (st = agree(err, "max_position_embeddings", given.max_positions, c->max_positions)) ||
        (m->has_proj && (st = agree(err, "projection_dim", given.projection_dim, c->projection_dim))))
        goto fail;
    c->num_heads = given.num_heads > 0 ? given.num_heads : (c->hidden_size % 64 == 0 ? c->hidden_size / 64 : 1);
    if (c->hidden_size % c->num_heads != 0) {
        st = fokus_fail(err, FOKUS_EINVAL, "clip: hidden size %lld is not divisible by %lld heads",
                        (long long)c->hidden_size, (long long)c->num_heads);
        goto fail;
    }
    c->act = given.act != FOKUS_ACT_NONE ? given.act
             : (c->hidden_size == 1024 || c->hidden_size == 1280) ? FOKUS_ACT_GELU
                                                                  : FOKUS_ACT_QUICK_GELU;
    c->layer_norm_eps = given.layer_norm_eps > 0 ? given.layer_norm_eps : 1e-5;
    c->eos_id = given.eos_id >= 0 ? given.eos_id : c->vocab_size - 1;
    c->bos_id = given.bos_id >= 0 ? given.bos_id : c->vocab_size - 2;
    c->pad_id = given.pad_id >= 0 ? given.pad_id : c->eos_id;

    const int64_t D = c->hidden_size;
    if ((st = get_mat(&ld, m->naming == FOKUS_CLIP_HF ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight",
                      c->vocab_size, D, &m->tok_emb)) ||
        (st = get_vec(&ld, m->naming == FOKUS_CLIP_HF ? "text_model.embeddings.position_embedding.weight" : "positional_embedding",
                      c->max_positions * D, &m->pos_emb)) ||
        (st = get_vec(&ld, m->naming == FOKUS_CLIP_HF ? "text_model.final_layer_norm.weight" : "ln_final.weight", D, &m->lnf_w)) ||
        (st = get_vec(&ld, m->naming == FOKUS_CLIP_HF ? "text_model.final_layer_norm.bias" : "ln_final.bias", D, &m->lnf_b)))
        goto fail;
    if (m->has_proj) {
        const char *pn = m->naming == FOKUS_CLIP_HF ? "text_projection.weight" : "text_projection";
        st = m->proj_trans ? get_mat(&ld, pn, c->projection_dim, D, &m->proj) : get_mat(&ld, pn, D, c->projection_dim, &m->proj);
        if (st != FOKUS_OK) goto fail;
    }
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!m->layers) {
        st = fokus_fail(err, FOKUS_ENOMEM, "clip: out of memory");
        goto fail;
    }
    for (int64_t l = 0; l < c->num_layers; l++)
        if ((st = load_layer(&ld, m, l)) != FOKUS_OK) goto fail;
    if ((st = own_matrices(m, err)) != FOKUS_OK) goto fail;
    *out = m;
    return FOKUS_OK;
fail:
    fokus_clip_free(m);
    return st;
}
