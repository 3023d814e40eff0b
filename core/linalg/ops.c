/* Row-wise and element-wise operations that the models need around their GEMMs:
 * LayerNorm, RMSNorm, activations, embedding gathers. They are memory-bound and small
 * next to the matrix products, so they are vectorised but kept simple; rows are split
 * over the context's workers only when there are enough of them to pay for a dispatch. */
#include <math.h>
#include <string.h>

#include <simde/x86/avx512.h>

#include "linalg/fokus_linalg.h"
#include "simd_math.h"

/* ---------------------------------------------------------------- LayerNorm */

typedef struct ln_args {
    float *y;
    const float *x;
    int64_t n, ldx, ldy;
    const float *gamma, *beta;
    float eps;
    bool rms;
} ln_args;

static float hsum(simde__m512 v)
{
    float t[16];
    simde_mm512_storeu_ps(t, v);
    float s = 0;
    for (int i = 0; i < 16; i++) s += t[i];
    return s;
}

static void ln_rows(void *argp, int64_t b, int64_t e, int worker)
{
    const ln_args *a = argp;
    const int64_t n = a->n;
    for (int64_t r = b; r < e; r++) {
        const float *x = a->x + r * a->ldx;
        float *y = a->y + r * a->ldy;
        float mean = 0;
        if (!a->rms) {
            simde__m512 s = simde_mm512_setzero_ps();
            int64_t i = 0;
            for (; i + 16 <= n; i += 16) s = simde_mm512_add_ps(s, simde_mm512_loadu_ps(x + i));
            float tail = 0;
            for (; i < n; i++) tail += x[i];
            mean = (hsum(s) + tail) / (float)n;
        }
        /* corrected two-pass: the residuals' sum s1 repairs the rounding of the first
         * mean (var = s2/n - (s1/n)^2), which matters when |mean| >> std */
        simde__m512 vm = simde_mm512_set1_ps(mean), s1 = simde_mm512_setzero_ps(), s2 = simde_mm512_setzero_ps();
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            simde__m512 d = simde_mm512_sub_ps(simde_mm512_loadu_ps(x + i), vm);
            s1 = simde_mm512_add_ps(s1, d);
            s2 = simde_mm512_fmadd_ps(d, d, s2);
        }
        float t1 = 0, t2 = 0;
        for (; i < n; i++) {
            t1 += x[i] - mean;
            t2 += (x[i] - mean) * (x[i] - mean);
        }
        float c = a->rms ? 0.0f : (hsum(s1) + t1) / (float)n;
        float var = (hsum(s2) + t2) / (float)n - c * c;
        mean += c;
        vm = simde_mm512_set1_ps(mean);
        float inv = 1.0f / sqrtf(var + a->eps);
        simde__m512 vinv = simde_mm512_set1_ps(inv);
        for (i = 0; i + 16 <= n; i += 16) {
            simde__m512 v = simde_mm512_mul_ps(simde_mm512_sub_ps(simde_mm512_loadu_ps(x + i), vm), vinv);
            if (a->gamma) v = simde_mm512_mul_ps(v, simde_mm512_loadu_ps(a->gamma + i));
            if (a->beta) v = simde_mm512_add_ps(v, simde_mm512_loadu_ps(a->beta + i));
            simde_mm512_storeu_ps(y + i, v);
        }
        for (; i < n; i++) {
            float v = (x[i] - mean) * inv;
            if (a->gamma) v *= a->gamma[i];
            if (a->beta) v += a->beta[i];
            y[i] = v;
        }
    }
}

static void norm_rows(fokus_ctx *ctx, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows,
                      int64_t n, const float *gamma, const float *beta, float eps, bool rms)
{
    ln_args a = {y, x, n, ldx, ldy, gamma, beta, eps, rms};
    /* one chunk per worker from ~16K elements: a model's 77-token LayerNorm (59K
     * elements) reads rows that both workers' GEMM stores just wrote, so halving it
     * saves more than the dispatch costs (measured ~12 us of ~30 per call in a CLIP
     * layer with 2 threads) */
    const int64_t nt = ctx ? fokus_ctx_threads(ctx) : 1;
    int64_t grain = rows * n < 16384 ? rows : (rows + nt - 1) / nt;
    fokus_parallel(ctx, rows, grain, ln_rows, &a);
}

void fokus_layernorm(fokus_ctx *ctx, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows,
                     int64_t n, const float *gamma, const float *beta, float eps)
{
    norm_rows(ctx, y, ldy, x, ldx, rows, n, gamma, beta, eps, false);
}

void fokus_rmsnorm(fokus_ctx *ctx, float *y, int64_t ldy, const float *x, int64_t ldx, int64_t rows,
                   int64_t n, const float *gamma, float eps)
{
    norm_rows(ctx, y, ldy, x, ldx, rows, n, gamma, NULL, eps, true);
}

/* ---------------------------------------------------------------- activations */

typedef struct act_args {
    float *x;
    fokus_act act;
} act_args;

