/* Word maps over a picture, as DAAM draws them (Tang et al. 2022, "What the DAAM"):
 * a coarse attention map over the latent grid is upsampled bilinearly to the
 * picture's size, normalized to 0..1 and laid over the picture in colour. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

/* Source coordinates of output pixel (oy, ox) of an oh x ow grid over an h x w one,
 * with half-pixel centres and edges clamped (PyTorch's interpolate, bilinear,
 * align_corners = false): the two rows and columns and the weights of the second. */
typedef struct taps {
    int y0, y1, x0, x1;
    double fy, fx;
} taps;

static taps bilinear_taps(int h, int w, int oy, int ox, int oh, int ow)
{
    taps t;
    double sy = ((double)oy + 0.5) * h / oh - 0.5, sx = ((double)ox + 0.5) * w / ow - 0.5;
    if (sy < 0) sy = 0;
    if (sx < 0) sx = 0;
    t.y0 = (int)sy;
    t.x0 = (int)sx;
    if (t.y0 > h - 1) t.y0 = h - 1;
    if (t.x0 > w - 1) t.x0 = w - 1;
    t.y1 = t.y0 + 1 < h ? t.y0 + 1 : t.y0;
    t.x1 = t.x0 + 1 < w ? t.x0 + 1 : t.x0;
    t.fy = sy - t.y0;
    t.fx = sx - t.x0;
    return t;
}

static double mix(const taps *t, double a, double b, double c, double d) /* a b / c d */
{
    return (a * (1 - t->fx) + b * t->fx) * (1 - t->fy) + (c * (1 - t->fx) + d * t->fx) * t->fy;
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
    if (H > 4096 || W > 4096)
        return fokus_fail(err, FOKUS_EINVAL, "overlay: image %s is over 4096 px a side: give opts.size (1..4096)",
                          fokus_shape_str(image, b, sizeof b));
    /* the mean over S (e.g. sampler steps), in double; the upsampled map in float */
    double *m = calloc((size_t)(mh * mw), sizeof *m);
    float *up = malloc((size_t)(H * W) * sizeof *up);
    if (!m || !up) {
        free(m);
        free(up);
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
            taps t = bilinear_taps((int)mh, (int)mw, (int)y, (int)x, (int)H, (int)W);
            double v = mix(&t, m[t.y0 * mw + t.x0], m[t.y0 * mw + t.x1], m[t.y1 * mw + t.x0], m[t.y1 * mw + t.x1]);
            up[y * W + x] = (float)v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (!isnan(o->vmin)) lo = o->vmin;
    if (!isnan(o->vmax)) hi = o->vmax;
    double span = hi > lo ? hi - lo : 1;
    int64_t ih = image->shape[0], iw = image->shape[1];
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
                /* the picture, resampled the same way when `size` asks for another size */
                taps t = bilinear_taps((int)ih, (int)iw, (int)y, (int)x, (int)H, (int)W);
                uint8_t a[3], bb[3], cc[3], d[3];
                image_rgb(image, t.y0, t.x0, a);
                image_rgb(image, t.y0, t.x1, bb);
                image_rgb(image, t.y1, t.x0, cc);
                image_rgb(image, t.y1, t.x1, d);
                for (int k = 0; k < 3; k++)
                    p[k] = (uint8_t)lround((1 - alpha) * mix(&t, a[k], bb[k], cc[k], d[k]) + alpha * col[k]);
            }
        canvas_title(&c, f, o->title, IMG_LABEL_PX, 4);
    }
    free(m);
    free(up);
    if (st != FOKUS_OK) return st;
    return canvas_emit(&c, ctx, "overlay", dst, out, err);
}
