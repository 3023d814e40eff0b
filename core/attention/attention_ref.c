/*
 * fokus_attend_ref: the double-precision reference of fokus_attend, written to be
 * obviously right rather than fast. Same argument checks (fokus_attn_parse), then per
 * query row: all logits in double, max, exp, sum, normalise. Tests compare the SIMD
 * and scalar kernels against it. A visible NaN or +inf logit gives a NaN row (out,
 * lse, probs), as PyTorch's softmax; a masked one (causal, mask, -inf bias, mask_mod)
 * is replaced by -inf first and does not count.
 */
#include <math.h>
#include <stdlib.h>

#include "attention_internal.h"

static double at(const fokus_attn_src *s, int64_t b, int64_t h, int64_t i, int64_t j)
{
    int64_t off = b * s->s[0] + h * s->s[1] + i * s->s[2] + j * s->s[3];
    return (double)fokus_attn_loadf(s->data, s->dtype, off);
}

fokus_status fokus_attend_ref(const fokus_tensor *q, const fokus_tensor *k, const fokus_tensor *v,
                              const fokus_attend_opts *opts, fokus_tensor *out, fokus_tensor *lse,
                              fokus_tensor *probs, fokus_error *err)
{
    fokus_attn_args a;
    fokus_status st = fokus_attn_parse(q, k, v, opts, out, lse, probs, &a, err);
    if (st) return st;
    fokus_tensor t_out = {0}, t_lse = {0}, t_probs = {0};
    if ((st = fokus_attn_alloc_outputs(NULL, &a, &t_out, &t_lse, &t_probs, err))) return st;
    double *logit = malloc(sizeof(double) * (size_t)(a.Nk > 0 ? a.Nk : 1));
    double *acc = malloc(sizeof(double) * (size_t)a.dv);
    if (!logit || !acc) {
        free(logit);
        free(acc);
        fokus_tensor_release(&t_out);
        fokus_tensor_release(&t_lse);
        fokus_tensor_release(&t_probs);
        return fokus_fail(err, FOKUS_ENOMEM, "attend_ref: out of memory");
    }
    float *po = t_out.data, *pl = t_lse.data, *pp = t_probs.data;
    const int64_t group = a.H / a.Hkv;
    for (int64_t b = 0; b < a.B; b++)
        for (int64_t h = 0; h < a.H; h++)
            for (int64_t i = 0; i < a.Nq; i++) {
                const int64_t g = h / group, row = (b * a.H + h) * a.Nq + i;
                double m = -INFINITY;
                bool nan_row = false;
                for (int64_t j = 0; j < a.Nk; j++) {
                    double s = 0;
                    for (int64_t c = 0; c < a.d; c++) s += at(&a.q, b, h, i, c) * at(&a.k, b, g, j, c);
                    s *= a.scale;
                    if (a.has_bias) { /* a -inf bias masks: it replaces a NaN score too */
                        const double e = at(&a.bias, b, h, i, j);
                        s = e == -INFINITY ? -INFINITY : s + e;
                    }
                    if (a.has_mask) {
                        const fokus_attn_src *mk = &a.mask;
                        if (!mk->data[b * mk->s[0] + h * mk->s[1] + i * mk->s[2] + j * mk->s[3]]) s = -INFINITY;
                    }
                    if (a.causal && j > i + a.causal_off) s = -INFINITY;
                    /* programs: after scaling and bias; what is masked stays masked */
                    if (a.score_mod && s != -INFINITY) s = fokus_mod_eval_ref(a.score_mod, s, b + 1, h + 1, i + 1, j + 1);
                    if (a.mask_mod && fokus_mod_eval_ref(a.mask_mod, 0, b + 1, h + 1, i + 1, j + 1) == 0) s = -INFINITY;
                    logit[j] = s;
                    /* a visible NaN, or +inf (exp(inf - inf) below), makes the row NaN,
                     * as softmax does in PyTorch; masked scores were replaced by -inf */
                    if (!(s < INFINITY) && s != -INFINITY) nan_row = true;
                    if (s > m) m = s;
                }
                if (nan_row) {
                    for (int64_t c = 0; c < a.dv; c++) po[row * a.dv + c] = NAN;
                    if (a.want_lse) pl[row] = NAN;
                    if (a.want_probs)
                        for (int64_t j = 0; j < a.Nk; j++) pp[row * a.Nk + j] = NAN;
                    continue;
                }
                double sum = 0;
                for (int64_t c = 0; c < a.dv; c++) acc[c] = 0;
                if (m > -INFINITY) {
                    for (int64_t j = 0; j < a.Nk; j++) {
                        if (logit[j] == -INFINITY) { /* masked: v of that key is not read */
                            logit[j] = 0;
                            continue;
                        }
                        double p = exp(logit[j] - m);
                        logit[j] = p;
                        sum += p;
                        for (int64_t c = 0; c < a.dv; c++) acc[c] += p * at(&a.v, b, g, j, c);
                    }
                }
                for (int64_t c = 0; c < a.dv; c++) po[row * a.dv + c] = sum > 0 ? (float)(acc[c] / sum) : 0.0f;
                if (a.want_lse) pl[row] = sum > 0 ? (float)(m + log(sum)) : -INFINITY;
                if (a.want_probs)
                    for (int64_t j = 0; j < a.Nk; j++)
                        pp[row * a.Nk + j] = sum > 0 ? (float)(logit[j] / sum) : 0.0f;
            }
    free(logit);
    free(acc);
    *out = t_out;
    if (a.want_lse) *lse = t_lse;
    if (a.want_probs) *probs = t_probs;
    return FOKUS_OK;
}
