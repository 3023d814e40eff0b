/* DiT: the fixed embeddings shared with MMDiT (timestep features, 2-D sin-cos table,
 * centre crop, patchify/unpatchify, adaLN modulation) against the oracles and
 * double-precision references. */
#include <jansson.h>
#include <unistd.h>

#include "check.h"

#include "fokus.h"
#include "models/dit_internal.h"

static fokus_ctx *ctx;

/* max|got - ref| <= tol * max(max|ref|, 1e-6) over n floats */
static double rel_err(const float *got, const fokus_tensor *ref, int64_t n)
{
    double md = 0, mr = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], r = fokus_tensor_get(ref, i);
        if (fabs(r) > mr) mr = fabs(r);
        if (!(fabs(g - r) <= md)) md = fabs(g - r);
    }
    return md / (mr > 1e-6 ? mr : 1e-6);
}

static bool load_case(const char *name, fokus_st_file *f)
{
    const char *shared = check_shared_dir();
    if (!shared) {
        check_skip("../shared not found (set FOKUS_SHARED): DiT oracles not checked");
        return false;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/oracles/models/%s.safetensors", shared, name);
    fokus_error err;
    fokus_status st = fokus_st_load(path, f, &err);
    CHECK_MSG(st == FOKUS_OK, "%s: %s", path, err.msg);
    return st == FOKUS_OK;
}

static double json_tol(const char *name)
{
    const char *shared = check_shared_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/oracles/models/%s.json", shared ? shared : ".", name);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
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
    printf("#   %-28s rel err %.2e (tol %.0e)\n", what, rel, tol);
    return rel;
}

static fokus_dit_config oracle_config(void)
{
    fokus_dit_config c;
    memset(&c, 0, sizeof c);
    c.num_heads = 4;
    return c;
}

/* ---------------------------------------------------------------- fixed embeddings */

static void test_timestep_features(void)
{
    fokus_error err;
    /* t = 0: cos 1, sin 0; odd width pads one zero */
    float t0 = 0, o[257];
    CHECK(fokus_timestep_features(o, &t0, 1, 257, 0, &err) == FOKUS_OK);
    CHECK(o[0] == 1 && o[127] == 1 && o[128] == 0 && o[255] == 0 && o[256] == 0);
    CHECK(fokus_timestep_features(o, &t0, 1, 1, 0, &err) == FOKUS_EINVAL);
    /* against a double reference of the float32 recipe: within the cos/sin rounding */
    float ts[3] = {1.0f, 500.5f, 999.0f}, out[3 * 256];
    CHECK(fokus_timestep_features(out, ts, 3, 256, 10000, &err) == FOKUS_OK);
    double worst = 0;
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 128; i++) {
            float f = expf((float)-log(10000.0) * (float)i / 128.0f);
            double a = (double)(ts[b] * f);
            worst = fmax(worst, fabs(out[b * 256 + i] - cos(a)));
            worst = fmax(worst, fabs(out[b * 256 + 128 + i] - sin(a)));
        }
    CHECK_MSG(worst <= 6e-8, "timestep features vs double: %.3g", worst);
    /* the oracle's t_freq (one fractional t) */
    fokus_st_file f;
    if (!load_case("dit_tiny", &f)) return;
    const fokus_tensor *t = fokus_st_find(&f, "inputs.t"), *ref = fokus_st_find(&f, "outputs.t_freq");
    int64_t n = t->shape[0];
    float *tf = malloc((size_t)n * 256 * sizeof(float));
    CHECK(fokus_timestep_features(tf, t->data, n, 256, 10000, &err) == FOKUS_OK);
    /* PyTorch's vectorised float32 exp is not correctly rounded: about one f_i in five
     * differs by an ulp from expf, which moves cos/sin at t = 999 by up to ~3e-5 */
    double e = rel_err(tf, ref, n * 256);
    CHECK_MSG(e <= 1e-4, "t_freq rel err %.3g", e);
    printf("#   %-28s rel err %.2e\n", "t_freq", e);
    free(tf);
    fokus_st_free(&f);
}

static void test_pos_embed(void)
{
    fokus_error err;
    /* row r, column c: [sin(c w), cos(c w), sin(r w), cos(r w)], w_k = 10000^(-k/(D/4)) */
    float tab[3 * 5 * 8];
    CHECK(fokus_pos_embed_2d(tab, 8, 3, 5, &err) == FOKUS_OK);
    double worst = 0;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 5; c++)
            for (int k = 0; k < 2; k++) {
                double w = pow(10000.0, -k / 2.0);
                const float *row = tab + (r * 5 + c) * 8;
                worst = fmax(worst, fabs(row[k] - sin(c * w)));
                worst = fmax(worst, fabs(row[2 + k] - cos(c * w)));
                worst = fmax(worst, fabs(row[4 + k] - sin(r * w)));
                worst = fmax(worst, fabs(row[6 + k] - cos(r * w)));
            }
    CHECK_MSG(worst <= 6e-8, "pos table vs double: %.3g", worst);
    CHECK(fokus_pos_embed_2d(tab, 6, 3, 5, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "multiple of 4") != NULL, "%s", err.msg);
    CHECK(fokus_pos_embed_2d(tab, 8, 0, 5, &err) == FOKUS_EINVAL);
    /* DiT checkpoints store the same table (4x4 grid, D 64) */
    fokus_st_file f;
    if (!load_case("dit_tiny", &f)) return;
    float pe[16 * 64];
    CHECK(fokus_pos_embed_2d(pe, 64, 4, 4, &err) == FOKUS_OK);
    double e = rel_err(pe, fokus_st_find(&f, "weights.pos_embed"), 16 * 64);
    CHECK_MSG(e <= 1e-7, "pos_embed vs the stored table: %.3g", e);
    fokus_st_free(&f);
}

