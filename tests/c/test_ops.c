/* Element-wise model operations: the vector exp/sigmoid/erf/tanh against double
 * precision (the bounds stated in simd_math.h), LayerNorm/RMSNorm and every activation
 * against double references on ragged sizes (vector body + scalar tail), embedding rows
 * of every float dtype. */
#include "check.h"

#include "fokus.h"
#include "linalg/simd_math.h"

static fokus_ctx *ctx;

typedef simde__m512 (*vfn)(simde__m512);

/* max error of f over [lo, hi] sampled at `n` points; rel = relative, else absolute */
static double max_err(vfn f, double (*ref)(double), double lo, double hi, int n, bool rel)
{
    double worst = 0;
    float in[16], out[16];
    for (int i = 0; i < n; i += 16) {
        for (int j = 0; j < 16; j++) in[j] = (float)(lo + (hi - lo) * (i + j) / (n - 1));
        simde_mm512_storeu_ps(out, f(simde_mm512_loadu_ps(in)));
        for (int j = 0; j < 16 && i + j < n; j++) {
            double r = ref(in[j]), e = fabs(out[j] - r);
            if (rel) e /= fabs(r) > 1e-300 ? fabs(r) : 1;
            if (!(e <= worst)) worst = e;
        }
    }
    return worst;
}

static double sigmoid_ref(double x) { return 1 / (1 + exp(-x)); }

static void test_vector_math(void)
{
    double e1 = max_err(fokus_v_exp, exp, -20, 20, 400000, true);
    double e2 = max_err(fokus_v_exp, exp, -86, 88, 400000, true);
    double e3 = max_err(fokus_v_sigmoid, sigmoid_ref, -100, 100, 400000, false);
    double e4 = max_err(fokus_v_erf, erf, -8, 8, 400000, false);
    double e5 = max_err(fokus_v_tanh, tanh, -20, 20, 400000, false);
    printf("# exp rel %.2e (|x|<=20), %.2e ([-86, 88]); sigmoid abs %.2e; erf abs %.2e; tanh abs %.2e\n", e1, e2, e3, e4, e5);
    CHECK(e1 < 1.5e-6);
    CHECK(e2 < 6e-6);
    CHECK(e3 < 3e-7);
    CHECK(e4 < 6e-7);
    CHECK(e5 < 5e-7);
    /* saturation and signs */
    float in[16] = {-1000, -88, -30, -1e-3f, 0, 1e-3f, 30, 88, 1000, -0.0f, 5, -5, 2, -2, 0.5f, -0.5f}, out[16];
    simde_mm512_storeu_ps(out, fokus_v_sigmoid(simde_mm512_loadu_ps(in)));
    CHECK(out[0] < 1e-37f && out[8] == 1 && out[4] == 0.5f);
    simde_mm512_storeu_ps(out, fokus_v_tanh(simde_mm512_loadu_ps(in)));
    CHECK(out[0] == -1 && out[8] == 1 && !isnan(out[1]));
    simde_mm512_storeu_ps(out, fokus_v_erf(simde_mm512_loadu_ps(in)));
    CHECK(out[0] == -1 && out[8] == 1 && out[10] > 0.999999f && out[11] < -0.999999f);
}

static double act_ref(fokus_act a, double x)
{
    switch (a) {
    case FOKUS_ACT_QUICK_GELU: return x / (1 + exp(-1.702 * x));
    case FOKUS_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case FOKUS_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case FOKUS_ACT_SILU: return x / (1 + exp(-x));
    default: return x;
    }
}

static void test_activations(void)
{
    const fokus_act acts[] = {FOKUS_ACT_QUICK_GELU, FOKUS_ACT_GELU, FOKUS_ACT_GELU_TANH, FOKUS_ACT_SILU, FOKUS_ACT_NONE};
    const int64_t sizes[] = {1, 15, 16, 17, 77, 1000, 70001};
    fokus_rng r;
    fokus_rng_init(&r, 9);
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int64_t n = sizes[s];
            float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
            fokus_rng_normal_n(&r, x, (size_t)n);
            for (int64_t i = 0; i < n; i++) y[i] = x[i] *= 3;
            fokus_activate(ctx, y, n, acts[a]);
            double worst = 0;
            for (int64_t i = 0; i < n; i++) {
                double e = fabs(y[i] - act_ref(acts[a], x[i])) / (1 + fabs(x[i]));
                if (!(e <= worst)) worst = e;
            }
            CHECK_MSG(worst < 2e-6, "%s n=%lld: error %.3g", fokus_act_name(acts[a]), (long long)n, worst);
            free(x);
            free(y);
        }
        fokus_act back;
        CHECK(fokus_act_parse(fokus_act_name(acts[a]), &back) && back == acts[a]);
    }
    fokus_act g;
    CHECK(fokus_act_parse("gelu_pytorch_tanh", &g) && g == FOKUS_ACT_GELU_TANH);
    CHECK(!fokus_act_parse("relu6", &g));
}

