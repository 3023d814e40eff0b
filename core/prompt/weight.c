/* Prompt weights applied to encoder output, as the front ends do it:
 *  a1111: z *= w per token, then z *= mean(z_before) / mean(z_after), per chunk of 77
 *         (A1111's "Original" emphasis; "a1111_nonorm" skips the mean restore);
 *  comfy: z = (z - z_empty) * w + z_empty for tokens with w != 1, where z_empty is
 *         the encoding of the empty prompt (ComfyUI's encode_token_weights);
 *  none:  z unchanged. */
#include <string.h>

#include "prompt/fokus_prompt.h"

static const char *mode_names[] = {"none", "a1111", "a1111_nonorm", "comfy"};

bool fokus_weight_mode_parse(const char *name, fokus_weight_mode *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, mode_names[i]) == 0) {
            *out = (fokus_weight_mode)i;
            return true;
        }
    }
    return false;
}

fokus_status fokus_weight_tokens(const fokus_tensor *hidden, const double *w, int64_t n, int64_t chunk,
                                 fokus_weight_mode mode, const fokus_tensor *empty, fokus_tensor *out, fokus_error *err)
{
    char a[64], b[64];
    memset(out, 0, sizeof *out);
    if (hidden->ndim < 2 || !fokus_dtype_is_float(hidden->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "weight: hidden must be a float tensor [..., tokens, D], got %s %s",
                          fokus_dtype_name(hidden->dtype), fokus_shape_str(hidden, a, sizeof a));
    const int64_t D = hidden->shape[hidden->ndim - 1];
    const int64_t T = fokus_tensor_numel(hidden) / (D ? D : 1);
    if (T != n)
        return fokus_fail(err, FOKUS_EINVAL, "weight: %lld weights for %lld tokens of hidden %s", (long long)n,
                          (long long)T, fokus_shape_str(hidden, a, sizeof a));
    if (chunk < 1 || T % chunk != 0)
        return fokus_fail(err, FOKUS_EINVAL, "weight: %lld tokens are not whole chunks of %lld", (long long)T,
                          (long long)chunk);
    fokus_status st = fokus_tensor_to(out, hidden, FOKUS_F32, err);
    if (st != FOKUS_OK) return st;
    float *z = out->data;
    if (mode == FOKUS_WEIGHT_NONE) return FOKUS_OK;
    if (mode == FOKUS_WEIGHT_COMFY) {
        if (!empty) {
            fokus_tensor_release(out);
            return fokus_fail(err, FOKUS_EINVAL, "weight: mode 'comfy' needs the empty prompt's encoding (option 'empty')");
        }
        fokus_tensor e;
        if (fokus_tensor_numel(empty) != chunk * D || !fokus_dtype_is_float(empty->dtype)) {
            fokus_tensor_release(out);
            return fokus_fail(err, FOKUS_EINVAL, "weight: empty must be a float tensor of %lld x %lld values, got %s",
                              (long long)chunk, (long long)D, fokus_shape_str(empty, b, sizeof b));
        }
        if ((st = fokus_tensor_f32(&e, empty, err)) != FOKUS_OK) {
            fokus_tensor_release(out);
            return st;
        }
        const float *ze = e.data;
        for (int64_t t = 0; t < T; t++) {
            if (w[t] == 1.0) continue;
            const float *zr = ze + (t % chunk) * D;
            float wt = (float)w[t];
            for (int64_t j = 0; j < D; j++) z[t * D + j] = (z[t * D + j] - zr[j]) * wt + zr[j];
        }
        fokus_tensor_release(&e);
        return FOKUS_OK;
    }
    for (int64_t c0 = 0; c0 < T; c0 += chunk) {
        float *zc = z + c0 * D;
        double before = 0, after = 0;
        for (int64_t i = 0; i < chunk * D; i++) before += zc[i];
        for (int64_t t = 0; t < chunk; t++) {
            float wt = (float)w[c0 + t];
            for (int64_t j = 0; j < D; j++) zc[t * D + j] *= wt;
        }
        if (mode == FOKUS_WEIGHT_A1111_NONORM) continue;
        for (int64_t i = 0; i < chunk * D; i++) after += zc[i];
        /* same as torch: z * (original_mean / new_mean), in float32 */
        float ratio = (float)(before / (double)(chunk * D)) / (float)(after / (double)(chunk * D));
        for (int64_t i = 0; i < chunk * D; i++) zc[i] *= ratio;
    }
    return FOKUS_OK;
}