static void test_pos_embed_crop(void)
{
    fokus_error err;
    /* an 8x8 table with value = 100*row + column in every channel: the crop picks rows
     * top..top+gh-1 and columns left..left+gw-1, top = (8-gh)/2, left = (8-gw)/2 */
    int64_t shape[3] = {1, 64, 3};
    fokus_tensor t;
    CHECK(fokus_tensor_new(&t, FOKUS_BF16, 3, shape, &err) == FOKUS_OK);
    for (int i = 0; i < 64; i++)
        for (int d = 0; d < 3; d++) fokus_tensor_set(&t, i * 3 + d, 10 * (i / 8) + i % 8 + d);
    float out[8 * 8 * 3];
    CHECK(fokus_pos_embed_crop(out, &t, 4, 6, &err) == FOKUS_OK);
    bool ok = true;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 6; c++)
            for (int d = 0; d < 3; d++) ok = ok && out[(r * 6 + c) * 3 + d] == 10 * (r + 2) + (c + 1) + d;
    CHECK_MSG(ok, "crop 4x6 of 8x8 takes rows 2..5, columns 1..6");
    CHECK(fokus_pos_embed_crop(out, &t, 8, 8, &err) == FOKUS_OK);
    CHECK(out[0] == 0 && out[63 * 3] == 77);
    CHECK(fokus_pos_embed_crop(out, &t, 4, 10, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "pos_embed covers 8x8 patches, the latent needs 4x10") != NULL, "%s", err.msg);
    fokus_tensor_release(&t);
    int64_t s2[2] = {60, 3};
    CHECK(fokus_tensor_new(&t, FOKUS_F32, 2, s2, &err) == FOKUS_OK);
    CHECK(fokus_pos_embed_crop(out, &t, 2, 2, &err) == FOKUS_EINVAL);
    CHECK_MSG(strstr(err.msg, "not a square grid") != NULL, "%s", err.msg);
    fokus_tensor_release(&t);
}

static void test_patchify(void)
{
    /* x[b, c, y, x] = distinct values; patch (b, r, col) column (ch, py, px) must be
     * x[b, ch, r*p + py, col*p + px]; unpatchify's (py, px, ch) order inverts a gather
     * in that order */
    enum { N = 2, C = 3, H = 6, W = 4, P = 2, GH = H / P, GW = W / P };
    float x[N * C * H * W], patches[N * GH * GW * C * P * P], back[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++) x[i] = (float)i;
    fokus_patchify(patches, x, N, C, H, W, P);
    bool ok = true;
    for (int b = 0; b < N; b++)
        for (int r = 0; r < GH; r++)
            for (int col = 0; col < GW; col++)
                for (int ch = 0; ch < C; ch++)
                    for (int py = 0; py < P; py++)
                        for (int px = 0; px < P; px++)
                            ok = ok && patches[((b * GH + r) * GW + col) * C * P * P + (ch * P + py) * P + px] ==
                                           x[((b * C + ch) * H + r * P + py) * W + col * P + px];
    CHECK_MSG(ok, "patchify order (c, py, px)");
    float tok[N * GH * GW * (P * P * C + 1)]; /* a padded row stride */
    const int ld = P * P * C + 1;
    for (int b = 0; b < N; b++)
        for (int r = 0; r < GH; r++)
            for (int col = 0; col < GW; col++)
                for (int py = 0; py < P; py++)
                    for (int px = 0; px < P; px++)
                        for (int ch = 0; ch < C; ch++)
                            tok[((b * GH + r) * GW + col) * ld + (py * P + px) * C + ch] =
                                x[((b * C + ch) * H + r * P + py) * W + col * P + px];
    fokus_unpatchify(back, tok, ld, N, C, H, W, P);
    CHECK_MSG(memcmp(back, x, sizeof x) == 0, "unpatchify order (py, px, c)");
}

static void test_adaln(void)
{
    /* batch 2 x 3 tokens x d 5, modulation rows [2, 3*5] (shift | scale | gate) */
    enum { B = 2, T = 3, D = 5 };
    float x[B * T * D], y[B * T * D], mod[B * 3 * D], r[B * T * D];
    fokus_rng g;
    fokus_rng_init(&g, 7);
    fokus_rng_normal_n(&g, x, B * T * D);
    fokus_rng_normal_n(&g, mod, B * 3 * D);
    fokus_rng_normal_n(&g, r, B * T * D);
    fokus_adaln_modulate(ctx, y, D, x, D, B, T, D, mod, mod + D, 3 * D, 1e-6f);
    double worst = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++) {
            const float *xr = x + (b * T + i) * D;
            double mean = 0, var = 0;
            for (int j = 0; j < D; j++) mean += xr[j];
            mean /= D;
            for (int j = 0; j < D; j++) var += (xr[j] - mean) * (xr[j] - mean);
            var /= D;
            for (int j = 0; j < D; j++) {
                double want = (xr[j] - mean) / sqrt(var + 1e-6) * (1 + mod[b * 3 * D + D + j]) + mod[b * 3 * D + j];
                worst = fmax(worst, fabs(y[(b * T + i) * D + j] - want));
            }
        }
    CHECK_MSG(worst < 2e-6, "modulate vs double: %.3g", worst);
    float x2[B * T * D];
    memcpy(x2, x, sizeof x);
    fokus_gated_add(ctx, x2, D, r, D, B, T, D, mod + 2 * D, 3 * D);
    worst = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T * D; i++)
            worst = fmax(worst, fabs(x2[b * T * D + i] - (x[b * T * D + i] + mod[b * 3 * D + 2 * D + i % D] * r[b * T * D + i])));
    CHECK_MSG(worst < 1e-6, "gated add vs double: %.3g", worst);
    float s[3] = {0, 1, -2};
    fokus_silu_copy(ctx, y, s, 3);
    CHECK_NEAR(y[0], 0, 1e-7);
    CHECK_NEAR(y[1], 1 / (1 + exp(-1.0)), 1e-6);
    CHECK_NEAR(y[2], -2 / (1 + exp(2.0)), 1e-6);
    float bad[4] = {0, 1, NAN, INFINITY};
    CHECK_EQ_INT(fokus_first_nonfinite(bad, 4), 2);
    CHECK_EQ_INT(fokus_first_nonfinite(bad, 2), -1);
}

