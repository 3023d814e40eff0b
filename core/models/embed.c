/* Fixed embeddings and token layouts of the diffusion transformers (models.md 3.3-3.4,
 * 4.3): GLIDE timestep features, the 2-D sin-cos position table and its centre crop,
 * and patchify / unpatchify, which turn the stride-p patch convolution and the final
 * layer's token-to-pixel scatter into plain row layouts for the GEMM. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models_internal.h"

fokus_status fokus_timestep_features(float *out, const float *t, int64_t n, int64_t dim, double max_period,
                                     fokus_error *err)
{
    if (dim < 2 || n < 0)
        return fokus_fail(err, FOKUS_EINVAL, "timestep features: need dim >= 2 and n >= 0, got dim %lld, n %lld",
                          (long long)dim, (long long)n);
    if (!(max_period > 0)) max_period = 10000;
    const int64_t half = dim / 2;
    /* PyTorch evaluates exp(-log(max_period) * arange(half, f32) / half) in float32, one
     * rounding per operation: the scalar is rounded to f32 first, then multiplied, then
     * divided. Doing the same keeps a_i = t * f_i on the references' float grid, where
     * a one-ulp difference in f_i moves cos(a_i) by ~6e-5 at t = 999. ISO C mode keeps
     * the compiler from contracting these into an FMA. */
    const float neg_log = (float)-log(max_period);
    for (int64_t b = 0; b < n; b++) {
        float *o = out + b * dim;
        const float tb = t[b];
        for (int64_t i = 0; i < half; i++) {
            float e = neg_log * (float)i;
            e = e / (float)half;
            const float f = expf(e);
            const float a = tb * f;
            /* cos/sin in double, rounded once: within half an ulp of the true value */
            o[i] = (float)cos((double)a);
            o[half + i] = (float)sin((double)a);
        }
        if (dim % 2) o[dim - 1] = 0.0f;
    }
    return FOKUS_OK;
}

fokus_status fokus_pos_embed_2d(float *out, int64_t dim, int64_t gh, int64_t gw, fokus_error *err)
{
    if (dim < 4 || dim % 4 != 0 || gh < 1 || gw < 1)
        return fokus_fail(err, FOKUS_EINVAL,
                          "pos_embed: need a width that is a positive multiple of 4 and a grid of at least 1x1, "
                          "got width %lld, grid %lldx%lld", (long long)dim, (long long)gh, (long long)gw);
    const int64_t q = dim / 4;
    double *omega = fokus_alloc((size_t)q * sizeof *omega);
    if (!omega) return fokus_fail(err, FOKUS_ENOMEM, "pos_embed: out of memory");
    for (int64_t k = 0; k < q; k++) omega[k] = 1.0 / pow(10000.0, (double)k / (double)q);
    for (int64_t r = 0; r < gh; r++) {
        for (int64_t c = 0; c < gw; c++) {
            float *o = out + (r * gw + c) * dim;
            for (int64_t k = 0; k < q; k++) {
                const double ac = (double)c * omega[k], ar = (double)r * omega[k];
                o[k] = (float)sin(ac);
                o[q + k] = (float)cos(ac);
                o[2 * q + k] = (float)sin(ar);
                o[3 * q + k] = (float)cos(ar);
            }
        }
    }
    fokus_free(omega);
    return FOKUS_OK;
}

fokus_status fokus_pos_embed_crop(float *out, const fokus_tensor *table, int64_t gh, int64_t gw, fokus_error *err)
{
    char sb[128];
    fokus_tensor rows;
    int64_t nrows = 0, d = 0;
    if (table->ndim == 3 && table->shape[0] == 1) {
        nrows = table->shape[1];
        d = table->shape[2];
        fokus_status st = fokus_tensor_select(&rows, table, 0, 0, err);
        if (st != FOKUS_OK) return st;
    } else if (table->ndim == 2) {
        nrows = table->shape[0];
        d = table->shape[1];
        rows = *table;
        fokus_tensor_retain(&rows);
    } else {
        return fokus_fail(err, FOKUS_EINVAL, "pos_embed: expected [1, M*M, D] or [M*M, D], got %s",
                          fokus_shape_str(table, sb, sizeof sb));
    }
    int64_t m = (int64_t)llround(sqrt((double)nrows));
    fokus_status st = FOKUS_OK;
    if (m * m != nrows || d < 1)
        st = fokus_fail(err, FOKUS_EINVAL, "pos_embed: %s is not a square grid of positions",
                        fokus_shape_str(table, sb, sizeof sb));
    else if (gh < 1 || gw < 1 || gh > m || gw > m)
        st = fokus_fail(err, FOKUS_EINVAL, "pos_embed covers %lldx%lld patches, the latent needs %lldx%lld",
                        (long long)m, (long long)m, (long long)gh, (long long)gw);
    const int64_t top = (m - gh) / 2, left = (m - gw) / 2;
    for (int64_t r = 0; r < gh && st == FOKUS_OK; r++)
        for (int64_t c = 0; c < gw && st == FOKUS_OK; c++)
            st = fokus_rows_f32(out + (r * gw + c) * d, &rows, (top + r) * m + left + c, err);
    fokus_tensor_release(&rows);
    return st;
}

void fokus_patchify(float *patches, const float *x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t p)
{
    const int64_t gh = h / p, gw = w / p, cols = c * p * p;
    for (int64_t b = 0; b < n; b++)
        for (int64_t r = 0; r < gh; r++)
            for (int64_t col = 0; col < gw; col++) {
                float *o = patches + ((b * gh + r) * gw + col) * cols;
                for (int64_t ch = 0; ch < c; ch++)
                    for (int64_t py = 0; py < p; py++) {
                        const float *src = x + ((b * c + ch) * h + r * p + py) * w + col * p;
                        memcpy(o + (ch * p + py) * p, src, (size_t)p * sizeof(float));
                    }
            }
}

void fokus_unpatchify(float *out, const float *tokens, int64_t ldt, int64_t n, int64_t c, int64_t h, int64_t w,
                      int64_t p)
{
    const int64_t gh = h / p, gw = w / p;
    for (int64_t b = 0; b < n; b++)
        for (int64_t r = 0; r < gh; r++)
            for (int64_t col = 0; col < gw; col++) {
                const float *tok = tokens + ((b * gh + r) * gw + col) * ldt;
                for (int64_t py = 0; py < p; py++)
                    for (int64_t px = 0; px < p; px++)
                        for (int64_t ch = 0; ch < c; ch++)
                            out[((b * c + ch) * h + r * p + py) * w + col * p + px] = tok[(py * p + px) * c + ch];
            }
}

int64_t fokus_first_nonfinite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

/* A new [d0, d1(, d2)] f32 tensor holding a copy of src (for the trace). */
fokus_status fokus_trace_keep(fokus_tensor *dst, const float *src, int ndim, int64_t d0, int64_t d1, int64_t d2,
                             fokus_error *err)
{
    int64_t shape[3] = {d0, d1, d2};
    fokus_status st = fokus_tensor_empty(dst, FOKUS_F32, ndim, shape, err);
    if (st == FOKUS_OK) memcpy(dst->data, src, (size_t)fokus_tensor_numel(dst) * sizeof(float));
    return st;
}

/* "[1, 2, 3, 4]": the 1-based position of flat index i in t's shape */
const char *fokus_index_where(char *buf, size_t size, const fokus_tensor *t, int64_t i)
{
    int64_t idx[FOKUS_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = t->shape[d] ? i % t->shape[d] : 0;
        i = t->shape[d] ? i / t->shape[d] : 0;
    }
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? ", " : "", (long long)idx[d] + 1);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}
