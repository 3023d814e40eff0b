/* Latent → RGB previews without the VAE: one 3×C linear map per pixel through the
 * published per-channel factors (ComfyUI's "latent2rgb" previews). Contract:
 * fokus_sampler.h. */
#include <string.h>

#include "models/fokus_sampler.h"

/* The factors are the published ones of ComfyUI's comfy/latent_formats.py
 * (classes SD15, SDXL and SD3: latent_rgb_factors, rows = latent channels, columns =
 * R, G, B; latent_rgb_factors_bias): linear estimates of the VAE's decoded colour
 * in [-1, 1] from one latent pixel. */
static const float sd1_factors[4][3] = {
    {0.3512f, 0.2297f, 0.3227f},
    {0.3250f, 0.4974f, 0.2350f},
    {-0.2829f, 0.1762f, 0.2721f},
    {-0.2120f, -0.2616f, -0.7177f},
};

static const float sdxl_factors[4][3] = {
    {0.3651f, 0.4232f, 0.4341f},
    {-0.2533f, -0.0042f, 0.1068f},
    {0.1076f, 0.1111f, -0.0362f},
    {-0.3165f, -0.2492f, -0.2188f},
};
static const float sdxl_bias[3] = {0.1084f, -0.0175f, -0.0011f};

static const float sd3_factors[16][3] = {
    {-0.0922f, -0.0175f, 0.0749f},  {0.0311f, 0.0633f, 0.0954f},   {0.1994f, 0.0927f, 0.0458f},
    {0.0856f, 0.0339f, 0.0902f},    {0.0587f, 0.0272f, -0.0496f},  {-0.0006f, 0.1104f, 0.0309f},
    {0.0978f, 0.0306f, 0.0427f},    {-0.0042f, 0.1038f, 0.1358f},  {-0.0194f, 0.0020f, 0.0669f},
    {-0.0488f, 0.0130f, -0.0268f},  {0.0922f, 0.0988f, 0.0951f},   {-0.0278f, 0.0524f, -0.0542f},
    {0.0332f, 0.0456f, 0.0895f},    {-0.0069f, -0.0030f, -0.0810f}, {-0.0596f, -0.0465f, -0.0293f},
    {-0.1448f, -0.1463f, -0.1189f},
};
static const float sd3_bias[3] = {0.2394f, 0.2135f, 0.1925f};

bool fokus_latent_family_parse(const char *name, fokus_latent_family *out)
{
    static const struct {
        const char *name;
        fokus_latent_family f;
    } names[] = {{"auto", FOKUS_LATENT_AUTO}, {"sd1", FOKUS_LATENT_SD1}, {"sd15", FOKUS_LATENT_SD1},
                 {"sdxl", FOKUS_LATENT_SDXL}, {"sd3", FOKUS_LATENT_SD3}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].f;
            return true;
        }
    return false;
}

/* ComfyUI's preview_to_image: ((v + 1)/2).clamp(0, 1)·255, then a truncating cast. */
static uint8_t to_u8(float v)
{
    float u = (v + 1.0f) * 0.5f;
    if (!(u > 0.0f)) return 0; /* also NaN */
    if (u > 1.0f) u = 1.0f;
    return (uint8_t)(u * 255.0f);
}

fokus_status fokus_latent_preview(const fokus_tensor *latent, fokus_latent_family family, int scale,
                                  fokus_tensor *img, fokus_error *err)
{
    char sb[96];
    if (!latent || (latent->ndim != 3 && latent->ndim != 4))
        return fokus_fail(err, FOKUS_EINVAL, "latent_preview: latent must be [C, H, W] or [N, C, H, W], got %s",
                          latent ? fokus_shape_str(latent, sb, sizeof sb) : "nothing");
    if (!fokus_dtype_is_float(latent->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "latent_preview: latent must be a float tensor, got %s",
                          fokus_dtype_name(latent->dtype));
    if (scale < 1 || scale > 64)
        return fokus_fail(err, FOKUS_EINVAL, "latent_preview: scale must be in 1..64, got %d", scale);
    int off = latent->ndim - 3;
    int64_t N = off ? latent->shape[0] : 1, C = latent->shape[off], H = latent->shape[off + 1],
            W = latent->shape[off + 2];
    if (family == FOKUS_LATENT_AUTO) {
        if (C == 16)
            family = FOKUS_LATENT_SD3;
        else if (C == 4)
            family = FOKUS_LATENT_SD1;
        else
            return fokus_fail(err, FOKUS_EINVAL,
                              "latent_preview: no factors for %lld channels (sd1/sdxl have 4, sd3 16)", (long long)C);
    }
    const float(*F)[3] = sd1_factors;
    const float *bias = NULL;
    int64_t want = 4;
    const char *fname = "sd1";
    if (family == FOKUS_LATENT_SDXL) {
        F = sdxl_factors;
        bias = sdxl_bias;
        fname = "sdxl";
    } else if (family == FOKUS_LATENT_SD3) {
        F = sd3_factors;
        bias = sd3_bias;
        want = 16;
        fname = "sd3";
    }
    if (C != want)
        return fokus_fail(err, FOKUS_EINVAL, "latent_preview: %s latents have %lld channels, got %lld (shape %s)",
                          fname, (long long)want, (long long)C, fokus_shape_str(latent, sb, sizeof sb));
    if (N < 1 || H < 1 || W < 1)
        return fokus_fail(err, FOKUS_EINVAL, "latent_preview: empty latent %s", fokus_shape_str(latent, sb, sizeof sb));
    int64_t oh = H * scale, ow = N * W * scale;
    if (oh > 65536 || ow > 65536)
        return fokus_fail(err, FOKUS_EINVAL, "latent_preview: image %lldx%lld is too large", (long long)oh,
                          (long long)ow);
    fokus_tensor lf;
    fokus_status st = fokus_tensor_f32(&lf, latent, err);
    if (st != FOKUS_OK) return st;
    int64_t shape[3] = {oh, ow, 3};
    st = fokus_tensor_empty(img, FOKUS_U8, 3, shape, err);
    if (st != FOKUS_OK) {
        fokus_tensor_release(&lf);
        return st;
    }
    const float *L = lf.data;
    uint8_t *P = img->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                float rgb[3];
                for (int k = 0; k < 3; k++) rgb[k] = bias ? bias[k] : 0.0f;
                const float *px = L + ((n * C) * H + y) * W + x;
                for (int64_t c = 0; c < C; c++) {
                    float v = px[c * H * W];
                    for (int k = 0; k < 3; k++) rgb[k] += v * F[c][k];
                }
                uint8_t u[3] = {to_u8(rgb[0]), to_u8(rgb[1]), to_u8(rgb[2])};
                for (int dy = 0; dy < scale; dy++) {
                    uint8_t *row = P + ((y * scale + dy) * ow + (n * W + x) * scale) * 3;
                    for (int dx = 0; dx < scale; dx++) memcpy(row + dx * 3, u, 3);
                }
            }
    fokus_tensor_release(&lf);
    return FOKUS_OK;
}