static void act_range(void *argp, int64_t b, int64_t e, int worker)
{
    const act_args *a = argp;
    float *x = a->x;
    int64_t i = b;
    switch (a->act) {
    case FOKUS_ACT_QUICK_GELU: /* x * sigmoid(1.702 x) */
        for (; i + 16 <= e; i += 16) {
            simde__m512 v = simde_mm512_loadu_ps(x + i);
            simde_mm512_storeu_ps(x + i, simde_mm512_mul_ps(v, fokus_v_sigmoid(simde_mm512_mul_ps(v, simde_mm512_set1_ps(1.702f)))));
        }
        for (; i < e; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
        break;
    case FOKUS_ACT_SILU:
        for (; i + 16 <= e; i += 16) {
            simde__m512 v = simde_mm512_loadu_ps(x + i);
            simde_mm512_storeu_ps(x + i, simde_mm512_mul_ps(v, fokus_v_sigmoid(v)));
        }
        for (; i < e; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    case FOKUS_ACT_GELU: /* 0.5 x (1 + erf(x / sqrt 2)) */
        for (; i + 16 <= e; i += 16) {
            simde__m512 v = simde_mm512_loadu_ps(x + i);
            simde__m512 er = fokus_v_erf(simde_mm512_mul_ps(v, simde_mm512_set1_ps(0.70710678118654752f)));
            simde_mm512_storeu_ps(x + i, simde_mm512_mul_ps(simde_mm512_mul_ps(v, simde_mm512_set1_ps(0.5f)),
                                                            simde_mm512_add_ps(er, simde_mm512_set1_ps(1.0f))));
        }
        for (; i < e; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    case FOKUS_ACT_GELU_TANH: /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        for (; i + 16 <= e; i += 16) {
            simde__m512 v = simde_mm512_loadu_ps(x + i);
            simde__m512 inner = simde_mm512_mul_ps(
                simde_mm512_set1_ps(0.7978845608028654f),
                simde_mm512_fmadd_ps(simde_mm512_mul_ps(simde_mm512_mul_ps(v, v), v), simde_mm512_set1_ps(0.044715f), v));
            simde_mm512_storeu_ps(x + i, simde_mm512_mul_ps(simde_mm512_mul_ps(v, simde_mm512_set1_ps(0.5f)),
                                                            simde_mm512_add_ps(fokus_v_tanh(inner), simde_mm512_set1_ps(1.0f))));
        }
        for (; i < e; i++)
            x[i] = 0.5f * x[i] * (1.0f + tanhf(0.7978845608028654f * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
        break;
    case FOKUS_ACT_NONE: break;
    }
}

void fokus_activate(fokus_ctx *ctx, float *x, int64_t n, fokus_act act)
{
    if (act == FOKUS_ACT_NONE || n <= 0) return;
    act_args a = {x, act};
    fokus_parallel(ctx, n, 65536, act_range, &a);
}

const char *fokus_act_name(fokus_act act)
{
    switch (act) {
    case FOKUS_ACT_NONE: return "none";
    case FOKUS_ACT_QUICK_GELU: return "quick_gelu";
    case FOKUS_ACT_GELU: return "gelu";
    case FOKUS_ACT_GELU_TANH: return "gelu_tanh";
    case FOKUS_ACT_SILU: return "silu";
    }
    return "?";
}

bool fokus_act_parse(const char *name, fokus_act *out)
{
    static const struct {
        const char *name;
        fokus_act act;
    } names[] = {
        {"none", FOKUS_ACT_NONE},           {"quick_gelu", FOKUS_ACT_QUICK_GELU},
        {"gelu", FOKUS_ACT_GELU},           {"gelu_tanh", FOKUS_ACT_GELU_TANH},
        {"gelu_pytorch_tanh", FOKUS_ACT_GELU_TANH}, {"gelu_new", FOKUS_ACT_GELU_TANH},
        {"silu", FOKUS_ACT_SILU},           {"swish", FOKUS_ACT_SILU},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcmp(names[i].name, name) == 0) {
            *out = names[i].act;
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------- rows of a table */

fokus_status fokus_rows_f32(float *dst, const fokus_tensor *table, int64_t row, fokus_error *err)
{
    if (table->ndim != 2 || row < 0 || row >= table->shape[0])
        return fokus_fail(err, FOKUS_EINVAL, "row %lld outside table of %lld rows", (long long)row,
                          (long long)(table->ndim ? table->shape[0] : 0));
    int64_t n = table->shape[1];
    const char *src = (const char *)table->data + row * table->stride[0] * (int64_t)fokus_dtype_size(table->dtype);
    if (table->stride[1] != 1) {
        for (int64_t i = 0; i < n; i++) dst[i] = (float)fokus_tensor_get(table, row * n + i);
        return FOKUS_OK;
    }
    switch (table->dtype) {
    case FOKUS_F32: memcpy(dst, src, (size_t)n * 4); break;
    case FOKUS_F16: fokus_f16_to_f32_n(dst, (const uint16_t *)src, (size_t)n); break;
    case FOKUS_BF16: fokus_bf16_to_f32_n(dst, (const uint16_t *)src, (size_t)n); break;
    default: return fokus_fail(err, FOKUS_EINVAL, "embedding table must be f32, f16 or bf16");
    }
    return FOKUS_OK;
}
