/* Samplers against the oracle (schedules, flow Euler + CFG + noising, ᾱ, DDIM, ε-Euler),
 * DPM++ 2M against a double-precision transcription of its equations, its exactness
 * when the denoised estimate is constant and its convergence order on Gaussian toy
 * data (closed-form ODE solutions, flow and ε parameterisations), the vector kernel
 * against double on ragged sizes and in place, latent previews, cat, and bad input. */
#include <jansson.h>

#include "check.h"

#include "fokus.h"

static fokus_ctx *ctx;
static fokus_error err;

static fokus_tensor make(int ndim, const int64_t *shape)
{
    fokus_tensor t;
    memset(&t, 0, sizeof t);
    CHECK_MSG(fokus_tensor_new(&t, FOKUS_F32, ndim, shape, &err) == FOKUS_OK, "%s", err.msg);
    return t;
}

static fokus_tensor like(const fokus_tensor *x)
{
    return make(x->ndim, x->shape);
}

static fokus_tensor randn1(int64_t n, uint64_t seed)
{
    fokus_tensor t = make(1, &n);
    fokus_tensor_randn(&t, seed, &err);
    return t;
}

/* max|got - ref| <= tol * max(max|ref|, 1e-6) */
static void check_close(const char *what, const fokus_tensor *got, const fokus_tensor *ref, double tol)
{
    if (!ref) {
        CHECK_MSG(0, "%s: reference missing", what);
        return;
    }
    if (fokus_tensor_numel(got) != fokus_tensor_numel(ref)) {
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
    double scale = mr > 1e-6 ? mr : 1e-6;
    CHECK_MSG(md <= tol * scale, "%s: max diff %.3g > %.3g (rel %.3g)", what, md, tol * scale, md / scale);
    printf("#   %-28s rel err %.2e (tol %.0e)\n", what, md / scale, tol);
}

static void check_close_d(const char *what, const double *got, const fokus_tensor *ref, double tol)
{
    int64_t n = fokus_tensor_numel(ref);
    fokus_tensor g = make(1, &n);
    for (int64_t i = 0; i < n; i++) ((float *)g.data)[i] = (float)got[i];
    check_close(what, &g, ref, tol);
    fokus_tensor_release(&g);
}

static double json_tol(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    double tol = json_number_value(json_object_get(json_object_get(j, "tolerance"), "max_abs_err_over_max_abs_ref"));
    json_decref(j);
    return tol > 0 ? tol : 1e-5;
}

/* ---------------------------------------------------------------- oracle */

static void test_oracle(void)
{
    const char *shared = check_shared_dir();
    if (!shared) {
        check_skip("../shared not found (set FOKUS_SHARED): sampler oracle not checked");
        return;
    }
    char path[4200], jpath[4200];
    snprintf(path, sizeof path, "%s/oracles/models/samplers.safetensors", shared);
    snprintf(jpath, sizeof jpath, "%s/oracles/models/samplers.json", shared);
    double tol = json_tol(jpath);
    CHECK(tol <= 1e-5);
    fokus_st_file f;
    if (fokus_st_load(path, &f, &err) != FOKUS_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
#define IN(name) fokus_st_find(&f, "inputs." name)
#define OUT(name) fokus_st_find(&f, "outputs." name)
#define SCALAR(name) fokus_tensor_get(IN(name), 0)

    /* --- rectified flow: shift, table, both schedules, timesteps */
    double shift = SCALAR("rf.shift");
    CHECK_NEAR(shift, 3.0, 0);
    const fokus_tensor *tg = IN("rf.t_grid");
    double shifted[64];
    for (int64_t i = 0; i < fokus_tensor_numel(tg); i++) shifted[i] = fokus_flow_shift(fokus_tensor_get(tg, i), shift);
    check_close_d("rf.shifted", shifted, OUT("rf.shifted"), tol);
    double table[1000];
    fokus_flow_sigma_table(table, shift);
    check_close_d("rf.sigma_table", table, OUT("rf.sigma_table"), tol);

    int64_t n29 = 29, n28 = 28;
    fokus_tensor sig = make(1, &n29), ts = make(1, &n28);
    CHECK(fokus_flow_sigmas(sig.data, 28, shift, FOKUS_SCHEDULE_SD3, &err) == FOKUS_OK);
    check_close("rf.sigmas_sd3_ref_28", &sig, OUT("rf.sigmas_sd3_ref_28"), tol);
    for (int i = 0; i < 28; i++) ((float *)ts.data)[i] = 1000.0f * ((float *)sig.data)[i];
    check_close("rf.timesteps_sd3_ref_28", &ts, OUT("rf.timesteps_sd3_ref_28"), tol);
    CHECK_NEAR(((float *)sig.data)[22], SCALAR("rf.sigma"), 0);
    CHECK_NEAR(((float *)sig.data)[23], SCALAR("rf.sigma_next"), 0);
    CHECK(fokus_flow_sigmas(sig.data, 28, shift, FOKUS_SCHEDULE_SIMPLE, &err) == FOKUS_OK);
    check_close("rf.sigmas_comfy_simple_28", &sig, OUT("rf.sigmas_comfy_simple_28"), tol);
    /* the two schedules differ most at the low end (models.md: 0.0089 vs 0.1008) */
    CHECK_NEAR(((float *)sig.data)[27], 0.1008, 1e-4);

    /* --- flow steps */
    const fokus_tensor *x = IN("rf.x"), *vc = IN("rf.v_cond"), *vu = IN("rf.v_uncond");
    double s = SCALAR("rf.sigma"), sn = SCALAR("rf.sigma_next"), g = SCALAR("rf.cfg_scale");
    fokus_tensor o = like(x), v = like(x);
    CHECK(fokus_denoised(ctx, x, vc, s, &o, &err) == FOKUS_OK);
    check_close("rf.denoised", &o, OUT("rf.denoised"), tol);
    CHECK(fokus_euler_flow(ctx, x, vc, s, sn, &o, &err) == FOKUS_OK);
    check_close("rf.x_next", &o, OUT("rf.x_next"), tol);
    CHECK(fokus_cfg(ctx, vc, vu, g, &v, &err) == FOKUS_OK);
    check_close("rf.v_cfg", &v, OUT("rf.v_cfg"), tol);
    CHECK(fokus_euler_flow(ctx, x, &v, s, sn, &o, &err) == FOKUS_OK);
    check_close("rf.x_next_cfg", &o, OUT("rf.x_next_cfg"), tol);
    CHECK(fokus_axpby(ctx, s, IN("rf.noise"), 1.0 - s, IN("rf.latent"), &o, &err) == FOKUS_OK);
    check_close("rf.noised", &o, OUT("rf.noised"), tol);
    /* in place: out is x itself */
    fokus_tensor xc;
    fokus_tensor_clone(&xc, x, &err);
    CHECK(fokus_euler_flow(ctx, &xc, vc, s, sn, &xc, &err) == FOKUS_OK);
    check_close("rf.x_next in place", &xc, OUT("rf.x_next"), tol);
    fokus_tensor_release(&xc);
    /* f16 inputs are read as f32 (the inputs rounded to f16: about 1e-3 relative) */
    fokus_tensor x16, v16;
    fokus_tensor_to(&x16, x, FOKUS_F16, &err);
    fokus_tensor_to(&v16, vc, FOKUS_BF16, &err);
    CHECK(fokus_euler_flow(ctx, &x16, &v16, s, sn, &o, &err) == FOKUS_OK);
    check_close("rf.x_next f16/bf16 inputs", &o, OUT("rf.x_next"), 1e-2);
    fokus_tensor_release(&x16);
    fokus_tensor_release(&v16);

    /* --- ᾱ, DDIM */
    double ac[1000];
    fokus_alphas_cumprod(ac, FOKUS_BETAS_SCALED_LINEAR);
    check_close_d("ddim.alphas_cumprod", ac, OUT("ddim.alphas_cumprod"), tol);
    int32_t steps20[20];
    CHECK(fokus_ddim_timesteps(steps20, 20, &err) == FOKUS_OK);
    const fokus_tensor *rt = OUT("ddim.timesteps_20");
    int same = 1;
    for (int i = 0; i < 20; i++) same &= steps20[i] == fokus_tensor_get_i64(rt, i);
    CHECK_MSG(same, "ddim.timesteps_20 differ (first %d vs %lld)", steps20[0], (long long)fokus_tensor_get_i64(rt, 0));
    const fokus_tensor *dx = IN("ddim.x"), *de = IN("ddim.eps"), *dn = IN("ddim.noise");
    int t = (int)fokus_tensor_get_i64(IN("ddim.t"), 0), tp = (int)fokus_tensor_get_i64(IN("ddim.t"), 1);
    CHECK_EQ_INT(t, 651);
    CHECK_EQ_INT(tp, 601);
    fokus_tensor x0 = like(dx);
    fokus_ddim_opts dopt = {0, NULL, FOKUS_BETAS_SCALED_LINEAR};
    CHECK_MSG(fokus_ddim(ctx, dx, de, t, tp, &dopt, &o, &x0, &err) == FOKUS_OK, "%s", err.msg);
    check_close("ddim.pred_x0", &x0, OUT("ddim.pred_x0"), tol);
    check_close("ddim.x_prev_eta0", &o, OUT("ddim.x_prev_eta0"), tol);
    dopt.eta = SCALAR("ddim.eta");
    dopt.noise = dn;
    CHECK_MSG(fokus_ddim(ctx, dx, de, t, tp, &dopt, &o, NULL, &err) == FOKUS_OK, "%s", err.msg);
    check_close("ddim.x_prev_eta05", &o, OUT("ddim.x_prev_eta05"), tol);
    dopt.eta = 0;
    CHECK_MSG(fokus_ddim(ctx, dx, de, 1, 1 - 50, &dopt, &o, NULL, &err) == FOKUS_OK, "%s", err.msg);
    check_close("ddim.x_prev_last", &o, OUT("ddim.x_prev_last"), tol);

    /* the σ-space DDIM is the same step: x_σ = x/√ᾱ_t, result·√ᾱ_t' */
    double sa = sqrt(ac[t]), sap = sqrt(ac[tp]);
    for (int k = 0; k < 2; k++) {
        double eta = k ? SCALAR("ddim.eta") : 0;
        fokus_tensor xs = like(dx), r = like(dx);
        fokus_axpby(ctx, 1.0 / sa, dx, 0, NULL, &xs, &err);
        CHECK_MSG(fokus_ddim_sigma(ctx, &xs, de, sqrt((1 - ac[t]) / ac[t]), sqrt((1 - ac[tp]) / ac[tp]), eta, dn, &r,
                                   &err) == FOKUS_OK, "%s", err.msg);
        fokus_axpby(ctx, sap, &r, 0, NULL, &r, &err);
        check_close(k ? "ddim_sigma eta 0.5" : "ddim_sigma eta 0", &r,
                    k ? OUT("ddim.x_prev_eta05") : OUT("ddim.x_prev_eta0"), tol);
        fokus_tensor_release(&xs);
        fokus_tensor_release(&r);
    }

    /* --- ε-Euler in σ space */
    double et[1000];
    fokus_eps_sigma_table(et, FOKUS_BETAS_SCALED_LINEAR);
    check_close_d("euler_eps.sigma_table", et, OUT("euler_eps.sigma_table"), tol);
    double es = SCALAR("euler_eps.sigma"), esn = SCALAR("euler_eps.sigma_next");
    CHECK_NEAR(es, et[651], 1e-6 * es);
    CHECK_NEAR(fokus_eps_sigma_to_t(es, FOKUS_BETAS_SCALED_LINEAR), 651, 1e-3);
    CHECK_NEAR(fokus_eps_sigma_to_t(esn, FOKUS_BETAS_SCALED_LINEAR), 601, 1e-3);
    double cin = 1.0 / sqrt(es * es + 1);
    check_close_d("euler_eps.c_in", &cin, OUT("euler_eps.c_in"), tol);
    const fokus_tensor *ex = IN("euler_eps.x"), *ee = IN("euler_eps.eps");
    CHECK(fokus_denoised(ctx, ex, ee, es, &o, &err) == FOKUS_OK);
    check_close("euler_eps.denoised", &o, OUT("euler_eps.denoised"), tol);
    CHECK(fokus_euler(ctx, ex, ee, es, esn, &o, &err) == FOKUS_OK);
    check_close("euler_eps.x_next", &o, OUT("euler_eps.x_next"), tol);
    /* DDIM with η = 0 in σ space and DPM++'s first-order step are this Euler step */
    CHECK(fokus_ddim_sigma(ctx, ex, ee, es, esn, 0, NULL, &o, &err) == FOKUS_OK);
    check_close("ddim_sigma eta 0 = euler", &o, OUT("euler_eps.x_next"), tol);
    fokus_tensor den = like(ex);
    fokus_denoised(ctx, ex, ee, es, &den, &err);
    CHECK(fokus_dpmpp_2m(ctx, ex, &den, es, esn, NULL, 0, &o, &err) == FOKUS_OK);
    check_close("dpmpp_2m 1st order = euler", &o, OUT("euler_eps.x_next"), tol);
    fokus_tensor_release(&den);

    fokus_tensor_release(&o);
    fokus_tensor_release(&v);
    fokus_tensor_release(&x0);
    fokus_tensor_release(&sig);
    fokus_tensor_release(&ts);
    fokus_st_free(&f);
#undef IN
#undef OUT
#undef SCALAR
}

/* ---------------------------------------------------------------- schedules */

static void test_schedules(void)
{
    float s[30];
    for (int k = 0; k < 2; k++) {
        fokus_sigma_schedule sch = k ? FOKUS_SCHEDULE_SIMPLE : FOKUS_SCHEDULE_SD3;
        CHECK(fokus_flow_sigmas(s, 1, 3.0, sch, &err) == FOKUS_OK);
        CHECK_NEAR(s[0], 1.0, 0);
        CHECK_NEAR(s[1], 0.0, 0);
        CHECK(fokus_flow_sigmas(s, 28, 1.0, sch, &err) == FOKUS_OK);
        int dec = 1;
        for (int i = 0; i < 28; i++) dec &= s[i] > s[i + 1];
        CHECK(dec);
        CHECK(fokus_eps_sigmas(s, 20, FOKUS_BETAS_SCALED_LINEAR, sch, &err) == FOKUS_OK);
        CHECK_NEAR(s[0], 14.6146, 1e-3);  /* SD 1.x σ_max */
        CHECK_NEAR(s[20], 0.0, 0);
    }
    /* shift 1 is the identity: the sd3 schedule is linspace(1, 0.001) */
    CHECK(fokus_flow_sigmas(s, 10, 1.0, FOKUS_SCHEDULE_SD3, &err) == FOKUS_OK);
    CHECK_NEAR(s[9], 0.001, 1e-7);
    CHECK_NEAR(s[1], 1.0 - 0.999 / 9, 1e-7);
    /* σ ↔ t on and between table entries, both β schedules */
    for (int b = 0; b < 2; b++) {
        fokus_betas betas = b ? FOKUS_BETAS_LINEAR : FOKUS_BETAS_SCALED_LINEAR;
        double tab[1000];
        fokus_eps_sigma_table(tab, betas);
        double worst = 0;
        for (int t = 0; t < 1000; t += 37) {
            double d = fabs(fokus_eps_sigma_to_t(tab[t], betas) - t);
            if (d > worst) worst = d;
            double tt = t + 0.25;
            d = fabs(fokus_eps_sigma_to_t(fokus_eps_t_to_sigma(tt, betas), betas) - tt);
            if (t < 999 && d > worst) worst = d;
        }
        CHECK_MSG(worst < 1e-9, "sigma_to_t round trip off by %g", worst);
        CHECK_NEAR(fokus_eps_sigma_to_t(0, betas), 0, 0);
        CHECK_NEAR(fokus_eps_sigma_to_t(1e9, betas), 999, 0);
    }
    /* DiT's linear betas: ᾱ_999 ≈ 4.04e-5 (σ_max ≈ 157) */
    double ac[1000];
    fokus_alphas_cumprod(ac, FOKUS_BETAS_LINEAR);
    CHECK_NEAR(ac[0], 1 - 1e-4, 1e-15);
    CHECK_NEAR(ac[999] * 1e5, 4.036, 0.01);
    int32_t ts[1000];
    CHECK(fokus_ddim_timesteps(ts, 1000, &err) == FOKUS_OK);
    CHECK_EQ_INT(ts[0], 1000);
    CHECK_EQ_INT(ts[999], 1);
    CHECK(fokus_ddim_timesteps(ts, 0, &err) == FOKUS_EINVAL);
    CHECK(fokus_flow_sigmas(s, 0, 3.0, FOKUS_SCHEDULE_SD3, &err) == FOKUS_EINVAL);
    CHECK(fokus_flow_sigmas(s, 4, -1.0, FOKUS_SCHEDULE_SD3, &err) == FOKUS_EINVAL);
    CHECK(fokus_flow_sigmas(s, 4, NAN, FOKUS_SCHEDULE_SD3, &err) == FOKUS_EINVAL);
    fokus_sigma_schedule sch;
    CHECK(fokus_sigma_schedule_parse("normal", &sch) && sch == FOKUS_SCHEDULE_SD3);
    CHECK(!fokus_sigma_schedule_parse("karras", &sch));
}

/* ---------------------------------------------------------------- kernel */

/* The SIMD body and the scalar tail against double on ragged sizes, threaded sizes,
 * and in place (bit-equal to out of place). */
static void test_kernel_ragged(void)
{
    static const int64_t sizes[] = {1, 7, 15, 16, 17, 31, 33, 100, 1000, 70001, 300007};
    double worst = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t n = sizes[k];
        fokus_tensor x = randn1(n, 10 + k), y = randn1(n, 20 + k), z = randn1(n, 30 + k), o = make(1, &n);
        const float *px = x.data, *py = y.data, *pz = z.data, *po = o.data;
        const double a = 0.7, b = -1.3, c = 0.45;
        /* LIN3 (dpmpp_2m second order), CFG, LIN1 */
        CHECK(fokus_dpmpp_2m(ctx, &x, &y, 0.8, 0.5, &z, 1.0, &o, &err) == FOKUS_OK);
        double h = log(0.8 / 0.5), r = log(1.0 / 0.8) / h, w = -expm1(-h);
        for (int64_t i = 0; i < n; i++) {
            double ref = 0.5 / 0.8 * px[i] + w * ((1 + 1 / (2 * r)) * py[i] - 1 / (2 * r) * pz[i]);
            double d = fabs(po[i] - ref) / (fabs(ref) + 1);
            if (d > worst) worst = d;
        }
        CHECK(fokus_cfg(ctx, &x, &y, 7.5, &o, &err) == FOKUS_OK);
        for (int64_t i = 0; i < n; i++) {
            double ref = py[i] + 7.5 * ((double)px[i] - py[i]);
            double d = fabs(po[i] - ref) / (fabs(ref) + 1);
            if (d > worst) worst = d;
        }
        CHECK(fokus_axpby(ctx, a, &x, b, NULL, &o, &err) == FOKUS_OK);
        for (int64_t i = 0; i < n; i++) {
            double d = fabs(po[i] - a * px[i]) / (fabs(a * px[i]) + 1);
            if (d > worst) worst = d;
        }
        CHECK(fokus_axpby(ctx, a, &x, b, &y, &o, &err) == FOKUS_OK);
        for (int64_t i = 0; i < n; i++) {
            double ref = a * px[i] + b * py[i];
            double d = fabs(po[i] - ref) / (fabs(ref) + 1);
            if (d > worst) worst = d;
        }
        /* in place on every operand position gives the same bits */
        fokus_tensor xi, yi;
        fokus_tensor_clone(&xi, &x, &err);
        fokus_tensor_clone(&yi, &y, &err);
        CHECK(fokus_axpby(ctx, a, &xi, b, &y, &xi, &err) == FOKUS_OK);
        CHECK(fokus_axpby(ctx, a, &x, b, &yi, &yi, &err) == FOKUS_OK);
        CHECK(memcmp(xi.data, o.data, (size_t)n * 4) == 0);
        CHECK(memcmp(yi.data, o.data, (size_t)n * 4) == 0);
        fokus_tensor_release(&xi);
        fokus_tensor_release(&yi);
        (void)c;
        fokus_tensor_release(&x);
        fokus_tensor_release(&y);
        fokus_tensor_release(&z);
        fokus_tensor_release(&o);
    }
    CHECK_MSG(worst < 1e-6, "kernel vs double: %g", worst);
    /* cfg of equal inputs is that input exactly, at any scale */
    int64_t n = 37;
    fokus_tensor u = randn1(n, 5), o = make(1, &n);
    CHECK(fokus_cfg(ctx, &u, &u, 123.0, &o, &err) == FOKUS_OK);
    CHECK(memcmp(u.data, o.data, (size_t)n * 4) == 0);
    fokus_tensor_release(&u);
    fokus_tensor_release(&o);
}

/* ---------------------------------------------------------------- DPM++ 2M */

/* One step in double, transcribed from k-diffusion's sample_dpmpp_2m. */
static double dpm_ref(double x, double d, double old, int have_old, double s, double sn, double sp)
{
    double t = -log(s), tn = -log(sn), h = tn - t;
    if (!have_old || sn == 0) return sn == 0 ? d : (sn / s) * x - expm1(-h) * d;
    double r = (t - -log(sp)) / h;
    double dd = (1 + 1 / (2 * r)) * d - (1 / (2 * r)) * old;
    return (sn / s) * x - expm1(-h) * dd;
}

static void test_dpmpp_reference(void)
{
    int64_t n = 333;
    fokus_tensor x = randn1(n, 1), d = randn1(n, 2), old = randn1(n, 3), o = make(1, &n);
    const float *px = x.data, *pd = d.data, *pold = old.data, *po = o.data;
    float sig[29];
    fokus_flow_sigmas(sig, 28, 3.0, FOKUS_SCHEDULE_SD3, &err);
    struct {
        double s, sn, sp;
        int old;
    } cases[] = {
        {sig[0], sig[1], 0, 0},      /* first step from σ = 1: no history */
        {sig[1], sig[2], sig[0], 1}, /* second order, σ_prev = 1 */
        {sig[22], sig[23], sig[21], 1},
        {sig[27], 0, sig[26], 1},    /* last step: lands on denoised */
        {14.6, 9.7, 0, 0},           /* ε-model sigmas > 1 */
        {9.7, 3.1, 14.6, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK_MSG(fokus_dpmpp_2m(ctx, &x, &d, cases[k].s, cases[k].sn, cases[k].old ? &old : NULL, cases[k].sp, &o,
                                 &err) == FOKUS_OK, "%s", err.msg);
        double md = 0, mr = 0;
        for (int64_t i = 0; i < n; i++) {
            double r = dpm_ref(px[i], pd[i], pold[i], cases[k].old, cases[k].s, cases[k].sn, cases[k].sp);
            if (fabs(r) > mr) mr = fabs(r);
            if (fabs(po[i] - r) > md) md = fabs(po[i] - r);
        }
        CHECK_MSG(md <= 1e-6 * mr, "dpmpp_2m case %zu: rel err %g", k, md / mr);
    }
    /* the last step returns denoised bit for bit */
    CHECK(fokus_dpmpp_2m(ctx, &x, &d, 0.03, 0, &old, 0.05, &o, &err) == FOKUS_OK);
    CHECK(memcmp(o.data, d.data, (size_t)n * 4) == 0);
    fokus_tensor_release(&x);
    fokus_tensor_release(&d);
    fokus_tensor_release(&old);
    fokus_tensor_release(&o);
}

/* A constant denoiser D(x, σ) = x0: the ODE dx/dσ = (x − x0)/σ has the straight path
 * x(σ) = x0 + (σ/σ_0)·(x_start − x0), in both parameterisations (for flow models it is
 * the path (1 − σ)·x0 + σ·ε when σ_0 = 1). 2M (every step second order after the
 * first) must follow it exactly on an uneven schedule, and end on x0. */
static void test_dpmpp_exact_linear(void)
{
    int64_t n = 64;
    fokus_tensor x0 = randn1(n, 7), eps = randn1(n, 8), x = make(1, &n), nx = make(1, &n), old = make(1, &n);
    float sig[29];
    fokus_flow_sigmas(sig, 28, 3.0, FOKUS_SCHEDULE_SD3, &err);
    /* start at σ_0 = 1: x = (1 − 1)·x0 + 1·ε */
    fokus_axpby(ctx, 1.0, &eps, 0, NULL, &x, &err);
    double worst = 0;
    for (int i = 0; i < 28; i++) {
        CHECK(fokus_dpmpp_2m(ctx, &x, &x0, sig[i], sig[i + 1], i ? &old : NULL, i ? sig[i - 1] : 0, &nx, &err) ==
              FOKUS_OK);
        fokus_axpby(ctx, 1.0, &nx, 0, NULL, &x, &err);
        fokus_axpby(ctx, 1.0, &x0, 0, NULL, &old, &err);
        double sn = sig[i + 1];
        for (int64_t k = 0; k < n; k++) {
            double e = ((float *)x0.data)[k], z = ((float *)eps.data)[k];
            double ref = (1 - sn) * e + sn * z;
            double d = fabs(((float *)x.data)[k] - ref);
            if (d > worst) worst = d;
        }
    }
    CHECK_MSG(worst < 2e-6, "constant denoiser: off the straight path by %g", worst);
    CHECK(memcmp(x.data, x0.data, (size_t)n * 4) == 0);
    fokus_tensor_release(&x0);
    fokus_tensor_release(&eps);
    fokus_tensor_release(&x);
    fokus_tensor_release(&nx);
    fokus_tensor_release(&old);
}

/* Gaussian data x0 ~ N(mu, s²), exact posterior mean and exact ODE path:
 *   ε (VE, x = x0 + σ·ε):   D = mu + s²/(s² + σ²)·(x − mu),
 *                           x(σ) = mu + z·√(s² + σ²)
 *   flow (x = (1−σ)x0 + σε): D = mu + (1−σ)s²/((1−σ)²s² + σ²)·(x − (1−σ)mu),
 *                           x(σ) = (1−σ)·mu + z·√((1−σ)²s² + σ²)
 * with z fixed per element. Each sampler runs from σ_hi to σ_lo (> 0, before the
 * final jump to 0) on a log-uniform grid of N steps, through the f32 kernels. */
typedef struct toy {
    int flow;
    double mu, s2;
} toy;

static void toy_denoise(const toy *T, const float *x, float *d, int64_t n, double sigma)
{
    for (int64_t i = 0; i < n; i++) {
        if (T->flow) {
            double a = 1 - sigma;
            d[i] = (float)(T->mu + a * T->s2 / (a * a * T->s2 + sigma * sigma) * (x[i] - a * T->mu));
        } else {
            d[i] = (float)(T->mu + T->s2 / (T->s2 + sigma * sigma) * (x[i] - T->mu));
        }
    }
}

static double toy_exact(const toy *T, double z, double sigma)
{
    if (T->flow) {
        double a = 1 - sigma;
        return a * T->mu + z * sqrt(a * a * T->s2 + sigma * sigma);
    }
    return T->mu + z * sqrt(T->s2 + sigma * sigma);
}

/* Max error at σ_lo after N steps; second_order selects DPM++ 2M, else Euler. */
static double toy_run(const toy *T, int N, double hi, double lo, int second_order)
{
    int64_t n = 16;
    fokus_tensor x = make(1, &n), d = make(1, &n), old = make(1, &n), nx = make(1, &n);
    double z[16];
    for (int i = 0; i < n; i++) {
        z[i] = -1.5 + 0.2 * i;
        ((float *)x.data)[i] = (float)toy_exact(T, z[i], hi);
    }
    double sp = 0;
    for (int i = 0; i < N; i++) {
        double s = hi * pow(lo / hi, (double)i / N), sn = hi * pow(lo / hi, (double)(i + 1) / N);
        toy_denoise(T, x.data, d.data, n, s);
        if (second_order) {
            CHECK(fokus_dpmpp_2m(ctx, &x, &d, s, sn, i ? &old : NULL, sp, &nx, &err) == FOKUS_OK);
            fokus_axpby(ctx, 1.0, &d, 0, NULL, &old, &err);
        } else {
            /* Euler with d = (x − D)/σ: x + (x − D)·(σ' − σ)/σ */
            fokus_axpby(ctx, 1.0 + (sn - s) / s, &x, -(sn - s) / s, &d, &nx, &err);
        }
        fokus_axpby(ctx, 1.0, &nx, 0, NULL, &x, &err);
        sp = s;
    }
    double e = 0;
    for (int i = 0; i < n; i++) {
        double dd = fabs(((float *)x.data)[i] - toy_exact(T, z[i], lo));
        if (dd > e) e = dd;
    }
    fokus_tensor_release(&x);
    fokus_tensor_release(&d);
    fokus_tensor_release(&old);
    fokus_tensor_release(&nx);
    return e;
}

static void test_dpmpp_order(void)
{
    const toy toys[] = {{0, 0.3, 0.25}, {1, 0.3, 0.25}};
    const double range[2][2] = {{10.0, 0.1}, {1.0, 0.05}};
    for (int k = 0; k < 2; k++) {
        const toy *T = &toys[k];
        double hi = range[k][0], lo = range[k][1];
        double e2[4], e1[4];
        for (int j = 0; j < 4; j++) {
            int N = 12 << j; /* 12, 24, 48, 96 (f32 rounding stays ~100x below the error) */
            e2[j] = toy_run(T, N, hi, lo, 1);
            e1[j] = toy_run(T, N, hi, lo, 0);
        }
        for (int j = 0; j < 3; j++) {
            double q2 = e2[j] / e2[j + 1], q1 = e1[j] / e1[j + 1];
            printf("#   %s toy N=%d->%d: dpmpp_2m err %.2e ratio %.2f, euler err %.2e ratio %.2f\n",
                   T->flow ? "flow" : "eps", 12 << j, 24 << j, e2[j], q2, e1[j], q1);
            /* halving h divides a p-th order method's error by 2^p */
            /* the coarsest pair is still pre-asymptotic for 2M */
            if (j > 0)
                CHECK_MSG(q2 > 3.3 && q2 < 4.7, "%s: dpmpp_2m error ratio %.2f is not second order",
                          T->flow ? "flow" : "eps", q2);
            CHECK_MSG(q1 > 1.6 && q1 < 2.6, "%s: euler error ratio %.2f is not first order", T->flow ? "flow" : "eps", q1);
            CHECK(e2[j] < e1[j]);
        }
    }
}

/* ---------------------------------------------------------------- errors */

static void expect_err(fokus_status st, const char *needle)
{
    CHECK_MSG(st == FOKUS_EINVAL && strstr(err.msg, needle), "want EINVAL with '%s', got %s '%s'", needle,
              fokus_status_name(st), st == FOKUS_OK ? "" : err.msg);
}

static void test_errors(void)
{
    int64_t sh[2] = {3, 5}, sh2[2] = {3, 6};
    fokus_tensor x = make(2, sh), v = make(2, sh), w = make(2, sh2), o = make(2, sh), o2 = make(2, sh2);
    expect_err(fokus_euler_flow(ctx, &x, &v, 1.5, 0.5, &o, &err), "euler_flow: sigma must be in [0, 1], got 1.5");
    expect_err(fokus_euler_flow(ctx, &x, &v, 0.5, -0.1, &o, &err), "sigma_next must be in [0, 1]");
    expect_err(fokus_euler_flow(ctx, &x, &v, NAN, 0.5, &o, &err), "sigma must be in [0, 1], got nan");
    expect_err(fokus_euler_flow(ctx, &x, &w, 0.5, 0.4, &o, &err), "euler_flow: v has shape 3x6, x has 3x5");
    expect_err(fokus_euler_flow(ctx, &x, &v, 0.5, 0.4, &o2, &err), "out must be a contiguous f32 tensor of shape 3x5");
    expect_err(fokus_euler_flow(ctx, &x, &v, 0.5, 0.4, NULL, &err), "out is missing");
    expect_err(fokus_euler(ctx, &x, &v, -1, 0.4, &o, &err), "euler: sigma must be a finite number >= 0");
    expect_err(fokus_euler(ctx, &x, &v, INFINITY, 0.4, &o, &err), "euler: sigma must be finite");
    ((float *)v.data)[7] = NAN;
    float keep = ((float *)o.data)[0] = 42;
    expect_err(fokus_euler_flow(ctx, &x, &v, 0.5, 0.4, &o, &err), "euler_flow: v has NaN at element 8 of 15");
    CHECK(((float *)o.data)[0] == keep); /* out untouched on error */
    ((float *)v.data)[7] = INFINITY;
    expect_err(fokus_cfg(ctx, &x, &v, 2.0, &o, &err), "cfg: uncond has inf at element 8");
    ((float *)v.data)[7] = 0;
    expect_err(fokus_cfg(ctx, &x, &v, NAN, &o, &err), "cfg: scale must be a finite number");
    /* partial overlap of out and an input */
    fokus_tensor big = make(1, (int64_t[]){20}), a, b;
    fokus_tensor_narrow(&a, &big, 0, 0, 15, &err);
    fokus_tensor_narrow(&b, &big, 0, 2, 15, &err);
    expect_err(fokus_axpby(ctx, 1, &a, 1, NULL, &b, &err), "out partially overlaps an input");
    fokus_tensor_release(&a);
    fokus_tensor_release(&b);
    fokus_tensor_release(&big);
    fokus_tensor ints;
    fokus_tensor_new(&ints, FOKUS_I32, 2, sh, &err);
    expect_err(fokus_cfg(ctx, &ints, &v, 2, &o, &err), "cfg: cond must be a float tensor, got i32");
    fokus_tensor_release(&ints);
    /* DDIM */
    fokus_ddim_opts d = {0.5, NULL, FOKUS_BETAS_SCALED_LINEAR};
    expect_err(fokus_ddim(ctx, &x, &v, 1000, 950, NULL, &o, NULL, &err), "ddim: t must be in 0..999, got 1000");
    expect_err(fokus_ddim(ctx, &x, &v, 500, 450, &d, &o, NULL, &err), "ddim: eta 0.5 needs noise");
    d.eta = 1.5;
    expect_err(fokus_ddim(ctx, &x, &v, 500, 450, &d, &o, NULL, &err), "ddim: eta must be in [0, 1], got 1.5");
    d.eta = 0.5;
    d.noise = &x;
    expect_err(fokus_ddim(ctx, &x, &v, 500, 600, &d, &o, NULL, &err), "eta > 0 needs t_prev < t");
    d.eta = 0;
    CHECK(fokus_ddim(ctx, &x, &v, 500, 600, &d, &o, NULL, &err) == FOKUS_OK); /* inversion */
    expect_err(fokus_ddim(ctx, &x, &v, 500, 450, &d, &o, &o, &err), "pred_x0 must not overlap");
    expect_err(fokus_ddim_sigma(ctx, &x, &v, 2, 1, 0.5, NULL, &o, &err), "ddim_sigma: eta 0.5 needs noise");
    /* DPM++ 2M */
    expect_err(fokus_dpmpp_2m(ctx, &x, &v, 0, 0, NULL, 0, &o, &err), "dpmpp_2m: sigma must be > 0, got 0");
    expect_err(fokus_dpmpp_2m(ctx, &x, &v, 0.5, 0.5, NULL, 0, &o, &err), "sigma_next must be < sigma");
    expect_err(fokus_dpmpp_2m(ctx, &x, &v, 0.5, 0.4, &v, 0.5, &o, &err), "sigma_prev must be > sigma");
    expect_err(fokus_dpmpp_2m(ctx, &x, &v, 0.5, 0.4, &w, 0.6, &o, &err), "dpmpp_2m: old_denoised has shape 3x6, x has 3x5");
    fokus_tensor_release(&x);
    fokus_tensor_release(&v);
    fokus_tensor_release(&w);
    fokus_tensor_release(&o);
    fokus_tensor_release(&o2);
}

/* ---------------------------------------------------------------- preview, cat */

static void test_preview(void)
{
    fokus_tensor img;
    int64_t s3[4] = {2, 16, 3, 5};
    fokus_tensor z = make(4, s3);
    CHECK(fokus_latent_preview(&z, FOKUS_LATENT_AUTO, 2, &img, &err) == FOKUS_OK);
    CHECK_EQ_INT(img.dtype, FOKUS_U8);
    CHECK_EQ_INT(img.shape[0], 6);
    CHECK_EQ_INT(img.shape[1], 20);
    CHECK_EQ_INT(img.shape[2], 3);
    /* a zero SD3 latent shows the bias: trunc(255·(1 + b)/2) */
    const uint8_t *p = img.data;
    CHECK_EQ_INT(p[0], 158);
    CHECK_EQ_INT(p[1], 154);
    CHECK_EQ_INT(p[2], 152);
    CHECK_EQ_INT(p[(6 * 20 - 1) * 3 + 2], 152);
    fokus_tensor_release(&img);
    /* SD1: channel 0 = 1 at one pixel gives factor row 0; neighbours stay grey (127) */
    int64_t s1[3] = {4, 2, 2};
    fokus_tensor l = make(3, s1);
    ((float *)l.data)[1] = 1.0f; /* c 0, y 0, x 1 */
    CHECK(fokus_latent_preview(&l, FOKUS_LATENT_SD1, 1, &img, &err) == FOKUS_OK);
    p = img.data;
    CHECK_EQ_INT(p[0], 127);
    CHECK_EQ_INT(p[3], 172); /* trunc(255·1.3512/2) */
    CHECK_EQ_INT(p[4], 156);
    CHECK_EQ_INT(p[5], 168);
    fokus_tensor_release(&img);
    /* saturation: large values clamp to 0 and 255 */
    ((float *)l.data)[1] = 100.0f;
    CHECK(fokus_latent_preview(&l, FOKUS_LATENT_AUTO, 1, &img, &err) == FOKUS_OK);
    CHECK_EQ_INT(((uint8_t *)img.data)[3], 255);
    fokus_tensor_release(&img);
    ((float *)l.data)[1] = -100.0f;
    CHECK(fokus_latent_preview(&l, FOKUS_LATENT_AUTO, 1, &img, &err) == FOKUS_OK);
    CHECK_EQ_INT(((uint8_t *)img.data)[3], 0);
    fokus_tensor_release(&img);
    expect_err(fokus_latent_preview(&l, FOKUS_LATENT_SD3, 1, &img, &err), "sd3 latents have 16 channels, got 4");
    expect_err(fokus_latent_preview(&l, FOKUS_LATENT_SD1, 0, &img, &err), "scale must be in 1..64");
    int64_t s5[3] = {5, 2, 2};
    fokus_tensor l5 = make(3, s5);
    expect_err(fokus_latent_preview(&l5, FOKUS_LATENT_AUTO, 1, &img, &err), "no factors for 5 channels");
    expect_err(fokus_latent_preview(&l5, FOKUS_LATENT_AUTO, 1, &img, &err), "latent_preview");
    fokus_tensor_release(&l5);
    fokus_tensor_release(&l);
    fokus_tensor_release(&z);
}

static void test_cat(void)
{
    int64_t sa[3] = {1, 2, 3}, sb[3] = {2, 2, 3};
    fokus_tensor a = make(3, sa), b = make(3, sb), out;
    for (int i = 0; i < 6; i++) ((float *)a.data)[i] = (float)i;
    for (int i = 0; i < 12; i++) ((float *)b.data)[i] = (float)(100 + i);
    const fokus_tensor *ts[] = {&a, &b};
    CHECK(fokus_tensor_cat(&out, ts, 2, 0, &err) == FOKUS_OK);
    CHECK_EQ_INT(out.shape[0], 3);
    CHECK_NEAR(fokus_tensor_get(&out, 5), 5, 0);
    CHECK_NEAR(fokus_tensor_get(&out, 6), 100, 0);
    CHECK_NEAR(fokus_tensor_get(&out, 17), 111, 0);
    fokus_tensor_release(&out);
    /* along the last dim, a transposed view as input */
    fokus_tensor at;
    fokus_tensor_permute(&at, &a, (int[]){0, 2, 1}, &err); /* [1, 3, 2] */
    const fokus_tensor *ts2[] = {&at, &at};
    CHECK(fokus_tensor_cat(&out, ts2, 2, 2, &err) == FOKUS_OK);
    CHECK_EQ_INT(out.shape[2], 4);
    /* out[0, 1, :] = at[0,1,:] ++ at[0,1,:] = a[0,:,1] ++ ... = 1, 4, 1, 4 */
    CHECK_NEAR(fokus_tensor_get(&out, 4), 1, 0);
    CHECK_NEAR(fokus_tensor_get(&out, 5), 4, 0);
    CHECK_NEAR(fokus_tensor_get(&out, 6), 1, 0);
    fokus_tensor_release(&out);
    expect_err(fokus_tensor_cat(&out, ts, 2, 1, &err), "cat: tensor 2 is f32 2x2x3, tensor 1 is f32 1x2x3");
    expect_err(fokus_tensor_cat(&out, ts, 2, 3, &err), "dimension 4 out of range");
    fokus_tensor_release(&at);
    fokus_tensor_release(&a);
    fokus_tensor_release(&b);
}

int main(void)
{
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) return 1;
    RUN(test_oracle);
    RUN(test_schedules);
    RUN(test_kernel_ragged);
    RUN(test_dpmpp_reference);
    RUN(test_dpmpp_exact_linear);
    RUN(test_dpmpp_order);
    RUN(test_errors);
    RUN(test_preview);
    RUN(test_cat);
    fokus_ctx_free(ctx);
    return check_summary("test_sampler");
}