static void test_family_guess(void)
{
    fokus_tensor z = {0};
    fokus_st_entry mm[2] = {{"model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight", z}, {"x", z}};
    fokus_st_entry dit[1] = {{"weights.y_embedder.embedding_table.weight", z}};
    fokus_st_entry clip[1] = {{"text_model.embeddings.token_embedding.weight", z}};
    CHECK(strstr(fokus_guess_family(mm, 2), "MMDiT") != NULL);
    CHECK(strstr(fokus_guess_family(dit, 1), "DiT") != NULL);
    CHECK(strstr(fokus_guess_family(clip, 1), "CLIP") != NULL);
    CHECK(fokus_guess_family(mm + 1, 1) == NULL);
    char *p[4];
    fokus_st_entry two[3] = {{"a.x_embedder.proj.weight", z}, {"b.x_embedder.proj.weight", z}, {"cx_embedder.proj.weight", z}};
    size_t k = fokus_find_prefixes(two, 3, "x_embedder.proj.weight", p, 4);
    CHECK_EQ_INT(k, 2);
    if (k == 2) {
        CHECK_STR(p[0], "a.");
        CHECK_STR(p[1], "b.");
    }
    for (size_t i = 0; i < k; i++) free(p[i]);
}

/* ---------------------------------------------------------------- the model */

/* Runs the model on the oracle's inputs and compares every stored output. */
static void run_oracle(const fokus_st_file *f, fokus_dit *m, double tol, const char *tag)
{
    fokus_error err;
    const fokus_tensor *x = fokus_st_find(f, "inputs.x"), *t = fokus_st_find(f, "inputs.t"), *y = fokus_st_find(f, "inputs.y");
    const fokus_dit_config *c = fokus_dit_get_config(m);
    int64_t shape[4] = {x->shape[0], c->out_channels, x->shape[2], x->shape[3]};
    fokus_tensor out;
    fokus_tensor_new(&out, FOKUS_F32, 4, shape, &err);
    fokus_dit_trace tr;
    fokus_status st = fokus_dit_forward(ctx, m, x, t, y, &out, &tr, &err);
    CHECK_MSG(st == FOKUS_OK, "%s", err.msg);
    if (st == FOKUS_OK) {
        char what[64];
        struct { const char *name; const fokus_tensor *got; } outs[] = {
            {"x_tokens", &tr.x_tokens}, {"t_freq", &tr.t_freq}, {"t_emb", &tr.t_emb}, {"y_emb", &tr.y_emb},
            {"c", &tr.c}, {"final_tokens", &tr.final_tokens}, {"out", &out},
        };
        for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
            char name[64];
            snprintf(name, sizeof name, "outputs.%s", outs[i].name);
            snprintf(what, sizeof what, "%s%s", tag, outs[i].name);
            check_close(what, outs[i].got, fokus_st_find(f, name), tol);
        }
        CHECK_EQ_INT(tr.n_blocks, c->depth);
        for (int i = 0; i < tr.n_blocks; i++) {
            char name[64];
            snprintf(name, sizeof name, "outputs.block.%d", i);
            snprintf(what, sizeof what, "%sblock.%d", tag, i);
            check_close(what, &tr.blocks[i], fokus_st_find(f, name), tol);
        }
        /* every float output of the oracle is covered above */
        int n_out = 0;
        for (size_t i = 0; i < f->n_entries; i++) n_out += strncmp(f->entries[i].name, "outputs.", 8) == 0;
        CHECK_EQ_INT(n_out, 7 + tr.n_blocks);
        fokus_dit_trace_free(&tr);
        /* without a trace: the same output */
        fokus_tensor out2;
        fokus_tensor_new(&out2, FOKUS_F32, 4, shape, &err);
        CHECK(fokus_dit_forward(ctx, m, x, t, y, &out2, NULL, &err) == FOKUS_OK);
        CHECK(memcmp(out.data, out2.data, (size_t)fokus_tensor_numel(&out) * 4) == 0);
        fokus_tensor_release(&out2);
    }
    fokus_tensor_release(&out);
}

