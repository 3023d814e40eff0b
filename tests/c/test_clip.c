/* CLIP text model against the oracles (every output, tolerance from the JSON), naming
 * variants (OpenCLIP layout built from the same weights, prefixes), and bad checkpoints. */
#include <jansson.h>

#include "check.h"

#include "fokus.h"

static fokus_ctx *ctx;

/* max|got - ref| <= tol * max(max|ref|, 1e-6) */
static void check_close(const char *what, const fokus_tensor *got, const fokus_tensor *ref, double tol)
{
    if (!fokus_tensor_same_shape(got, ref)) {
        char a[64], b[64];
        CHECK_MSG(0, "%s: shape %s vs %s", what, fokus_shape_str(got, a, sizeof a), fokus_shape_str(ref, b, sizeof b));
        return;
    }
    double md = 0, mr = 0;
    int64_t n = fokus_tensor_numel(ref);
    for (int64_t i = 0; i < n; i++) {
        double g = fokus_tensor_get(got, i), r = fokus_tensor_get(ref, i);
        if (fabs(r) > mr) mr = fabs(r);
        if (!(fabs(g - r) <= md)) md = fabs(g - r);
    }
    double lim = tol * (mr > 1e-6 ? mr : 1e-6);
    CHECK_MSG(md <= lim, "%s: max diff %.3g > %.3g (rel %.3g)", what, md, lim, md / (mr > 1e-6 ? mr : 1e-6));
    printf("#   %-28s rel err %.2e (tol %.0e)\n", what, md / (mr > 1e-6 ? mr : 1e-6), tol);
}

static double json_tol(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    double tol = json_number_value(json_object_get(json_object_get(j, "tolerance"), "max_abs_err_over_max_abs_ref"));
    json_decref(j);
    return tol > 0 ? tol : 1e-4;
}

