/* Word maps over a picture, as DAAM draws them (Tang et al. 2022, "What the DAAM"):
 * a coarse attention map over the latent grid is upsampled bilinearly to the
 * picture's size, normalized to 0..1 and laid over the picture in colour. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

/* Bilinear sample of src (h x w, row-major) at output pixel (oy, ox) of an oh x ow
 * grid, with half-pixel centres and edges clamped (PyTorch's interpolate, bilinear,
 * align_corners = false). */
static double bilinear(const double *src, int h, int w, int oy, int ox, int oh, int ow)
{
    double sy = ((double)oy + 0.5) * h / oh - 0.5, sx = ((double)ox + 0.5) * w / ow - 0.5;
    if (sy < 0) sy = 0;
    if (sx < 0) sx = 0;
    int y0 = (int)sy, x0 = (int)sx;
    if (y0 > h - 1) y0 = h - 1;
    if (x0 > w - 1) x0 = w - 1;
    int y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
    double fy = sy - y0, fx = sx - x0;
    double top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
    double bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
    return top * (1 - fy) + bot * fy;
}

fokus_status fokus_overlay(fokus_ctx *ctx, const fokus_tensor *image, const fokus_tensor *map,
                           const fokus_overlay_opts *o, const fokus_tensor *dst, fokus_tensor *out,
                           fokus_error *err)
{
    static const fokus_overlay_opts none = {NULL, NAN, NAN, NAN, NULL, 0, NULL};
    if (!o) o = &none;
    char b[128];
    fokus_status st = image_check(image, "overlay", "image", err);
    if (st != FOKUS_OK) return st;
    if ((map->ndim != 2 && map->ndim != 3) || !fokus_dtype_is_float(map->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "overlay: map: expected a float tensor [h, w] or [S, h, w], got %s %s",
                          fokus_dtype_name(map->dtype), fokus_shape_str(map, b, sizeof b));
    int64_t S = map->ndim == 3 ? map->shape[0] : 1, mh = map->shape[map->ndim - 2], mw = map->shape[map->ndim - 1];
    if (S < 1 || mh < 1 || mw < 1 || mh > 4096 || mw > 4096 || S > 4096)
        return fokus_fail(err, FOKUS_EINVAL, "overlay: map %s: expected 1..4096 per dimension",
                          fokus_shape_str(map, b, sizeof b));
    const fokus_colormap *cm = fokus_colormap_find(o->colormap ? o->colormap : "viridis");
    if (!cm)
        return fokus_fail(err, FOKUS_EINVAL, "overlay: unknown colormap '%s' (expected magma, viridis or gray)",
                          o->colormap);
    double alpha = isnan(o->alpha) ? 0.6 : o->alpha;
    if (!(alpha >= 0 && alpha <= 1)) return fokus_fail(err, FOKUS_EINVAL, "overlay: alpha %g, expected 0..1", alpha);
    if (o->size < 0 || o->size > 4096) return fokus_fail(err, FOKUS_EINVAL, "overlay: size %d, expected 1..4096", o->size);
    int64_t H = image->shape[0], W = image->shape[1];
    if (o->size > 0) { /* the longer side becomes `size` */
        double k = (double)o->size / (double)(H > W ? H : W);
        H = H * k < 1 ? 1 : (int64_t)lround(H * k);
        W = W * k < 1 ? 1 : (int64_t)lround(W * k);
    }
    /* the mean over S (e.g. sampler steps), in double */
    double *m = calloc((size_t)(mh * mw), sizeof *m), *up = malloc((size_t)(H * W) * sizeof *up);
    double *pic = malloc((size_t)(image->shape[0] * image->shape[1]) * 3 * sizeof *pic);
    if (!m || !up || !pic) {
        free(m);
        free(up);
        free(pic);
        return fokus_fail(err, FOKUS_ENOMEM, "overlay: out of memory");
    }
    for (int64_t s = 0; s < S; s++)
        for (int64_t i = 0; i < mh * mw; i++) {
            double v = fokus_tensor_get(map, s * mh * mw + i);
            m[i] += (isfinite(v) ? v : 0) / (double)S;
        }
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++) {
            double v = bilinear(m, (int)mh, (int)mw, (int)y, (int)x, (int)H, (int)W);
            up[y * W + x] = v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (!isnan(o->vmin)) lo = o->vmin;
    if (!isnan(o->vmax)) hi = o->vmax;
    double span = hi > lo ? hi - lo : 1;
    /* the picture, resampled the same way when `size` asks for another size */
    int64_t ih = image->shape[0], iw = image->shape[1];
    for (int64_t y = 0; y < ih; y++)
        for (int64_t x = 0; x < iw; x++) {
            uint8_t rgb[3];
            image_rgb(image, y, x, rgb);
            for (int k = 0; k < 3; k++) pic[(size_t)k * (size_t)(ih * iw) + (size_t)(y * iw + x)] = rgb[k];
        }
    const fokus_font *f = o->font;
    int title_h = title_height(f, o->title, IMG_LABEL_PX);
    canvas c;
    st = canvas_init(&c, W, H + title_h, "overlay", err);
    if (st == FOKUS_OK) {
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                uint8_t col[3];
                fokus_colormap_rgb(cm, (up[y * W + x] - lo) / span, col);
                uint8_t *p = c.px + ((size_t)(y + title_h) * (size_t)W + (size_t)x) * 3;
                for (int k = 0; k < 3; k++) {
                    double base = (ih == H && iw == W) ? pic[(size_t)k * (size_t)(ih * iw) + (size_t)(y * iw + x)]
                                                       : bilinear(pic + (size_t)k * (size_t)(ih * iw), (int)ih, (int)iw,
                                                                  (int)y, (int)x, (int)H, (int)W);
                    p[k] = (uint8_t)lround((1 - alpha) * base + alpha * col[k]);
                }
            }
        canvas_title(&c, f, o->title, IMG_LABEL_PX, 4);
    }
    free(m);
    free(up);
    free(pic);
    if (st != FOKUS_OK) return st;
    return canvas_emit(&c, ctx, "overlay", dst, out, err);
}