static void test_norms(void)
{
    const int64_t widths[] = {1, 7, 16, 33, 768, 1280};
    fokus_rng r;
    fokus_rng_init(&r, 10);
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        int64_t n = widths[w], rows = 13, ld = n + 3;
        float *x = calloc((size_t)(rows * ld), sizeof *x), *y = calloc((size_t)(rows * ld), sizeof *y);
        float *g = malloc((size_t)n * sizeof *g), *b = malloc((size_t)n * sizeof *b);
        fokus_rng_normal_n(&r, x, (size_t)(rows * ld));
        for (int64_t i = 0; i < rows * ld; i++) x[i] = x[i] * 0.01f + 5; /* large mean, small spread */
        fokus_rng_normal_n(&r, g, (size_t)n);
        fokus_rng_normal_n(&r, b, (size_t)n);
        for (int rms = 0; rms < 2; rms++) {
            if (rms)
                fokus_rmsnorm(ctx, y, ld, x, ld, rows, n, g, 1e-6f);
            else
                fokus_layernorm(ctx, y, ld, x, ld, rows, n, g, b, 1e-5f);
            double worst = 0;
            for (int64_t i = 0; i < rows; i++) {
                const float *xr = x + i * ld;
                double mean = 0, var = 0;
                for (int64_t j = 0; j < n; j++) mean += xr[j];
                mean = rms ? 0 : mean / n;
                for (int64_t j = 0; j < n; j++) var += (xr[j] - mean) * (xr[j] - mean);
                var /= n;
                for (int64_t j = 0; j < n; j++) {
                    double ref = (xr[j] - mean) / sqrt(var + (rms ? 1e-6 : 1e-5)) * g[j] + (rms ? 0 : b[j]);
                    double e = fabs(y[i * ld + j] - ref) / (1 + fabs(ref));
                    if (!(e <= worst)) worst = e;
                }
            }
            CHECK_MSG(worst < 1e-4, "%s n=%lld: error %.3g", rms ? "rmsnorm" : "layernorm", (long long)n, worst);
        }
        /* in place, no affine: mean 0 and variance var / (var + eps), so eps is visible
         * for these small-spread rows */
        double m0 = 0, v0 = 0;
        for (int64_t j = 0; j < n; j++) m0 += x[j];
        m0 /= n;
        for (int64_t j = 0; j < n; j++) v0 += (x[j] - m0) * (x[j] - m0);
        v0 /= n;
        fokus_layernorm(ctx, x, ld, x, ld, rows, n, NULL, NULL, 1e-5f);
        if (n > 16) {
            double m = 0, v = 0;
            for (int64_t j = 0; j < n; j++) m += x[j];
            m /= n;
            for (int64_t j = 0; j < n; j++) v += (x[j] - m) * (x[j] - m);
            CHECK_NEAR(m, 0, 1e-4);
            CHECK_NEAR(v / n, v0 / (v0 + 1e-5), 2e-3);
        }
        free(x), free(y), free(g), free(b);
    }
}

static void test_rows(void)
{
    fokus_error err;
    int64_t shape[2] = {5, 19};
    fokus_tensor t, h, b;
    fokus_tensor_new(&t, FOKUS_F32, 2, shape, &err);
    fokus_tensor_randn(&t, 4, &err);
    fokus_tensor_to(&h, &t, FOKUS_F16, &err);
    fokus_tensor_to(&b, &t, FOKUS_BF16, &err);
    float row[19];
    const fokus_tensor *ts[3] = {&t, &h, &b};
    for (int k = 0; k < 3; k++) {
        CHECK(fokus_rows_f32(row, ts[k], 3, &err) == FOKUS_OK);
        int bad = 0;
        for (int j = 0; j < 19; j++) bad += row[j] != (float)fokus_tensor_get(ts[k], 3 * 19 + j);
        CHECK_EQ_INT(bad, 0);
    }
    CHECK(fokus_rows_f32(row, &t, 5, &err) == FOKUS_EINVAL);
    CHECK(fokus_rows_f32(row, &t, -1, &err) == FOKUS_EINVAL);
    fokus_tensor_release(&t), fokus_tensor_release(&h), fokus_tensor_release(&b);
}

int main(void)
{
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) return 1;
    RUN(test_vector_math);
    RUN(test_activations);
    RUN(test_norms);
    RUN(test_rows);
    fokus_ctx_free(ctx);
    return check_summary("ops");
}
