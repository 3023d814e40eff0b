/* DiT: the fixed embeddings shared with MMDiT (timestep features, 2-D sin-cos table,
 * centre crop, patchify/unpatchify, adaLN modulation) against the oracles and
 * double-precision references. */
#include <jansson.h>

#include "check.h"

#include "fokus.h"
#include "models/models_internal.h"

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
    fokus_ctx_free(ctx);
    return check_summary("dit");
}