static void oracle_case(const char *name, fokus_act act, int64_t pad)
{
    const char *shared = check_shared_dir();
    if (!shared) {
        check_skip("../shared not found (set FOKUS_SHARED): CLIP oracles not checked");
        return;
    }
    char path[4200], jpath[4200];
    snprintf(path, sizeof path, "%s/oracles/models/%s.safetensors", shared, name);
    snprintf(jpath, sizeof jpath, "%s/oracles/models/%s.json", shared, name);
    double tol = json_tol(jpath);
    fokus_st_file f;
    fokus_error err;
    CHECK_MSG(fokus_st_load(path, &f, &err) == FOKUS_OK, "%s", err.msg);
    fokus_clip_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bos_id = 998;
    cfg.eos_id = 999;
    cfg.pad_id = pad;
    cfg.num_heads = 4;
    cfg.act = act;
    fokus_clip *m = NULL;
    CHECK_MSG(fokus_clip_new(&m, f.entries, f.n_entries, NULL, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (!m) {
        fokus_st_free(&f);
        return;
    }
    CHECK_STR(fokus_clip_prefix(m), "weights.");
    CHECK_EQ_INT(fokus_clip_get_config(m)->num_layers, 3);
    CHECK_EQ_INT(fokus_clip_get_config(m)->intermediate_size, 256);
    fokus_clip_output o;
    const fokus_tensor *ids = fokus_st_find(&f, "inputs.input_ids");
    CHECK_MSG(fokus_clip_forward(ctx, m, ids, &(fokus_clip_run_opts){true, 2, NULL}, &o, &err) == FOKUS_OK, "%s", err.msg);
    check_close("last_hidden_state", &o.last_hidden_state, fokus_st_find(&f, "outputs.last_hidden_state"), tol);
    for (int i = 0; i < o.n_hidden; i++) {
        char n[64];
        snprintf(n, sizeof n, "outputs.hidden_states.%d", i);
        check_close(n + 8, &o.hidden_states[i], fokus_st_find(&f, n), tol);
    }
    check_close("pooler_output", &o.pooled, fokus_st_find(&f, "outputs.pooler_output"), tol);
    check_close("text_embeds", &o.text_embeds, fokus_st_find(&f, "outputs.text_embeds"), tol);
    /* the last layer's attention map: rows sum to 1 and nothing above the diagonal */
    CHECK_EQ_INT(o.attention.ndim, 4);
    CHECK_EQ_INT(o.attention.shape[1], 4);
    double rowsum = 0, upper = 0;
    for (int j = 0; j < 77; j++) rowsum += fokus_tensor_get(&o.attention, 5 * 77 + j);
    for (int j = 6; j < 77; j++) upper += fabs(fokus_tensor_get(&o.attention, 5 * 77 + j));
    CHECK_NEAR(rowsum, 1.0, 1e-5);
    CHECK(upper == 0);
    /* opts.out: last_hidden_state into a strided [B, N, D] view (a permuted buffer) */
    {
        const int64_t *sh = o.last_hidden_state.shape;
        int64_t bs[3] = {sh[2], sh[1], sh[0]};
        fokus_tensor buf = {0}, view = {0};
        fokus_clip_output o2;
        CHECK(fokus_tensor_new(&buf, FOKUS_F32, 3, bs, &err) == FOKUS_OK);
        CHECK(fokus_tensor_permute(&view, &buf, (const int[]){2, 1, 0}, &err) == FOKUS_OK);
        CHECK(!fokus_tensor_is_contiguous(&view));
        CHECK_MSG(fokus_clip_forward(ctx, m, ids, &(fokus_clip_run_opts){false, -1, &view}, &o2, &err) == FOKUS_OK, "%s",
                  err.msg);
        CHECK(o2.last_hidden_state.data == NULL); /* the caller's out holds it */
        check_close("last_hidden_state (out)", &view, fokus_st_find(&f, "outputs.last_hidden_state"), tol);
        check_close("pooler_output (out)", &o2.pooled, fokus_st_find(&f, "outputs.pooler_output"), tol);
        fokus_clip_output_free(&o2);
        /* a wrong shape is an error naming both */
        fokus_tensor small = {0};
        int64_t ss[3] = {sh[0], sh[1], sh[2] - 1};
        CHECK(fokus_tensor_new(&small, FOKUS_F32, 3, ss, &err) == FOKUS_OK);
        CHECK(fokus_clip_forward(ctx, m, ids, &(fokus_clip_run_opts){false, -1, &small}, &o2, &err) == FOKUS_EINVAL);
        CHECK(strstr(err.msg, "forward: out must be f32") != NULL);
        fokus_tensor_release(&small), fokus_tensor_release(&view), fokus_tensor_release(&buf);
    }
    const fokus_tensor *eos = fokus_st_find(&f, "outputs.eos_positions");
    for (int b = 0; b < 4; b++) CHECK_EQ_INT(fokus_tensor_get_i64(&o.eos_positions, b), fokus_tensor_get_i64(eos, b));
    /* clip skip: penultimate with and without the final LayerNorm */
    fokus_tensor cond, pooled, proj;
    fokus_tensor row;
    fokus_tensor_narrow(&row, ids, 0, 0, 1, &err);
    CHECK(fokus_clip_encode(ctx, m, &row, 2, false, &cond, &pooled, &proj, &err) == FOKUS_OK);
    fokus_tensor ref, ref2;
    fokus_tensor_narrow(&ref, fokus_st_find(&f, "outputs.penultimate_hidden_state"), 0, 0, 1, &err);
    check_close("penultimate_hidden_state", &cond, &ref, tol);
    fokus_tensor_release(&cond), fokus_tensor_release(&pooled), fokus_tensor_release(&proj), fokus_tensor_release(&ref);
    CHECK(fokus_clip_encode(ctx, m, &row, 2, true, &cond, &pooled, &proj, &err) == FOKUS_OK);
    fokus_tensor_narrow(&ref, fokus_st_find(&f, "outputs.penultimate_final_ln"), 0, 0, 1, &err);
    check_close("penultimate_final_ln", &cond, &ref, tol);
    fokus_tensor_narrow(&ref2, fokus_st_find(&f, "outputs.pooler_output"), 0, 0, 1, &err);
    check_close("encode pooled", &pooled, &ref2, tol);
    /* encode into the caller's tensor: contiguous and strided */
    for (int strided = 0; strided < 2; strided++) {
        fokus_tensor buf = {0}, dst = {0}, p2 = {0}, j2 = {0};
        int64_t cs[3] = {1, cond.shape[1], cond.shape[2]}, ts[3] = {1, cond.shape[2], cond.shape[1]};
        CHECK(fokus_tensor_new(&buf, FOKUS_F32, 3, strided ? ts : cs, &err) == FOKUS_OK);
        if (strided) CHECK(fokus_tensor_permute(&dst, &buf, (const int[]){0, 2, 1}, &err) == FOKUS_OK);
        else dst = buf, fokus_tensor_retain(&buf);
        CHECK_MSG(fokus_clip_encode_into(ctx, m, &row, 2, true, &dst, &p2, &j2, &err) == FOKUS_OK, "%s", err.msg);
        check_close(strided ? "encode_into (strided)" : "encode_into", &dst, &ref, tol);
        check_close("encode_into pooled", &p2, &ref2, tol);
        fokus_tensor_release(&p2), fokus_tensor_release(&j2);
        CHECK_MSG(fokus_clip_encode_into(ctx, m, &row, 1, true, &dst, &p2, &j2, &err) == FOKUS_OK, "%s", err.msg);
        fokus_tensor lh1;
        fokus_tensor_narrow(&lh1, fokus_st_find(&f, "outputs.last_hidden_state"), 0, 0, 1, &err);
        check_close("encode_into skip 1", &dst, &lh1, tol);
        fokus_tensor_release(&lh1);
        fokus_tensor_release(&p2), fokus_tensor_release(&j2), fokus_tensor_release(&dst), fokus_tensor_release(&buf);
    }
    fokus_tensor_release(&cond), fokus_tensor_release(&pooled), fokus_tensor_release(&proj);
    fokus_tensor_release(&ref), fokus_tensor_release(&ref2), fokus_tensor_release(&row);
    fokus_clip_output_free(&o);
    fokus_clip_free(m);
    fokus_st_free(&f);
}

static void test_oracle_quick_gelu(void)
{
    oracle_case("clip_text_tiny", FOKUS_ACT_QUICK_GELU, 999);
}

static void test_oracle_gelu_f16(void)
{
    oracle_case("clip_text_tiny_gelu_f16", FOKUS_ACT_GELU, 0);
}

/* Re-lays the HF tiny weights out in OpenCLIP naming (fused in_proj, transposed
 * projection) under the SDXL CLIP-G prefix, next to an HF copy under the CLIP-L prefix:
 * detection must ask for a prefix, and each must give the same outputs. */
static void test_openclip_and_prefixes(void)
{
    const char *shared = check_shared_dir();
    if (!shared) {
        check_skip("../shared not found: OpenCLIP naming test skipped");
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/oracles/models/clip_text_tiny.safetensors", shared);
    fokus_st_file f;
    fokus_error err;
    if (fokus_st_load(path, &f, &err) != FOKUS_OK) return;
    fokus_st_entry e[200];
    size_t n = 0;
    char *names[200];
    const char *G = "conditioner.embedders.1.model.", *Lp = "conditioner.embedders.0.transformer.";
#define ADD(nm, t) do { names[n] = strdup(nm); e[n].name = names[n]; e[n].tensor = (t); n++; } while (0)
    char buf[256];
    for (size_t i = 0; i < f.n_entries; i++) {
        const char *nm = f.entries[i].name;
        if (strncmp(nm, "weights.", 8) != 0) continue;
        snprintf(buf, sizeof buf, "%s%s", Lp, nm + 8);
        fokus_tensor t = f.entries[i].tensor;
        fokus_tensor_retain(&t);
        ADD(buf, t);
    }
    struct { const char *hf, *oc; } map[] = {
        {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"},
        {"text_model.embeddings.position_embedding.weight", "positional_embedding"},
        {"text_model.final_layer_norm.weight", "ln_final.weight"},
        {"text_model.final_layer_norm.bias", "ln_final.bias"},
    };
    for (int i = 0; i < 4; i++) {
        snprintf(buf, sizeof buf, "weights.%s", map[i].hf);
        fokus_tensor t = *fokus_st_find(&f, buf);
        fokus_tensor_retain(&t);
        snprintf(buf, sizeof buf, "%s%s", G, map[i].oc);
        ADD(buf, t);
    }
    fokus_tensor pt, ptc;
    int perm[2] = {1, 0};
    fokus_tensor_permute(&pt, fokus_st_find(&f, "weights.text_projection.weight"), perm, &err);
    fokus_tensor_contiguous(&ptc, &pt, &err);
    fokus_tensor_release(&pt);
    snprintf(buf, sizeof buf, "%stext_projection", G);
    ADD(buf, ptc);
    for (int l = 0; l < 3; l++) {
        const char *sub[][2] = {{"layer_norm1.weight", "ln_1.weight"}, {"layer_norm1.bias", "ln_1.bias"},
                                {"layer_norm2.weight", "ln_2.weight"}, {"layer_norm2.bias", "ln_2.bias"},
                                {"self_attn.out_proj.weight", "attn.out_proj.weight"},
                                {"self_attn.out_proj.bias", "attn.out_proj.bias"},
                                {"mlp.fc1.weight", "mlp.c_fc.weight"}, {"mlp.fc1.bias", "mlp.c_fc.bias"},
                                {"mlp.fc2.weight", "mlp.c_proj.weight"}, {"mlp.fc2.bias", "mlp.c_proj.bias"}};
        for (int j = 0; j < 10; j++) {
            snprintf(buf, sizeof buf, "weights.text_model.encoder.layers.%d.%s", l, sub[j][0]);
            fokus_tensor t = *fokus_st_find(&f, buf);
            fokus_tensor_retain(&t);
            snprintf(buf, sizeof buf, "%stransformer.resblocks.%d.%s", G, l, sub[j][1]);
            ADD(buf, t);
        }
        int64_t ws[2] = {192, 64}, bs[1] = {192};
        fokus_tensor w, b;
        fokus_tensor_new(&w, FOKUS_F32, 2, ws, &err);
        fokus_tensor_new(&b, FOKUS_F32, 1, bs, &err);
        const char *qkv[3] = {"q_proj", "k_proj", "v_proj"};
        for (int j = 0; j < 3; j++) {
            snprintf(buf, sizeof buf, "weights.text_model.encoder.layers.%d.self_attn.%s.weight", l, qkv[j]);
            memcpy((float *)w.data + j * 64 * 64, fokus_st_find(&f, buf)->data, 64 * 64 * 4);
            snprintf(buf, sizeof buf, "weights.text_model.encoder.layers.%d.self_attn.%s.bias", l, qkv[j]);
            memcpy((float *)b.data + j * 64, fokus_st_find(&f, buf)->data, 64 * 4);
        }
        snprintf(buf, sizeof buf, "%stransformer.resblocks.%d.attn.in_proj_weight", G, l);
        ADD(buf, w);
        snprintf(buf, sizeof buf, "%stransformer.resblocks.%d.attn.in_proj_bias", G, l);
        ADD(buf, b);
    }
    fokus_clip_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bos_id = cfg.eos_id = cfg.pad_id = -1;
    cfg.num_heads = 4;
    fokus_clip *m = NULL;
    CHECK(fokus_clip_new(&m, e, n, NULL, &cfg, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "2 text encoders") && strstr(err.msg, G) && strstr(err.msg, Lp), "%s", err.msg);
    fokus_clip *mg = NULL, *ml = NULL;
    CHECK_MSG(fokus_clip_new(&mg, e, n, G, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    CHECK_MSG(fokus_clip_new(&ml, e, n, Lp, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (mg && ml) {
        CHECK(fokus_clip_get_naming(mg) == FOKUS_CLIP_OPENCLIP);
        CHECK(fokus_clip_get_naming(ml) == FOKUS_CLIP_HF);
        CHECK_EQ_INT(fokus_clip_get_config(mg)->eos_id, 999);
        fokus_clip_output a, b;
        const fokus_tensor *ids = fokus_st_find(&f, "inputs.input_ids");
        CHECK(fokus_clip_forward(ctx, mg, ids, NULL, &a, &err) == FOKUS_OK);
        CHECK(fokus_clip_forward(ctx, ml, ids, NULL, &b, &err) == FOKUS_OK);
        check_close("openclip last_hidden_state", &a.last_hidden_state, fokus_st_find(&f, "outputs.last_hidden_state"), 1e-4);
        check_close("openclip text_embeds", &a.text_embeds, fokus_st_find(&f, "outputs.text_embeds"), 1e-4);
        check_close("prefixed HF pooled", &b.pooled, fokus_st_find(&f, "outputs.pooler_output"), 1e-4);
        fokus_clip_output_free(&a);
        fokus_clip_output_free(&b);
        /* ids outside the vocabulary are an error, not a read out of bounds */
        int64_t s2[2] = {1, 3};
        fokus_tensor bad;
        fokus_tensor_new(&bad, FOKUS_I64, 2, s2, &err);
        ((int64_t *)bad.data)[1] = 1000;
        CHECK(fokus_clip_forward(ctx, ml, &bad, NULL, &a, &err) == FOKUS_EINVAL);
        CHECK_MSG(strstr(err.msg, "token id 1000 at [1, 2]") != NULL, "%s", err.msg);
        ((int64_t *)bad.data)[1] = -1;
        CHECK(fokus_clip_forward(ctx, ml, &bad, NULL, &a, &err) == FOKUS_EINVAL);
        fokus_tensor_release(&bad);
        int64_t s3[2] = {1, 78};
        fokus_tensor_new(&bad, FOKUS_I32, 2, s3, &err);
        CHECK(fokus_clip_forward(ctx, ml, &bad, NULL, &a, &err) == FOKUS_EINVAL);
        fokus_tensor_release(&bad);
    }
    fokus_clip_free(mg);
    fokus_clip_free(ml);
    /* a wrong shape names the tensor and both shapes */
    fokus_tensor small;
    int64_t ss[2] = {256, 32};
    fokus_tensor_new(&small, FOKUS_F32, 2, ss, &err);
    for (size_t i = 0; i < n; i++) {
        if (strstr(e[i].name, "embedders.0.transformer.text_model.encoder.layers.1.mlp.fc1.weight")) {
            fokus_tensor_release(&e[i].tensor);
            e[i].tensor = small;
        }
    }
    CHECK(fokus_clip_new(&m, e, n, Lp, &cfg, &err) == FOKUS_EFORMAT);
    CHECK_MSG(strstr(err.msg, "layers.1.mlp.fc1.weight' has shape 256x32, expected 256x64") != NULL, "%s", err.msg);
    /* a missing tensor is named */
    for (size_t i = 0; i < n; i++)
        if (strstr(e[i].name, "resblocks.2.attn.out_proj.bias")) e[i].name = "renamed";
    CHECK(fokus_clip_new(&m, e, n, G, &cfg, &err) == FOKUS_EFORMAT);
    CHECK_MSG(strstr(err.msg, "missing tensor 'conditioner.embedders.1.model.transformer.resblocks.2.attn.out_proj.bias'") != NULL,
              "%s", err.msg);
    /* another model family */
    CHECK(fokus_clip_new(&m, e, 3, "nothing.", &cfg, &err) == FOKUS_EFORMAT);
    CHECK(fokus_clip_new(&m, f.entries, 0, NULL, &cfg, &err) == FOKUS_EFORMAT);
    CHECK_MSG(strstr(err.msg, "no CLIP text encoder") != NULL, "%s", err.msg);
    /* a config that contradicts the shapes */
    cfg.hidden_size = 128;
    CHECK(fokus_clip_new(&m, e, n, Lp, &cfg, &err) == FOKUS_EINVAL);
    for (size_t i = 0; i < n; i++) {
        fokus_tensor_release(&e[i].tensor);
        free(names[i]);
    }
#undef ADD
    fokus_st_free(&f);
}

/* The full-size configurations (SD 1.5 CLIP-L, SDXL CLIP-G): every tensor name and shape
 * of the real checkpoints, under the prefixes real files use, with an extra buffer that
 * old SD 1.x files carry (position_ids). The weights are stride-0 views of one zero
 * row, so nothing big is allocated; only the loader and the inferred config are checked. */
static void full_size_case(const char *file, const char *prefix, int64_t D, int64_t L, int64_t I, int64_t heads,
                           fokus_act act, int64_t P)
{
    const char *shared = check_shared_dir();
    if (!shared) {
        check_skip("../shared not found: full-size configs not checked");
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/oracles/models/%s", shared, file);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    CHECK_MSG(j != NULL, "%s: %s", path, je.text);
    if (!j) return;
    json_t *ts = json_object_get(j, "tensors");
    size_t n = json_object_size(ts), k = 0;
    fokus_st_entry *e = calloc(n + 1, sizeof *e);
    static float zero_row[8192];
    static int64_t ids_row[77];
    const char *name;
    json_t *v;
    json_object_foreach(ts, name, v) {
        json_t *shape = json_object_get(v, "shape");
        if (!shape) shape = v; /* either {"shape": [...]} or the bare list */
        int64_t sh[2] = {1, 1}, st[2] = {0, 1};
        int nd = (int)json_array_size(shape);
        for (int d = 0; d < nd && d < 2; d++) sh[d] = json_integer_value(json_array_get(shape, (size_t)d));
        char *full = malloc(strlen(prefix) + strlen(name) + 1);
        sprintf(full, "%s%s", prefix, name);
        e[k].name = full;
        fokus_tensor_borrow(&e[k].tensor, zero_row, FOKUS_F32, nd, sh, nd == 2 ? st : NULL);
        k++;
    }
    char *pid = malloc(strlen(prefix) + 64);
    sprintf(pid, "%stext_model.embeddings.position_ids", prefix);
    int64_t psh[2] = {1, 77};
    e[k].name = pid;
    fokus_tensor_borrow(&e[k].tensor, ids_row, FOKUS_I64, 2, psh, NULL);
    k++;
    fokus_clip *m = NULL;
    fokus_error err;
    CHECK_MSG(fokus_clip_new(&m, e, k, NULL, NULL, &err) == FOKUS_OK, "%s: %s", file, err.msg);
    if (m) {
        const fokus_clip_config *c = fokus_clip_get_config(m);
        CHECK_STR(fokus_clip_prefix(m), prefix);
        CHECK_EQ_INT(c->hidden_size, D);
        CHECK_EQ_INT(c->num_layers, L);
        CHECK_EQ_INT(c->intermediate_size, I);
        CHECK_EQ_INT(c->num_heads, heads);
        CHECK_EQ_INT(c->act, act);
        CHECK_EQ_INT(c->projection_dim, P);
        CHECK_EQ_INT(c->eos_id, 49407);
        CHECK_EQ_INT(c->bos_id, 49406);
        CHECK_EQ_INT(c->vocab_size, 49408);
        fokus_clip_free(m);
    }
    for (size_t i = 0; i < k; i++) free(e[i].name);
    free(e);
    json_decref(j);
}

static void test_full_size_configs(void)
{
    full_size_case("clip_text_sd15_clip_l.config.json", "cond_stage_model.transformer.", 768, 12, 3072, 12,
                   FOKUS_ACT_QUICK_GELU, 768);
    full_size_case("clip_text_sdxl_clip_g.config.json", "text_encoders.clip_g.transformer.", 1280, 32, 5120, 20,
                   FOKUS_ACT_GELU, 1280);
}

/* The model keeps its own copy of the layers' matrices: what the caller does with the
 * weights it passed in afterwards does not change the model's output. */
static void test_owns_matrices(void)
{
    fokus_st_entry *e;
    size_t n;
    fokus_error err;
    CHECK_MSG(fokus_clip_tiny_weights(3, 64, 2, &e, &n, &err) == FOKUS_OK, "%s", err.msg);
    fokus_clip_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bos_id = cfg.eos_id = cfg.pad_id = -1;
    fokus_clip *m = NULL;
    CHECK_MSG(fokus_clip_new(&m, e, n, "", &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (!m) return;
    int64_t shape[2] = {1, 77};
    fokus_tensor ids, c1, p1, j1, c2, p2, j2;
    CHECK(fokus_tensor_new(&ids, FOKUS_I32, 2, shape, &err) == FOKUS_OK);
    for (int i = 0; i < 77; i++) ((int32_t *)ids.data)[i] = (i * 7919) % 49000;
    CHECK(fokus_clip_encode(ctx, m, &ids, 1, true, &c1, &p1, &j1, &err) == FOKUS_OK);
    size_t zeroed = 0;
    for (size_t i = 0; i < n; i++)
        if (e[i].tensor.ndim == 2 && strstr(e[i].name, ".layers.")) {
            memset(e[i].tensor.data, 0, (size_t)fokus_tensor_numel(&e[i].tensor) * sizeof(float));
            zeroed++;
        }
    CHECK_EQ_INT((int64_t)zeroed, 2 * 6);
    CHECK(fokus_clip_encode(ctx, m, &ids, 1, true, &c2, &p2, &j2, &err) == FOKUS_OK);
    CHECK(memcmp(c1.data, c2.data, (size_t)fokus_tensor_numel(&c1) * sizeof(float)) == 0);
    fokus_st_entries_free(e, n); /* and freeing them leaves the model working */
    fokus_tensor_release(&c2), fokus_tensor_release(&p2), fokus_tensor_release(&j2);
    CHECK(fokus_clip_encode(ctx, m, &ids, 1, true, &c2, &p2, &j2, &err) == FOKUS_OK);
    CHECK(memcmp(c1.data, c2.data, (size_t)fokus_tensor_numel(&c1) * sizeof(float)) == 0);
    fokus_tensor_release(&c1), fokus_tensor_release(&p1), fokus_tensor_release(&j1);
    fokus_tensor_release(&c2), fokus_tensor_release(&p2), fokus_tensor_release(&j2);
    fokus_tensor_release(&ids);
    fokus_clip_free(m);
}

int main(void)
{
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) return 1;
    RUN(test_oracle_quick_gelu);
    RUN(test_oracle_gelu_f16);
    RUN(test_openclip_and_prefixes);
    RUN(test_full_size_configs);
    RUN(test_owns_matrices);
    fokus_ctx_free(ctx);
    return check_summary("clip");
}