static void test_oracle(void)
{
    fokus_st_file f;
    if (!load_case("dit_tiny", &f)) return;
    double tol = json_tol("dit_tiny");
    fokus_error err;
    fokus_dit_config cfg = oracle_config();
    fokus_dit *m = NULL;
    CHECK_MSG(fokus_dit_new(&m, f.entries, f.n_entries, NULL, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (m) {
        const fokus_dit_config *c = fokus_dit_get_config(m);
        CHECK_STR(fokus_dit_prefix(m), "weights.");
        CHECK_EQ_INT(c->input_size, 8);
        CHECK_EQ_INT(c->in_channels, 4);
        CHECK_EQ_INT(c->out_channels, 8);
        CHECK_EQ_INT(c->patch_size, 2);
        CHECK_EQ_INT(c->hidden_size, 64);
        CHECK_EQ_INT(c->depth, 2);
        CHECK_EQ_INT(c->num_heads, 4);
        CHECK_EQ_INT(c->mlp_hidden, 256);
        CHECK_EQ_INT(c->num_classes, 10);
        CHECK_EQ_INT(c->freq_dim, 256);
        CHECK(c->learn_sigma && c->null_class);
        CHECK_NEAR(c->eps, 1e-6, 0);
        run_oracle(&f, m, tol, "");
        fokus_dit_free(m);
    }
    fokus_st_free(&f);
}

/* The oracle's weights converted to f16 / bf16 (used in place: the model's matrices
 * point into the converted tensors) against (a) the same model with f32 weights holding
 * the rounded values, which must agree to float32 noise since the widening is exact,
 * and (b) the F32 oracle with a tolerance for the weight rounding. */
static void half_case(fokus_dtype dt, double tol_oracle)
{
    fokus_st_file f;
    if (!load_case("dit_tiny", &f)) return;
    fokus_error err;
    size_t n = f.n_entries;
    fokus_st_entry *eh = calloc(n, sizeof *eh), *ew = calloc(n, sizeof *ew);
    for (size_t i = 0; i < n; i++) {
        eh[i].name = ew[i].name = f.entries[i].name;
        if (strncmp(f.entries[i].name, "weights.", 8) == 0) {
            fokus_tensor_to(&eh[i].tensor, &f.entries[i].tensor, dt, &err);
            fokus_tensor_to(&ew[i].tensor, &eh[i].tensor, FOKUS_F32, &err);
        } else {
            eh[i].tensor = ew[i].tensor = f.entries[i].tensor;
            fokus_tensor_retain(&eh[i].tensor), fokus_tensor_retain(&ew[i].tensor);
        }
    }
    fokus_dit_config cfg = oracle_config();
    fokus_dit *mh = NULL, *mw = NULL;
    CHECK_MSG(fokus_dit_new(&mh, eh, n, "weights.", &cfg, &err) == FOKUS_OK, "%s", err.msg);
    CHECK_MSG(fokus_dit_new(&mw, ew, n, "weights.", &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (mh && mw) {
        /* in place: the matrices are the converted tensors themselves, in their dtype */
        const fokus_tensor *qkv = NULL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(eh[i].name, "weights.blocks.1.attn.qkv.weight") == 0) qkv = &eh[i].tensor;
        CHECK(qkv && mh->blocks[1].qkv.data == qkv->data && mh->blocks[1].qkv.dtype == dt);
        CHECK(mh->ytab.dtype == dt && mh->x_w.dtype == dt);
        const fokus_tensor *x = fokus_st_find(&f, "inputs.x"), *t = fokus_st_find(&f, "inputs.t"),
                           *y = fokus_st_find(&f, "inputs.y"), *ref = fokus_st_find(&f, "outputs.out");
        fokus_tensor oh, ow;
        fokus_tensor_new(&oh, FOKUS_F32, 4, ref->shape, &err);
        fokus_tensor_new(&ow, FOKUS_F32, 4, ref->shape, &err);
        CHECK_MSG(fokus_dit_forward(ctx, mh, x, t, y, &oh, NULL, &err) == FOKUS_OK, "%s", err.msg);
        CHECK_MSG(fokus_dit_forward(ctx, mw, x, t, y, &ow, NULL, &err) == FOKUS_OK, "%s", err.msg);
        char what[64];
        snprintf(what, sizeof what, "%s weights = f32 of them", fokus_dtype_name(dt));
        check_close(what, &oh, &ow, 2e-6);
        snprintf(what, sizeof what, "%s weights vs F32 oracle", fokus_dtype_name(dt));
        double e = check_close(what, &oh, ref, tol_oracle);
        CHECK_MSG(e > 1e-5, "%s weights should differ from the F32 oracle (%.3g)", fokus_dtype_name(dt), e);
        fokus_tensor_release(&oh), fokus_tensor_release(&ow);
    }
    fokus_dit_free(mh), fokus_dit_free(mw);
    for (size_t i = 0; i < n; i++) fokus_tensor_release(&eh[i].tensor), fokus_tensor_release(&ew[i].tensor);
    free(eh), free(ew);
    fokus_st_free(&f);
}

static void test_half_weights(void)
{
    half_case(FOKUS_F16, 5e-3);
    half_case(FOKUS_BF16, 3e-2);
}

/* Without pos_embed in the file the table is computed (models.md 3.4) and the oracle
 * still matches; a batch gives the same rows as its entries one by one. */
static void test_no_pos_embed_and_batch(void)
{
    fokus_st_file f;
    if (!load_case("dit_tiny", &f)) return;
    fokus_error err;
    fokus_st_entry *e = calloc(f.n_entries, sizeof *e);
    size_t n = 0;
    for (size_t i = 0; i < f.n_entries; i++)
        if (strcmp(f.entries[i].name, "weights.pos_embed") != 0) e[n++] = f.entries[i];
    fokus_dit_config cfg = oracle_config();
    fokus_dit *m = NULL;
    CHECK_MSG(fokus_dit_new(&m, e, n, NULL, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (m) {
        CHECK_EQ_INT(fokus_dit_get_config(m)->input_size, 0);
        run_oracle(&f, m, json_tol("dit_tiny"), "computed pos: ");
        const fokus_tensor *x = fokus_st_find(&f, "inputs.x"), *t = fokus_st_find(&f, "inputs.t"),
                           *y = fokus_st_find(&f, "inputs.y"), *ref = fokus_st_find(&f, "outputs.out");
        for (int b = 0; b < 3; b++) {
            fokus_tensor xb, tb, yb, rb, ob;
            fokus_tensor_narrow(&xb, x, 0, b, 1, &err);
            fokus_tensor_narrow(&tb, t, 0, b, 1, &err);
            fokus_tensor_narrow(&yb, y, 0, b, 1, &err);
            fokus_tensor_narrow(&rb, ref, 0, b, 1, &err);
            int64_t sh[4] = {1, 8, 8, 8};
            fokus_tensor_new(&ob, FOKUS_F32, 4, sh, &err);
            CHECK_MSG(fokus_dit_forward(ctx, m, &xb, &tb, &yb, &ob, NULL, &err) == FOKUS_OK, "%s", err.msg);
            check_close("one batch entry", &ob, &rb, 1e-4);
            fokus_tensor_release(&xb), fokus_tensor_release(&tb), fokus_tensor_release(&yb);
            fokus_tensor_release(&rb), fokus_tensor_release(&ob);
        }
        fokus_dit_free(m);
    }
    free(e);
    fokus_st_free(&f);
}

/* The tiny model: deterministic per seed, a latent of another size (its own table),
 * and the options. */
static void test_tiny(void)
{
    fokus_error err;
    fokus_st_entry *e1, *e2, *e3;
    size_t n1, n2, n3;
    CHECK(fokus_dit_tiny_weights(5, NULL, &e1, &n1, &err) == FOKUS_OK);
    CHECK(fokus_dit_tiny_weights(5, NULL, &e2, &n2, &err) == FOKUS_OK);
    CHECK(fokus_dit_tiny_weights(6, NULL, &e3, &n3, &err) == FOKUS_OK);
    CHECK_EQ_INT(n1, n2);
    bool same = true, differ = false;
    for (size_t i = 0; i < n1; i++) {
        size_t bytes = (size_t)fokus_tensor_numel(&e1[i].tensor) * 4;
        same = same && memcmp(e1[i].tensor.data, e2[i].tensor.data, bytes) == 0;
        if (strcmp(e1[i].name, "pos_embed") != 0) differ = differ || memcmp(e1[i].tensor.data, e3[i].tensor.data, bytes) != 0;
    }
    CHECK(same && differ);
    fokus_dit_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.num_heads = 4;
    fokus_dit *m = NULL;
    CHECK_MSG(fokus_dit_new(&m, e1, n1, NULL, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (m) {
        const fokus_dit_config *c = fokus_dit_get_config(m);
        CHECK_STR(fokus_dit_prefix(m), "");
        CHECK(c->hidden_size == 64 && c->depth == 2 && c->in_channels == 4 && c->out_channels == 8 &&
              c->input_size == 8 && c->num_classes == 10 && c->learn_sigma);
        /* an 8x12 latent (4x6 patches): runs on its own table, and differs from the 8x8
         * left part only through attention and positions */
        int64_t xs[4] = {2, 4, 8, 12}, ts[1] = {2}, os[4] = {2, 8, 8, 12};
        fokus_tensor x, t, y, o;
        fokus_tensor_new(&x, FOKUS_F32, 4, xs, &err);
        fokus_tensor_randn(&x, 1, &err);
        fokus_tensor_new(&t, FOKUS_F32, 1, ts, &err);
        fokus_tensor_new(&y, FOKUS_I32, 1, ts, &err);
        fokus_tensor_set(&t, 0, 10), fokus_tensor_set(&t, 1, 900.25);
        fokus_tensor_set(&y, 0, 3), fokus_tensor_set(&y, 1, 10);
        fokus_tensor_new(&o, FOKUS_F32, 4, os, &err);
        CHECK_MSG(fokus_dit_forward(ctx, m, &x, &t, &y, &o, NULL, &err) == FOKUS_OK, "%s", err.msg);
        double s2 = 0;
        for (int64_t i = 0; i < fokus_tensor_numel(&o); i++) s2 += fokus_tensor_get(&o, i) * fokus_tensor_get(&o, i);
        CHECK(isfinite(s2) && s2 > 0);
        fokus_tensor_release(&x), fokus_tensor_release(&t), fokus_tensor_release(&y), fokus_tensor_release(&o);
        fokus_dit_free(m);
    }
    fokus_st_entries_free(e1, n1), fokus_st_entries_free(e2, n2), fokus_st_entries_free(e3, n3);
    /* options: no learn_sigma, 1 channel, patch 1, other width */
    fokus_dit_tiny_opts o = {.hidden_size = 48, .depth = 1, .in_channels = 1, .patch_size = 1, .input_size = 4,
                             .num_classes = 3, .no_sigma = true};
    CHECK(fokus_dit_tiny_weights(1, &o, &e1, &n1, &err) == FOKUS_OK);
    cfg.num_heads = 0;
    CHECK_MSG(fokus_dit_new(&m, e1, n1, NULL, &cfg, &err) == FOKUS_EINVAL, "heads of width 48 cannot be inferred");
    CHECK_MSG(strstr(err.msg, "cannot infer num_heads for hidden size 48") != NULL, "%s", err.msg);
    cfg.num_heads = 3;
    CHECK_MSG(fokus_dit_new(&m, e1, n1, NULL, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (m) {
        const fokus_dit_config *c = fokus_dit_get_config(m);
        CHECK(c->out_channels == 1 && !c->learn_sigma && c->patch_size == 1 && c->input_size == 4 && c->num_classes == 3);
        fokus_dit_free(m);
    }
    fokus_st_entries_free(e1, n1);
    o.hidden_size = 6;
    CHECK(fokus_dit_tiny_weights(1, &o, &e1, &n1, &err) == FOKUS_EINVAL);
}

/* A bf16 checkpoint file: the model's matrices are the loader's views of the mapped
 * file (same addresses, dtype bf16), and the output equals the in-memory model's. */
static void test_mapped_file(void)
{
    fokus_error err;
    fokus_st_entry *e;
    size_t n;
    if (fokus_dit_tiny_weights(3, NULL, &e, &n, &err) != FOKUS_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    const char **names = calloc(n, sizeof *names);
    fokus_tensor *ts = calloc(n, sizeof *ts);
    for (size_t i = 0; i < n; i++) {
        names[i] = e[i].name;
        fokus_tensor_to(&ts[i], &e[i].tensor, e[i].tensor.ndim >= 2 ? FOKUS_BF16 : FOKUS_F32, &err);
    }
    char path[64];
    snprintf(path, sizeof path, "/tmp/fokus_test_dit_%d.safetensors", (int)getpid());
    CHECK_MSG(fokus_st_save(path, names, ts, n, NULL, NULL, 0, &err) == FOKUS_OK, "%s", err.msg);
    fokus_st_file f;
    CHECK_MSG(fokus_st_load(path, &f, &err) == FOKUS_OK, "%s", err.msg);
    unlink(path);
    fokus_st_entry *mem = calloc(n, sizeof *mem);
    for (size_t i = 0; i < n; i++) mem[i] = (fokus_st_entry){e[i].name, ts[i]};
    fokus_dit_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.num_heads = 4;
    fokus_dit *mf = NULL, *mm = NULL;
    CHECK_MSG(fokus_dit_new(&mf, f.entries, f.n_entries, NULL, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    CHECK_MSG(fokus_dit_new(&mm, mem, n, NULL, &cfg, &err) == FOKUS_OK, "%s", err.msg);
    if (mf && mm) {
        const fokus_tensor *fc1 = fokus_st_find(&f, "blocks.1.mlp.fc1.weight");
        CHECK(fc1 && mf->blocks[1].fc1.data == fc1->data && mf->blocks[1].fc1.dtype == FOKUS_BF16);
        fokus_st_free(&f); /* the model keeps the mapping alive */
        int64_t xs[4] = {1, 4, 8, 8}, ns[1] = {1}, os[4] = {1, 8, 8, 8};
        fokus_tensor x, t, y, o1, o2;
        fokus_tensor_new(&x, FOKUS_F32, 4, xs, &err);
        fokus_tensor_randn(&x, 9, &err);
        fokus_tensor_new(&t, FOKUS_F32, 1, ns, &err);
        fokus_tensor_new(&y, FOKUS_I32, 1, ns, &err);
        fokus_tensor_set(&t, 0, 321.5);
        fokus_tensor_set(&y, 0, 7);
        fokus_tensor_new(&o1, FOKUS_F32, 4, os, &err);
        fokus_tensor_new(&o2, FOKUS_F32, 4, os, &err);
        CHECK(fokus_dit_forward(ctx, mf, &x, &t, &y, &o1, NULL, &err) == FOKUS_OK);
        CHECK(fokus_dit_forward(ctx, mm, &x, &t, &y, &o2, NULL, &err) == FOKUS_OK);
        CHECK(memcmp(o1.data, o2.data, 8 * 64 * 4) == 0);
        fokus_tensor_release(&x), fokus_tensor_release(&t), fokus_tensor_release(&y);
        fokus_tensor_release(&o1), fokus_tensor_release(&o2);
    } else {
        fokus_st_free(&f);
    }
    fokus_dit_free(mf), fokus_dit_free(mm);
    for (size_t i = 0; i < n; i++) fokus_tensor_release(&ts[i]);
    free(ts), free(names), free(mem);
    fokus_st_entries_free(e, n);
}

/* Bad inputs and checkpoints: each error names what was expected and what came. */
static void test_errors(void)
{
    fokus_st_file f;
    if (!load_case("dit_tiny", &f)) return;
    fokus_error err;
    fokus_dit_config cfg = oracle_config();
    fokus_dit *m = NULL;
    if (fokus_dit_new(&m, f.entries, f.n_entries, NULL, &cfg, &err) != FOKUS_OK) {
        CHECK_MSG(0, "%s", err.msg);
        fokus_st_free(&f);
        return;
    }
    int64_t xs[4] = {2, 4, 8, 8}, os[4] = {2, 8, 8, 8}, ns[1] = {2};
    fokus_tensor x, t, y, o;
    fokus_tensor_new(&x, FOKUS_F32, 4, xs, &err);
    fokus_tensor_new(&t, FOKUS_F32, 1, ns, &err);
    fokus_tensor_new(&y, FOKUS_I64, 1, ns, &err);
    fokus_tensor_new(&o, FOKUS_F32, 4, os, &err);
#define EXPECT_ERR(call, text)                                                                                 \
    do {                                                                                                       \
        fokus_status st_ = (call);                                                                             \
        CHECK_MSG(st_ != FOKUS_OK && strstr(err.msg, text) != NULL, "%s: got '%s'", text, st_ ? err.msg : "ok"); \
    } while (0)
    CHECK_MSG(fokus_dit_forward(ctx, m, &x, &t, &y, &o, NULL, &err) == FOKUS_OK, "%s", err.msg);
    /* the null class is label 10; 11 and -1 are out of range */
    fokus_tensor_set(&y, 1, 10);
    CHECK(fokus_dit_forward(ctx, m, &x, &t, &y, &o, NULL, &err) == FOKUS_OK);
    fokus_tensor_set(&y, 1, 11);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &x, &t, &y, &o, NULL, &err), "label 11 at y[2] is outside 0..10 (the last one is the null class)");
    fokus_tensor_set(&y, 1, -1);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &x, &t, &y, &o, NULL, &err), "label -1 at y[2]");
    fokus_tensor_set(&y, 1, 0);
    /* NaN latent / timestep, with the place */
    fokus_tensor_set(&x, 1 * 256 + 2 * 64 + 3 * 8 + 4, NAN);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &x, &t, &y, &o, NULL, &err), "x has NaN at [2, 3, 4, 5]");
    fokus_tensor_set(&x, 1 * 256 + 2 * 64 + 3 * 8 + 4, INFINITY);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &x, &t, &y, &o, NULL, &err), "x has inf at [2, 3, 4, 5]");
    fokus_tensor_set(&x, 1 * 256 + 2 * 64 + 3 * 8 + 4, 0);
    fokus_tensor_set(&t, 0, NAN);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &x, &t, &y, &o, NULL, &err), "t[1] is nan");
    fokus_tensor_set(&t, 0, 0);
    /* shapes */
    fokus_tensor bad, bad2;
    int64_t s3[4] = {2, 3, 8, 8}, s5[4] = {2, 4, 8, 7}, s1[1] = {3};
    fokus_tensor_new(&bad, FOKUS_F32, 4, s3, &err);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &bad, &t, &y, &o, NULL, &err), "x has 3 channels, the model takes 4");
    fokus_tensor_release(&bad);
    fokus_tensor_new(&bad, FOKUS_F32, 4, s5, &err);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &bad, &t, &y, &o, NULL, &err), "multiples of the patch size 2");
    fokus_tensor_release(&bad);
    fokus_tensor_new(&bad, FOKUS_F32, 1, s1, &err);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &x, &bad, &y, &o, NULL, &err), "t must be a numeric tensor [2] (one timestep per batch entry), got f32 3");
    fokus_tensor_new(&bad2, FOKUS_I32, 1, s1, &err);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &x, &t, &bad2, &o, NULL, &err), "y must be an integer tensor [2] (one label per batch entry), got i32 3");
    fokus_tensor_release(&bad2);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &x, &t, &t, &o, NULL, &err), "y must be an integer tensor [2]");
    EXPECT_ERR(fokus_dit_forward(ctx, m, &bad, &t, &y, &o, NULL, &err), "x must be a float tensor [N, C, H, W], got f32 3");
    fokus_tensor_release(&bad);
    EXPECT_ERR(fokus_dit_forward(ctx, m, &x, &t, &y, &x, NULL, &err), "out must be a contiguous f32 tensor 2x8x8x8, got f32 2x4x8x8");
    /* interrupt between blocks */
    fokus_ctx_interrupt(ctx, true);
    CHECK(fokus_dit_forward(ctx, m, &x, &t, &y, &o, NULL, &err) == FOKUS_EINTERRUPT);
    fokus_ctx_interrupt(ctx, false);
    fokus_tensor_release(&x), fokus_tensor_release(&t), fokus_tensor_release(&y), fokus_tensor_release(&o);
    fokus_dit_free(m);

    /* checkpoints: config contradicting shapes, missing and misshapen tensors */
    cfg.hidden_size = 32;
    EXPECT_ERR(fokus_dit_new(&m, f.entries, f.n_entries, NULL, &cfg, &err), "config hidden_size = 32, but the weights have 64");
    cfg = oracle_config();
    cfg.num_classes = 7;
    EXPECT_ERR(fokus_dit_new(&m, f.entries, f.n_entries, NULL, &cfg, &err), "config num_classes = 7, but the label table has 11 rows");
    cfg = oracle_config();
    cfg.num_heads = 3;
    EXPECT_ERR(fokus_dit_new(&m, f.entries, f.n_entries, NULL, &cfg, &err), "hidden size 64 is not divisible into 3 heads");
    cfg = oracle_config();
    cfg.num_classes = 11; /* no class dropout: 11 classes, no null label */
    CHECK(fokus_dit_new(&m, f.entries, f.n_entries, NULL, &cfg, &err) == FOKUS_OK);
    if (m) {
        CHECK(!fokus_dit_get_config(m)->null_class && fokus_dit_get_config(m)->num_classes == 11);
        fokus_dit_free(m);
    }
    cfg = oracle_config();
    fokus_st_entry *e = calloc(f.n_entries, sizeof *e);
    memcpy(e, f.entries, f.n_entries * sizeof *e);
    fokus_tensor small;
    int64_t ss[2] = {256, 32};
    fokus_tensor_new(&small, FOKUS_F32, 2, ss, &err);
    for (size_t i = 0; i < f.n_entries; i++) {
        if (strcmp(e[i].name, "weights.blocks.1.mlp.fc1.weight") == 0) e[i].tensor = small;
        if (strcmp(e[i].name, "weights.blocks.1.attn.proj.bias") == 0) e[i].name = "weights.blocks.1.attn.proj.bias_renamed";
    }
    EXPECT_ERR(fokus_dit_new(&m, e, f.n_entries, NULL, &cfg, &err), "dit: missing tensor 'weights.blocks.1.attn.proj.bias'");
    for (size_t i = 0; i < f.n_entries; i++)
        if (strcmp(e[i].name, "weights.blocks.1.attn.proj.bias_renamed") == 0) e[i].name = "weights.blocks.1.attn.proj.bias";
    EXPECT_ERR(fokus_dit_new(&m, e, f.n_entries, NULL, &cfg, &err), "dit: 'weights.blocks.1.mlp.fc1.weight' has shape 256x32, expected 256x64");
    fokus_tensor_release(&small);
    free(e);
    EXPECT_ERR(fokus_dit_new(&m, f.entries, f.n_entries, "nothing.", &cfg, &err), "no DiT in these weights (looked for 'y_embedder.embedding_table.weight' under prefix 'nothing.')");
    fokus_st_free(&f);
    /* other families say what they are */
    if (!load_case("mmdit_tiny", &f)) return;
    EXPECT_ERR(fokus_dit_new(&m, f.entries, f.n_entries, NULL, NULL, &err), "they look like an SD3 MMDiT (joint_blocks.*, context_embedder), not a DiT");
    fokus_st_free(&f);
    if (!load_case("clip_text_tiny", &f)) return;
    EXPECT_ERR(fokus_dit_new(&m, f.entries, f.n_entries, NULL, NULL, &err), "they look like a CLIP text encoder");
    fokus_st_free(&f);
