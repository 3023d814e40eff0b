/* SD3 MMDiT / MMDiT-X: the oracles at every stored stage (no qk-norm, RMS qk-norm with a
 * non-square latent, MMDiT-X in BF16), config inference, the full SD3-medium names and
 * shapes, prefix detection inside a full SD3 file, attention capture against the
 * probabilities of the reference attention, and every input and checkpoint error. */
#include <jansson.h>

#include "check.h"

#include "fokus.h"
#include "models/mmdit_internal.h"

static fokus_ctx *ctx;

static bool load_case(const char *name, fokus_st_file *f)
{
    const char *shared = check_shared_dir();
    if (!shared) {
        check_skip("../shared not found (set FOKUS_SHARED): MMDiT oracles not checked");
        return false;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/oracles/models/%s.safetensors", shared, name);
    fokus_error err;
    fokus_status st = fokus_st_load(path, f, &err);
    CHECK_MSG(st == FOKUS_OK, "%s: %s", path, err.msg);
    return st == FOKUS_OK;
}

static json_t *load_json(const char *name)
{
    const char *shared = check_shared_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/oracles/models/%s", shared ? shared : ".", name);
    json_error_t e;
    return json_load_file(path, 0, &e);
}

static double json_tol(const char *name)
{
    char file[128];
    snprintf(file, sizeof file, "%s.json", name);
    json_t *j = load_json(file);
    double tol = json_number_value(json_object_get(json_object_get(j, "tolerance"), "max_abs_err_over_max_abs_ref"));
    json_decref(j);
    return tol > 0 ? tol : 1e-4;
}

/* max|got - ref| <= tol * max(max|ref|, 1e-6), shapes equal; returns the relative error */
static double check_close(const char *what, const fokus_tensor *got, const fokus_tensor *ref, double tol)
{
    if (!ref || !fokus_tensor_same_shape(got, ref)) {
        char a[64], b[64] = "missing";
        CHECK_MSG(0, "%s: shape %s vs %s", what, fokus_shape_str(got, a, sizeof a), ref ? fokus_shape_str(ref, b, sizeof b) : b);
        return INFINITY;
    }
    double md = 0, mr = 0;
    int64_t n = fokus_tensor_numel(ref);
    for (int64_t i = 0; i < n; i++) {
        double g = fokus_tensor_get(got, i), r = fokus_tensor_get(ref, i);
        if (fabs(r) > mr) mr = fabs(r);
        if (!(fabs(g - r) <= md)) md = fabs(g - r);
    }
    double rel = md / (mr > 1e-6 ? mr : 1e-6);
    CHECK_MSG(rel <= tol, "%s: rel err %.3g > %.3g", what, rel, tol);
    printf("#   %-34s rel err %.2e (tol %.0e)\n", what, rel, tol);
    return rel;
}

/* the oracle's config: the head count is not in the shapes without a qk-norm */
static fokus_mmdit_config oracle_config(void)
{
    fokus_mmdit_config c;
    memset(&c, 0, sizeof c);
    c.num_heads = 4;
    return c;
}

static fokus_mmdit *load_model(const fokus_st_file *f, const char *prefix)
{
    fokus_error err;
    fokus_mmdit_config cfg = oracle_config();
    fokus_mmdit *m = NULL;
    CHECK_MSG(fokus_mmdit_new(&m, f->entries, f->n_entries, prefix, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    return m;
}

static fokus_status forward(fokus_mmdit *m, const fokus_tensor *x, const fokus_tensor *t, const fokus_tensor *c,
                            const fokus_tensor *y, const fokus_mmdit_opts *o, fokus_tensor *out, fokus_error *err)
{
    const fokus_mmdit_config *cf = fokus_mmdit_get_config(m);
    int64_t shape[4] = {x->shape[0], cf->out_channels, x->shape[2], x->shape[3]};
    fokus_tensor_new(out, FOKUS_F32, 4, shape, err);
    return fokus_mmdit_forward(ctx, m, x, t, c, y, o, out, err);
}

/* Runs the model on the oracle's inputs and compares every stored output. */
static void run_oracle(const char *name, const char *tag)
{
    fokus_st_file f;
    if (!load_case(name, &f)) return;
    double tol = json_tol(name);
    fokus_mmdit *m = load_model(&f, NULL);
    if (!m) {
        fokus_st_free(&f);
        return;
    }
    fokus_error err;
    const fokus_tensor *x = fokus_st_find(&f, "inputs.x"), *t = fokus_st_find(&f, "inputs.t"),
                       *cx = fokus_st_find(&f, "inputs.context"), *y = fokus_st_find(&f, "inputs.y");
    fokus_tensor out;
    fokus_mmdit_trace tr;
    fokus_mmdit_opts o = {NULL, NULL, &tr};
    fokus_status st = forward(m, x, t, cx, y, &o, &out, &err);
    CHECK_MSG(st == FOKUS_OK, "%s", err.msg);
    int covered = 0;
    if (st == FOKUS_OK) {
        char what[96], oname[64];
        struct {
            const char *name;
            const fokus_tensor *got;
        } outs[] = {
            {"pos_embed_cropped", &tr.pos_embed}, {"x_tokens", &tr.x_tokens}, {"t_freq", &tr.t_freq},
            {"t_emb", &tr.t_emb}, {"y_emb", &tr.y_emb}, {"c", &tr.c}, {"context_tokens", &tr.context_tokens},
            {"final_tokens", &tr.final_tokens}, {"out", &out},
        };
        for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
            snprintf(oname, sizeof oname, "outputs.%s", outs[i].name);
            snprintf(what, sizeof what, "%s %s", tag, outs[i].name);
            /* t_freq: PyTorch's float32 exp is not correctly rounded (see fokus_dit.h) */
            check_close(what, outs[i].got, fokus_st_find(&f, oname), tol);
            covered++;
        }
        CHECK_EQ_INT(tr.n_blocks, 2);
        for (int i = 0; i < tr.n_blocks; i++) {
            snprintf(oname, sizeof oname, "outputs.block.%d.x", i);
            snprintf(what, sizeof what, "%s block.%d.x", tag, i);
            check_close(what, &tr.block_x[i], fokus_st_find(&f, oname), tol);
            covered++;
            snprintf(oname, sizeof oname, "outputs.block.%d.context", i);
            if (fokus_st_find(&f, oname)) {
                snprintf(what, sizeof what, "%s block.%d.context", tag, i);
                check_close(what, &tr.block_context[i], fokus_st_find(&f, oname), tol);
                covered++;
            } else {
                CHECK(tr.block_context[i].data == NULL); /* pre_only: the stream ends */
            }
        }
        fokus_mmdit_trace_free(&tr);
        /* without a trace: the same output, bit for bit */
        fokus_tensor out2;
        CHECK(forward(m, x, t, cx, y, NULL, &out2, &err) == FOKUS_OK);
        CHECK(memcmp(out.data, out2.data, (size_t)fokus_tensor_numel(&out) * 4) == 0);
        fokus_tensor_release(&out2);
    }
    fokus_tensor_release(&out);
    /* the non-square case: 8x12 latent, 4x6 grid, crop offset (2, 1), 7 context tokens */
    const fokus_tensor *xw = fokus_st_find(&f, "inputs.x_wide");
    if (xw) {
        fokus_tensor ow;
        st = forward(m, xw, fokus_st_find(&f, "inputs.t_wide"), fokus_st_find(&f, "inputs.context_wide"),
                     fokus_st_find(&f, "inputs.y_wide"), &(fokus_mmdit_opts){NULL, NULL, &tr}, &ow, &err);
        CHECK_MSG(st == FOKUS_OK, "%s", err.msg);
        if (st == FOKUS_OK) {
            char what[96];
            snprintf(what, sizeof what, "%s pos_embed_cropped_wide", tag);
            check_close(what, &tr.pos_embed, fokus_st_find(&f, "outputs.pos_embed_cropped_wide"), tol);
            snprintf(what, sizeof what, "%s out_wide", tag);
            check_close(what, &ow, fokus_st_find(&f, "outputs.out_wide"), tol);
            covered += 2;
            fokus_mmdit_trace_free(&tr);
        }
        fokus_tensor_release(&ow);
    }
    /* every output of the oracle was compared */
    int n_out = 0;
    for (size_t i = 0; i < f.n_entries; i++) n_out += strncmp(f.entries[i].name, "outputs.", 8) == 0;
    CHECK_EQ_INT(covered, n_out);
    fokus_mmdit_free(m);
    fokus_st_free(&f);
}

static void test_oracles(void)
{
    run_oracle("mmdit_tiny", "tiny");
    run_oracle("mmdit_tiny_rms", "rms");
    run_oracle("mmditx_tiny_bf16", "x bf16");
}

/* Sizes, qk-norm, pre_only and attn2 come from the names and shapes. */
static void test_config_inference(void)
{
    static const struct {
        const char *name;
        fokus_qk_norm qk;
        int64_t n_attn2;
        fokus_dtype dt;
    } cases[] = {
        {"mmdit_tiny", FOKUS_QK_NONE, 0, FOKUS_F32},
        {"mmdit_tiny_rms", FOKUS_QK_RMS, 0, FOKUS_F32},
        {"mmditx_tiny_bf16", FOKUS_QK_RMS, 1, FOKUS_BF16},
    };
    for (size_t k = 0; k < 3; k++) {
        fokus_st_file f;
        if (!load_case(cases[k].name, &f)) return;
        fokus_error err;
        fokus_mmdit *m = NULL;
        /* with a qk-norm the heads come from ln_q; without one the config gives them */
        fokus_status st = fokus_mmdit_new(&m, f.entries, f.n_entries, NULL, NULL, &err);
        if (cases[k].qk == FOKUS_QK_NONE) {
            CHECK(st == FOKUS_OK);
            CHECK_EQ_INT(fokus_mmdit_get_config(m)->num_heads, 1); /* D / 64: the SD3 rule */
            fokus_mmdit_free(m);
            m = load_model(&f, NULL);
        } else {
            CHECK_MSG(st == FOKUS_OK, "%s", err.msg);
        }
        if (m) {
            const fokus_mmdit_config *c = fokus_mmdit_get_config(m);
            CHECK_STR(fokus_mmdit_prefix(m), "weights.");
            CHECK_EQ_INT(c->in_channels, 4);
            CHECK_EQ_INT(c->out_channels, 4);
            CHECK_EQ_INT(c->patch_size, 2);
            CHECK_EQ_INT(c->hidden_size, 64);
            CHECK_EQ_INT(c->depth, 2);
            CHECK_EQ_INT(c->num_heads, 4);
            CHECK_EQ_INT(c->mlp_hidden, 256);
            CHECK_EQ_INT(c->context_dim, 32);
            CHECK_EQ_INT(c->pooled_dim, 48);
            CHECK_EQ_INT(c->pos_embed_max_size, 8);
            CHECK_EQ_INT(c->freq_dim, 256);
            CHECK(c->qk_norm == cases[k].qk);
            CHECK_EQ_INT(c->n_attn2, cases[k].n_attn2);
            CHECK(fokus_mmdit_has_attn2(m, 0) == (cases[k].n_attn2 > 0) && !fokus_mmdit_has_attn2(m, 1));
            CHECK(!fokus_mmdit_pre_only(m, 0) && fokus_mmdit_pre_only(m, 1));
            CHECK_NEAR(c->eps, 1e-6, 0);
            CHECK_NEAR(c->qk_eps, 1e-6, 0);
            /* f16/bf16 matrices and the position table are used in place */
            const fokus_tensor *qkv = fokus_st_find(&f, "weights.joint_blocks.1.x_block.attn.qkv.weight");
            CHECK(m->blocks[1].x.attn.qkv.data == qkv->data && m->blocks[1].x.attn.qkv.dtype == cases[k].dt);
            CHECK(m->pos.data == fokus_st_find(&f, "weights.pos_embed")->data);
            /* a config that contradicts the shapes */
            fokus_mmdit_config bad = oracle_config();
            bad.context_dim = 33;
            fokus_mmdit *m2 = NULL;
            CHECK(fokus_mmdit_new(&m2, f.entries, f.n_entries, NULL, &bad, &err) == FOKUS_EINVAL);
            CHECK(strstr(err.msg, "context_dim = 33") && strstr(err.msg, "32"));
            if (cases[k].qk != FOKUS_QK_NONE) {
                bad = oracle_config();
                bad.num_heads = 2;
                CHECK(fokus_mmdit_new(&m2, f.entries, f.n_entries, NULL, &bad, &err) == FOKUS_EINVAL);
                CHECK_MSG(strstr(err.msg, "num_heads = 2") != NULL, "%s", err.msg);
            }
            fokus_mmdit_free(m);
        }
        fokus_st_free(&f);
    }
}

/* Entries named `prefix + name` for every weight of a case (tensors shared). */
static fokus_st_entry *renamed(const fokus_st_file *f, const char *prefix, size_t *n, size_t extra)
{
    fokus_st_entry *e = calloc(f->n_entries + extra, sizeof *e);
    *n = 0;
    for (size_t i = 0; i < f->n_entries; i++) {
        if (strncmp(f->entries[i].name, "weights.", 8) != 0) continue;
        size_t len = strlen(prefix) + strlen(f->entries[i].name) + 1;
        e[*n].name = malloc(len);
        snprintf(e[*n].name, len, "%s%s", prefix, f->entries[i].name + 8);
        e[*n].tensor = f->entries[i].tensor;
        fokus_tensor_retain(&e[*n].tensor);
        (*n)++;
    }
    return e;
}

static void add_entry(fokus_st_entry *e, size_t *n, const char *name, int64_t d0, int64_t d1)
{
    fokus_error err;
    int64_t shape[2] = {d0, d1};
    e[*n].name = strdup(name);
    fokus_tensor_new(&e[*n].tensor, FOKUS_F16, 2, shape, &err);
    (*n)++;
}

/* A full SD3 single file: the MMDiT under model.diffusion_model. next to CLIP-L/G, T5
 * and the VAE; the prefix is found and the oracle still matches. Two MMDiTs: an error
 * listing both prefixes. */
static void test_prefix(void)
{
    fokus_st_file f;
    if (!load_case("mmdit_tiny_rms", &f)) return;
    fokus_error err;
    size_t n;
    fokus_st_entry *e = renamed(&f, "model.diffusion_model.", &n, 8);
    add_entry(e, &n, "text_encoders.clip_l.transformer.text_model.embeddings.token_embedding.weight", 49408, 8);
    add_entry(e, &n, "text_encoders.clip_g.transformer.text_model.embeddings.token_embedding.weight", 49408, 8);
    add_entry(e, &n, "text_encoders.t5xxl.transformer.encoder.block.0.layer.0.SelfAttention.q.weight", 8, 8);
    add_entry(e, &n, "first_stage_model.decoder.conv_in.weight", 8, 8);
    fokus_mmdit *m = NULL;
    CHECK_MSG(fokus_mmdit_new(&m, e, n, NULL, NULL, &err) == FOKUS_OK, "%s", err.msg);
    if (m) {
        CHECK_STR(fokus_mmdit_prefix(m), "model.diffusion_model.");
        const fokus_tensor *x = fokus_st_find(&f, "inputs.x"), *t = fokus_st_find(&f, "inputs.t"),
                           *cx = fokus_st_find(&f, "inputs.context"), *y = fokus_st_find(&f, "inputs.y");
        fokus_tensor out;
        CHECK(forward(m, x, t, cx, y, NULL, &out, &err) == FOKUS_OK);
        check_close("prefixed out", &out, fokus_st_find(&f, "outputs.out"), 1e-4);
        fokus_tensor_release(&out);
        fokus_mmdit_free(m);
    }
    /* an explicit wrong prefix */
    CHECK(fokus_mmdit_new(&m, e, n, "model.", NULL, &err) == FOKUS_EFORMAT);
    CHECK_MSG(strstr(err.msg, "under prefix 'model.'") != NULL, "%s", err.msg);
    /* two MMDiTs */
    size_t n2;
    fokus_st_entry *e2 = renamed(&f, "a.", &n2, f.n_entries);
    for (size_t i = 0; i < n2 && i < f.n_entries; i++) {
        const char *nm = e2[i].name + 2;
        size_t len = strlen(nm) + 3;
        e2[n2 + i].name = malloc(len);
        snprintf(e2[n2 + i].name, len, "b.%s", nm);
        e2[n2 + i].tensor = e2[i].tensor;
        fokus_tensor_retain(&e2[n2 + i].tensor);
    }
    size_t tot = 2 * n2;
    CHECK(fokus_mmdit_new(&m, e2, tot, NULL, NULL, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "'a.'") && strstr(err.msg, "'b.'") && strstr(err.msg, "opts.prefix"), "%s", err.msg);
    CHECK(fokus_mmdit_new(&m, e2, tot, "b.", NULL, &err) == FOKUS_OK);
    fokus_mmdit_free(m);
    fokus_st_entries_free(e2, tot);
    fokus_st_entries_free(e, n);
    fokus_st_free(&f);
}

/* The full SD3-medium (mmdit_sd3_medium.config.json): every tensor name and shape is
 * accepted, under the single-file prefix, and the config comes out as published. The
 * tensors are f16 views of one zero page each (no 4 GB allocation). */
static void test_sd3_medium_names(void)
{
    if (!check_shared_dir()) {
        check_skip("../shared not found: SD3-medium names not checked");
        return;
    }
    json_t *j = load_json("mmdit_sd3_medium.config.json");
    CHECK(j != NULL);
    if (!j) return;
    json_t *tensors = json_object_get(j, "tensors");
    size_t n = json_object_size(tensors), k = 0;
    fokus_st_entry *e = calloc(n, sizeof *e);
    fokus_error err;
    /* one shared buffer big enough for the largest tensor, viewed by every entry */
    size_t maxel = 0;
    const char *key;
    json_t *val;
    json_object_foreach(tensors, key, val)
    {
        size_t el = 1;
        for (size_t d = 0; d < json_array_size(val); d++) el *= (size_t)json_integer_value(json_array_get(val, d));
        if (el > maxel) maxel = el;
    }
    fokus_tensor big;
    int64_t bshape[1] = {(int64_t)maxel};
    CHECK(fokus_tensor_new(&big, FOKUS_F16, 1, bshape, &err) == FOKUS_OK);
    json_object_foreach(tensors, key, val)
    {
        size_t len = strlen(key) + 32;
        e[k].name = malloc(len);
        snprintf(e[k].name, len, "model.diffusion_model.%s", key);
        int64_t shape[8];
        int nd = (int)json_array_size(val);
        for (int d = 0; d < nd; d++) shape[d] = json_integer_value(json_array_get(val, d));
        int64_t el = 1;
        for (int d = 0; d < nd; d++) el *= shape[d];
        fokus_tensor part;
        fokus_tensor_narrow(&part, &big, 0, 0, el, &err);
        fokus_tensor_reshape(&e[k].tensor, &part, nd, shape, &err);
        fokus_tensor_release(&part);
        k++;
    }
    fokus_mmdit *m = NULL;
    CHECK_MSG(fokus_mmdit_new(&m, e, k, NULL, NULL, &err) == FOKUS_OK, "%s", err.msg);
    if (m) {
        const fokus_mmdit_config *c = fokus_mmdit_get_config(m);
        CHECK_STR(fokus_mmdit_prefix(m), "model.diffusion_model.");
        CHECK_EQ_INT(c->hidden_size, json_integer_value(json_object_get(j, "hidden_size")));
        CHECK_EQ_INT(c->depth, json_integer_value(json_object_get(j, "depth")));
        CHECK_EQ_INT(c->num_heads, json_integer_value(json_object_get(j, "num_heads")));
        CHECK_EQ_INT(c->in_channels, json_integer_value(json_object_get(j, "in_channels")));
        CHECK_EQ_INT(c->out_channels, json_integer_value(json_object_get(j, "out_channels")));
        CHECK_EQ_INT(c->context_dim, json_integer_value(json_object_get(j, "context_dim")));
        CHECK_EQ_INT(c->pooled_dim, json_integer_value(json_object_get(j, "adm_in_channels")));
        CHECK_EQ_INT(c->pos_embed_max_size, json_integer_value(json_object_get(j, "pos_embed_max_size")));
        CHECK_EQ_INT(c->mlp_hidden, 4 * c->hidden_size);
        CHECK(c->qk_norm == FOKUS_QK_NONE && c->n_attn2 == 0);
        CHECK(fokus_mmdit_pre_only(m, 23) && !fokus_mmdit_pre_only(m, 22));
        fokus_mmdit_free(m);
    }
    /* one tensor missing or misshapen: named in the error */
    for (size_t i = 0; i < k; i++) {
        if (strcmp(e[i].name, "model.diffusion_model.joint_blocks.7.x_block.mlp.fc2.weight") != 0) continue;
        char *keep = e[i].name;
        e[i].name = strdup("model.diffusion_model.joint_blocks.7.x_block.mlp.fc2.weigh");
        CHECK(fokus_mmdit_new(&m, e, k, NULL, NULL, &err) == FOKUS_EFORMAT);
        CHECK_MSG(strstr(err.msg, "missing tensor 'model.diffusion_model.joint_blocks.7.x_block.mlp.fc2.weight'") != NULL,
                  "%s", err.msg);
        free(e[i].name);
        e[i].name = keep;
        fokus_tensor keept = e[i].tensor;
        fokus_tensor_narrow(&e[i].tensor, &keept, 1, 0, 6000, &err);
        CHECK(fokus_mmdit_new(&m, e, k, NULL, NULL, &err) == FOKUS_EFORMAT);
        CHECK_MSG(strstr(err.msg, "fc2.weight' has shape 1536x6000, expected 1536x6144") != NULL, "%s", err.msg);
        fokus_tensor_release(&e[i].tensor);
        e[i].tensor = keept;
    }
    fokus_st_entries_free(e, k);
    fokus_tensor_release(&big);
    json_decref(j);
}

/* The capture equals the head- and block-average of the reference attention's
 * probabilities (image queries over text keys), computed here from the traced
 * q, k of each block by running the model block by block is not possible from
 * outside, so the check uses a one-block tiny model: P from fokus_attend_ref over the
 * q, k rebuilt from the context tokens and x tokens of the trace. */
static void test_capture(void)
{
    fokus_error err;
    fokus_st_entry *e;
    size_t n;
    fokus_mmdit_tiny_opts o = {.depth = 2, .qk_norm = FOKUS_QK_RMS, .attn2_mask = 1};
    CHECK(fokus_mmdit_tiny_weights(3, &o, &e, &n, &err) == FOKUS_OK);
    fokus_mmdit *m = NULL;
    CHECK_MSG(fokus_mmdit_new(&m, e, n, "", NULL, &err) == FOKUS_OK, "%s", err.msg);
    if (!m) return;
    const int64_t N = 2, Lc = 5, Hs = 8, Ws = 12, p = 2, gh = Hs / p, gw = Ws / p, T = gh * gw, D = 64, Hh = 4, dh = 16;
    fokus_tensor x, t, c, y;
    fokus_tensor_new(&x, FOKUS_F32, 4, (int64_t[]){N, 4, Hs, Ws}, &err);
    fokus_tensor_new(&t, FOKUS_F32, 1, (int64_t[]){N}, &err);
    fokus_tensor_new(&c, FOKUS_F32, 3, (int64_t[]){N, Lc, 32}, &err);
    fokus_tensor_new(&y, FOKUS_F32, 2, (int64_t[]){N, 48}, &err);
    fokus_tensor_randn(&x, 1, &err), fokus_tensor_randn(&c, 2, &err), fokus_tensor_randn(&y, 3, &err);
    fokus_tensor_set(&t, 0, 250), fokus_tensor_set(&t, 1, 900);
    uint8_t flags[2] = {1, 1};
    fokus_tensor map = {0}, out, out0;
    fokus_mmdit_trace tr;
    fokus_mmdit_opts opt = {flags, &map, &tr};
    CHECK_MSG(forward(m, &x, &t, &c, &y, &opt, &out, &err) == FOKUS_OK, "%s", err.msg);
    CHECK(forward(m, &x, &t, &c, &y, NULL, &out0, &err) == FOKUS_OK);
    CHECK(memcmp(out.data, out0.data, (size_t)fokus_tensor_numel(&out) * 4) == 0); /* capture changes nothing */
    CHECK(map.ndim == 4 && map.shape[0] == N && map.shape[1] == Lc && map.shape[2] == gh && map.shape[3] == gw);
    /* reference: rebuild each block's normed q, k in double from the trace and the
     * weights, softmax over all Lc + T keys, mean over heads and both blocks */
    double worst = 0, total_min = 1, total_max = 0;
    if (map.data) {
        double *ref = calloc((size_t)(N * Lc * T), sizeof *ref);
        for (int blk = 0; blk < 2; blk++) {
            const float *xin = blk == 0 ? tr.x_tokens.data : tr.block_x[0].data;
            const float *cin = blk == 0 ? tr.context_tokens.data : tr.block_context[0].data;
            const mmdit_block *bl = &m->blocks[blk];
            for (int64_t b = 0; b < N; b++) {
                /* modulation vectors from SiLU(c) */
                double sc[64], modc[6 * 64], modx[9 * 64];
                for (int64_t j = 0; j < D; j++) {
                    double cv = ((float *)tr.c.data)[b * D + j];
                    sc[j] = cv / (1 + exp(-cv));
                }
                const mmdit_stream *ss[2] = {&bl->ctx, &bl->x};
                double *mods[2] = {modc, modx};
                for (int s = 0; s < 2; s++)
                    for (int64_t r = 0; r < ss[s]->n_mod * D; r++) {
                        double acc = ss[s]->b_ada[r];
                        for (int64_t j = 0; j < D; j++) acc += fokus_tensor_get(&ss[s]->ada, r * D + j) * sc[j];
                        mods[s][r] = acc;
                    }
                /* q, k of every token, [L][D] */
                const int64_t L = Lc + T;
                double *q = calloc((size_t)(L * D), sizeof *q), *k = calloc((size_t)(L * D), sizeof *k);
                for (int64_t i = 0; i < L; i++) {
                    const int s = i < Lc;
                    const float *row = s ? cin + (b * Lc + i) * D : xin + (b * T + i - Lc) * D;
                    const double *mod = s ? modc : modx;
                    const mmdit_attn *at = s ? &bl->ctx.attn : &bl->x.attn;
                    double mean = 0, var = 0, h[64];
                    for (int64_t j = 0; j < D; j++) mean += row[j];
                    mean /= D;
                    for (int64_t j = 0; j < D; j++) var += (row[j] - mean) * (row[j] - mean);
                    var /= D;
                    for (int64_t j = 0; j < D; j++) h[j] = (row[j] - mean) / sqrt(var + 1e-6) * (1 + mod[D + j]) + mod[j];
                    for (int64_t r = 0; r < 2 * D; r++) {
                        double acc = at->b_qkv[r];
                        for (int64_t j = 0; j < D; j++) acc += fokus_tensor_get(&at->qkv, r * D + j) * h[j];
                        (r < D ? q : k)[i * D + r % D] = acc;
                    }
                    for (int64_t hh = 0; hh < Hh; hh++)
                        for (int w = 0; w < 2; w++) {
                            double *v = (w ? k : q) + i * D + hh * dh, ss2 = 0;
                            const float *g = w ? at->ln_k : at->ln_q;
                            for (int64_t j = 0; j < dh; j++) ss2 += v[j] * v[j];
                            double r = 1 / sqrt(ss2 / dh + 1e-6);
                            for (int64_t j = 0; j < dh; j++) v[j] *= r * g[j];
                        }
                }
                for (int64_t hh = 0; hh < Hh; hh++)
                    for (int64_t i = 0; i < T; i++) {
                        double lg[256], mx = -1e300, sum = 0;
                        for (int64_t jj = 0; jj < L; jj++) {
                            double acc = 0;
                            for (int64_t d = 0; d < dh; d++) acc += q[(Lc + i) * D + hh * dh + d] * k[jj * D + hh * dh + d];
                            lg[jj] = acc / sqrt((double)dh);
                            if (lg[jj] > mx) mx = lg[jj];
                        }
                        for (int64_t jj = 0; jj < L; jj++) sum += exp(lg[jj] - mx);
                        for (int64_t jj = 0; jj < Lc; jj++) ref[(b * Lc + jj) * T + i] += exp(lg[jj] - mx) / sum / (Hh * 2);
                    }
                free(q), free(k);
            }
        }
        for (int64_t i = 0; i < N * Lc * T; i++) worst = fmax(worst, fabs(((float *)map.data)[i] - ref[i]));
        /* per patch the text tokens get a share in (0, 1] of the attention */
        for (int64_t b = 0; b < N; b++)
            for (int64_t i = 0; i < T; i++) {
                double s = 0;
                for (int64_t jj = 0; jj < Lc; jj++) s += ((float *)map.data)[(b * Lc + jj) * T + i];
                total_min = fmin(total_min, s), total_max = fmax(total_max, s);
            }
        free(ref);
    }
    CHECK_MSG(worst < 2e-5, "capture vs double reference: %.3g", worst);
    CHECK_MSG(total_min > 0 && total_max <= 1 + 1e-6, "text share per patch in [%.3g, %.3g]", total_min, total_max);
    printf("#   capture vs double reference     max abs err %.2e; text share per patch %.3f..%.3f\n", worst, total_min,
           total_max);
    fokus_mmdit_trace_free(&tr);
    /* one block only: a different map; flags without an output: an error */
    fokus_tensor map1 = {0}, out1;
    uint8_t one[2] = {0, 1};
    CHECK(forward(m, &x, &t, &c, &y, &(fokus_mmdit_opts){one, &map1, NULL}, &out1, &err) == FOKUS_OK);
    CHECK(map1.data && memcmp(map1.data, map.data, (size_t)fokus_tensor_numel(&map) * 4) != 0);
    fokus_tensor_release(&out1);
    CHECK(forward(m, &x, &t, &c, &y, &(fokus_mmdit_opts){one, NULL, NULL}, &out1, &err) == FOKUS_EINVAL);
    fokus_tensor_release(&out1);
    fokus_tensor_release(&map1), fokus_tensor_release(&map), fokus_tensor_release(&out), fokus_tensor_release(&out0);
    fokus_tensor_release(&x), fokus_tensor_release(&t), fokus_tensor_release(&c), fokus_tensor_release(&y);
    fokus_mmdit_free(m);
    fokus_st_entries_free(e, n);
}

/* The tiny model: deterministic, batch entries independent of each other, options. */
static void test_tiny(void)
{
    fokus_error err;
    fokus_st_entry *e1, *e2;
    size_t n1, n2;
    CHECK(fokus_mmdit_tiny_weights(5, NULL, &e1, &n1, &err) == FOKUS_OK);
    CHECK(fokus_mmdit_tiny_weights(5, NULL, &e2, &n2, &err) == FOKUS_OK);
    CHECK_EQ_INT(n1, n2);
    bool same = true;
    for (size_t i = 0; i < n1 && same; i++)
        same = strcmp(e1[i].name, e2[i].name) == 0 &&
               memcmp(e1[i].tensor.data, e2[i].tensor.data, (size_t)fokus_tensor_numel(&e1[i].tensor) * 4) == 0;
    CHECK(same);
    fokus_mmdit_config cfg = oracle_config();
    fokus_mmdit *m = NULL;
    CHECK_MSG(fokus_mmdit_new(&m, e1, n1, NULL, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (m) {
        const fokus_mmdit_config *c = fokus_mmdit_get_config(m);
        CHECK(c->hidden_size == 64 && c->depth == 2 && c->pos_embed_max_size == 32 && c->qk_norm == FOKUS_QK_NONE);
        CHECK(fokus_mmdit_pre_only(m, 1));
        /* batch rows alone give the batch's rows */
        fokus_tensor x, t, cc, y, out, ob;
        fokus_tensor_new(&x, FOKUS_F32, 4, (int64_t[]){2, 4, 16, 16}, &err);
        fokus_tensor_new(&t, FOKUS_F32, 1, (int64_t[]){2}, &err);
        fokus_tensor_new(&cc, FOKUS_F32, 3, (int64_t[]){2, 9, 32}, &err);
        fokus_tensor_new(&y, FOKUS_F32, 2, (int64_t[]){2, 48}, &err);
        fokus_tensor_randn(&x, 4, &err), fokus_tensor_randn(&cc, 5, &err), fokus_tensor_randn(&y, 6, &err);
        fokus_tensor_set(&t, 0, 10), fokus_tensor_set(&t, 1, 999);
        CHECK(forward(m, &x, &t, &cc, &y, NULL, &out, &err) == FOKUS_OK);
        for (int b = 0; b < 2; b++) {
            fokus_tensor xb, tb, cb, yb, rb;
            fokus_tensor_narrow(&xb, &x, 0, b, 1, &err), fokus_tensor_narrow(&tb, &t, 0, b, 1, &err);
            fokus_tensor_narrow(&cb, &cc, 0, b, 1, &err), fokus_tensor_narrow(&yb, &y, 0, b, 1, &err);
            fokus_tensor_narrow(&rb, &out, 0, b, 1, &err);
            CHECK(forward(m, &xb, &tb, &cb, &yb, NULL, &ob, &err) == FOKUS_OK);
            check_close("tiny: one batch entry alone", &ob, &rb, 1e-5);
            fokus_tensor_release(&xb), fokus_tensor_release(&tb), fokus_tensor_release(&cb);
            fokus_tensor_release(&yb), fokus_tensor_release(&rb), fokus_tensor_release(&ob);
        }
        /* f16 inputs of the same values: the same output */
        fokus_tensor xh, ch, oh;
        fokus_tensor_to(&xh, &x, FOKUS_F16, &err), fokus_tensor_to(&ch, &cc, FOKUS_F16, &err);
        fokus_tensor xr, cr;
        fokus_tensor_to(&xr, &xh, FOKUS_F32, &err), fokus_tensor_to(&cr, &ch, FOKUS_F32, &err);
        CHECK(forward(m, &xh, &t, &ch, &y, NULL, &oh, &err) == FOKUS_OK);
        CHECK(forward(m, &xr, &t, &cr, &y, NULL, &ob, &err) == FOKUS_OK);
        CHECK(memcmp(oh.data, ob.data, (size_t)fokus_tensor_numel(&oh) * 4) == 0);
        fokus_tensor_release(&xh), fokus_tensor_release(&ch), fokus_tensor_release(&oh), fokus_tensor_release(&ob);
        fokus_tensor_release(&xr), fokus_tensor_release(&cr);
        fokus_tensor_release(&x), fokus_tensor_release(&t), fokus_tensor_release(&cc), fokus_tensor_release(&y);
        fokus_tensor_release(&out);
        fokus_mmdit_free(m);
    }
    fokus_st_entries_free(e1, n1);
    fokus_st_entries_free(e2, n2);
    /* LN qk-norm and bad options */
    fokus_mmdit_tiny_opts o = {.qk_norm = FOKUS_QK_LN, .num_heads = 2};
    CHECK(fokus_mmdit_tiny_weights(1, &o, &e1, &n1, &err) == FOKUS_OK);
    CHECK(fokus_mmdit_new(&m, e1, n1, NULL, NULL, &err) == FOKUS_OK);
    CHECK(fokus_mmdit_get_config(m)->qk_norm == FOKUS_QK_LN && fokus_mmdit_get_config(m)->num_heads == 2);
    fokus_mmdit_free(m);
    fokus_st_entries_free(e1, n1);
    o = (fokus_mmdit_tiny_opts){.depth = 2, .attn2_mask = 4};
    CHECK(fokus_mmdit_tiny_weights(1, &o, &e1, &n1, &err) == FOKUS_EINVAL);
}

/* Every input and checkpoint error names what was expected and what came. */
static void test_errors(void)
{
    fokus_error err;
    fokus_st_entry *e;
    size_t n;
    CHECK(fokus_mmdit_tiny_weights(2, NULL, &e, &n, &err) == FOKUS_OK);
    fokus_mmdit_config cfg = oracle_config();
    fokus_mmdit *m = NULL;
    CHECK(fokus_mmdit_new(&m, e, n, NULL, &cfg, &err) == FOKUS_OK);
    if (!m) return;
    fokus_tensor x, t, c, y, out;
    fokus_tensor_new(&x, FOKUS_F32, 4, (int64_t[]){1, 4, 8, 8}, &err);
    fokus_tensor_new(&t, FOKUS_F32, 1, (int64_t[]){1}, &err);
    fokus_tensor_new(&c, FOKUS_F32, 3, (int64_t[]){1, 3, 32}, &err);
    fokus_tensor_new(&y, FOKUS_F32, 2, (int64_t[]){1, 48}, &err);
    fokus_tensor_new(&out, FOKUS_F32, 4, (int64_t[]){1, 4, 8, 8}, &err);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &c, &y, NULL, &out, &err) == FOKUS_OK);
    struct {
        int64_t shape[4];
        int nd;
        const char *want;
    } xs[] = {
        {{1, 4, 9, 8}, 4, "multiples of the patch size 2"},
        {{1, 3, 8, 8}, 4, "x has 3 channels, the model takes 4"},
        {{4, 8, 8, 0}, 3, "x must be a float tensor [N, C, H, W]"},
        {{1, 4, 66, 8}, 4, "a 33x4 patch grid; the position table covers 32x32 patches (latents up to 64x64)"},
    };
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        fokus_tensor xb, ob;
        fokus_tensor_new(&xb, FOKUS_F32, xs[i].nd, xs[i].shape, &err);
        fokus_tensor_new(&ob, FOKUS_F32, 4, (int64_t[]){1, 4, xs[i].shape[2], xs[i].shape[3]}, &err);
        CHECK(fokus_mmdit_forward(ctx, m, &xb, &t, &c, &y, NULL, &ob, &err) == FOKUS_EINVAL);
        CHECK_MSG(strstr(err.msg, xs[i].want) != NULL, "%s", err.msg);
        fokus_tensor_release(&xb), fokus_tensor_release(&ob);
    }
    fokus_tensor bad;
    fokus_tensor_new(&bad, FOKUS_F32, 3, (int64_t[]){1, 3, 31}, &err);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &bad, &y, NULL, &out, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "context must be a float tensor [1, T, 32]") && strstr(err.msg, "1x3x31"), "%s", err.msg);
    fokus_tensor_release(&bad);
    fokus_tensor_new(&bad, FOKUS_F32, 1, (int64_t[]){2}, &err);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &bad, &c, &y, NULL, &out, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "t must be a numeric tensor [1]") && strstr(err.msg, "got f32 2"), "%s", err.msg);
    fokus_tensor_release(&bad);
    fokus_tensor_new(&bad, FOKUS_F32, 2, (int64_t[]){2, 48}, &err);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &c, &bad, NULL, &out, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "y must be a float tensor [1, 48]") && strstr(err.msg, "2x48"), "%s", err.msg);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &c, NULL, NULL, &out, &err) == FOKUS_EINVAL);
    fokus_tensor_release(&bad);
    /* NaN / inf in each input, with its position */
    fokus_tensor_set(&x, 70, NAN);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &c, &y, NULL, &out, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "x has NaN at [1, 2, 1, 7]") != NULL, "%s", err.msg);
    fokus_tensor_set(&x, 70, 0);
    fokus_tensor_set(&c, 40, INFINITY);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &c, &y, NULL, &out, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "context has inf at [1, 2, 9]") != NULL, "%s", err.msg);
    fokus_tensor_set(&c, 40, 0);
    fokus_tensor_set(&y, 3, NAN);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &c, &y, NULL, &out, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "y has NaN at [1, 4]") != NULL, "%s", err.msg);
    fokus_tensor_set(&y, 3, 0);
    fokus_tensor_set(&t, 0, NAN);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &c, &y, NULL, &out, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "t[1] is nan") != NULL, "%s", err.msg);
    fokus_tensor_set(&t, 0, 500);
    /* wrong output */
    fokus_tensor ob;
    fokus_tensor_new(&ob, FOKUS_F32, 4, (int64_t[]){1, 8, 8, 8}, &err);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &c, &y, NULL, &ob, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "out must be a contiguous f32 tensor 1x4x8x8") != NULL, "%s", err.msg);
    fokus_tensor_release(&ob);
    /* interrupt */
    fokus_ctx_interrupt(ctx, true);
    CHECK(fokus_mmdit_forward(ctx, m, &x, &t, &c, &y, NULL, &out, &err) == FOKUS_EINTERRUPT);
    fokus_ctx_interrupt(ctx, false);
    fokus_tensor_release(&x), fokus_tensor_release(&t), fokus_tensor_release(&c), fokus_tensor_release(&y);
    fokus_tensor_release(&out);
    fokus_mmdit_free(m);

    /* checkpoint errors: a DiT given to the MMDiT loader says what it is */
    fokus_st_entry *d;
    size_t nd;
    CHECK(fokus_dit_tiny_weights(1, NULL, &d, &nd, &err) == FOKUS_OK);
    CHECK(fokus_mmdit_new(&m, d, nd, NULL, NULL, &err) == FOKUS_EFORMAT);
    CHECK_MSG(strstr(err.msg, "no SD3 MMDiT") && strstr(err.msg, "they look like a DiT"), "%s", err.msg);
    fokus_st_entries_free(d, nd);
    /* a pre_only context block that is not the last; a wrong adaLN width */
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, "joint_blocks.0.context_block.attn.proj.weight") == 0) {
            char *keep = e[i].name;
            e[i].name = strdup("joint_blocks.0.context_block.attn.proj.weigh");
            CHECK(fokus_mmdit_new(&m, e, n, NULL, &cfg, &err) == FOKUS_EFORMAT);
            CHECK_MSG(strstr(err.msg, "only the last block's context_block can be pre_only") != NULL, "%s", err.msg);
            free(e[i].name);
            e[i].name = keep;
        }
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, "joint_blocks.1.x_block.adaLN_modulation.1.weight") == 0) {
            fokus_tensor keept = e[i].tensor;
            fokus_tensor_narrow(&e[i].tensor, &keept, 0, 0, 64 * 5, &err);
            CHECK(fokus_mmdit_new(&m, e, n, NULL, &cfg, &err) == FOKUS_EFORMAT);
            CHECK_MSG(strstr(err.msg, "has shape 320x64, expected 384x64 (6 chunks: a full block)") != NULL, "%s", err.msg);
            fokus_tensor_release(&e[i].tensor);
            e[i].tensor = keept;
        }
    /* no heads to infer */
    fokus_st_entry *w;
    size_t nw;
    fokus_mmdit_tiny_opts o = {.hidden_size = 40, .num_heads = 2};
    CHECK(fokus_mmdit_tiny_weights(1, &o, &w, &nw, &err) == FOKUS_OK);
    CHECK(fokus_mmdit_new(&m, w, nw, NULL, NULL, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "cannot infer num_heads for hidden size 40") != NULL, "%s", err.msg);
    fokus_st_entries_free(w, nw);
    fokus_st_entries_free(e, n);
}

int main(void)
{
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) return 1;
    RUN(test_oracles);
    RUN(test_config_inference);
    RUN(test_prefix);
    RUN(test_sd3_medium_names);
    RUN(test_capture);
    RUN(test_tiny);
    RUN(test_errors);
    fokus_ctx_free(ctx);
    return check_summary("mmdit");
}