#undef EXPECT_ERR
}

/* The full DiT-XL/2 (dit_xl_2.config.json): every tensor name and shape of the real
 * checkpoint, as f16 views whose rows all alias one zero buffer (stride 0 in the first
 * dimension), so nothing big is allocated; checks the loader and the inferred config
 * against the JSON's. pos_rows > 0 replaces pos_embed's row count (the 512 px model has
 * 1024 positions, input_size 64). */
static void xl_case(int64_t pos_rows, int64_t want_input)
{
    const char *shared = check_shared_dir();
    if (!shared) {
        check_skip("../shared not found: DiT-XL/2 config not checked");
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/oracles/models/dit_xl_2.config.json", shared);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    CHECK_MSG(j != NULL, "%s: %s", path, je.text);
    if (!j) return;
    json_t *ts = json_object_get(j, "tensors");
    size_t n = json_object_size(ts), k = 0;
    fokus_st_entry *e = calloc(n, sizeof *e);
    uint16_t *zero = calloc(1024 * 1152, sizeof *zero);
    const char *name;
    json_t *v;
    json_object_foreach(ts, name, v) {
        int64_t sh[FOKUS_MAX_DIMS], st[FOKUS_MAX_DIMS];
        int nd = (int)json_array_size(v);
        for (int d = 0; d < nd; d++) sh[d] = json_integer_value(json_array_get(v, (size_t)d));
        if (pos_rows > 0 && strcmp(name, "pos_embed") == 0) sh[1] = pos_rows;
        int64_t inner = 1;
        for (int d = nd - 1; d >= 0; d--) {
            st[d] = d == 0 ? 0 : inner;
            inner *= sh[d];
        }
        e[k].name = (char *)name;
        fokus_tensor_borrow(&e[k].tensor, zero, FOKUS_F16, nd, sh, st);
        k++;
    }
    fokus_dit *m = NULL;
    fokus_error err;
    CHECK_MSG(fokus_dit_new(&m, e, k, NULL, NULL, &err) == FOKUS_OK, "dit_xl_2: %s", err.msg);
    if (m) {
        const fokus_dit_config *c = fokus_dit_get_config(m);
#define JI(key) json_integer_value(json_object_get(j, key))
        CHECK_STR(fokus_dit_prefix(m), "");
        CHECK_EQ_INT(c->input_size, want_input);
        CHECK_EQ_INT(c->in_channels, JI("in_channels"));
        CHECK_EQ_INT(c->patch_size, JI("patch_size"));
        CHECK_EQ_INT(c->hidden_size, JI("hidden_size"));
        CHECK_EQ_INT(c->depth, JI("depth"));
        CHECK_EQ_INT(c->num_heads, JI("num_heads"));
        CHECK_EQ_INT(c->num_classes, JI("num_classes"));
        CHECK_EQ_INT(c->freq_dim, JI("frequency_embedding_size"));
        CHECK_EQ_INT(c->mlp_hidden, (int64_t)(json_number_value(json_object_get(j, "mlp_ratio")) * (double)JI("hidden_size")));
        CHECK(c->learn_sigma == json_is_true(json_object_get(j, "learn_sigma")));
        CHECK_EQ_INT(c->out_channels, 8);
        CHECK(c->null_class);
        CHECK_NEAR(c->eps, json_number_value(json_object_get(j, "norm_eps")), 0);
        CHECK_NEAR(c->max_period, (double)JI("max_period"), 0);
        /* the matrices are the f16 views, not copies */
        CHECK(m->blocks[27].fc2.data == (void *)zero && m->blocks[27].fc2.dtype == FOKUS_F16);
        CHECK_EQ_INT(m->blocks[27].fc2.shape[1], 4608);
#undef JI
        fokus_dit_free(m);
    }
    free(zero);
    free(e);
    json_decref(j);
}

static void test_full_size_config(void)
{
    xl_case(0, 32);
    xl_case(1024, 64);
}

int main(void)
{
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) return 1;
    RUN(test_timestep_features);
    RUN(test_pos_embed);
    RUN(test_pos_embed_crop);
    RUN(test_patchify);
    RUN(test_adaln);
    RUN(test_family_guess);
    RUN(test_oracle);
    RUN(test_half_weights);
    RUN(test_no_pos_embed_and_batch);
    RUN(test_tiny);
    RUN(test_mapped_file);
    RUN(test_errors);
    RUN(test_full_size_config);
    fokus_ctx_free(ctx);
    return check_summary("dit");
}
