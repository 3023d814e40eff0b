/* Heat maps: a 2-d float map coloured cell by cell, with labels along both axes (e.g.
 * the prompt's tokens), a title and a colour bar whose ticks give the scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

/* Label size: as large as a cell allows, up to the standard label size. */
static double label_px(int cell)
{
    double px = cell * 0.8;
    return px > IMG_LABEL_PX ? IMG_LABEL_PX : px < 8 ? 8 : px;
}

static int widest(const fokus_font *f, const char *const *labels, size_t n, double px)
{
    int w = 0;
    for (size_t i = 0; i < n; i++) {
        int lw = fokus_text_width(f, labels[i], px);
        if (lw > w) w = lw;
    }
    return w;
}

/* The map's finite min and max fill in an unset (NaN) end of the range. */
static void value_range(const fokus_tensor *map, double *lo, double *hi)
{
    if (!isnan(*lo) && !isnan(*hi)) return;
    double mn = INFINITY, mx = -INFINITY;
    int64_t cols = map->shape[1];
    for (int64_t i = 0; i < map->shape[0]; i++)
        for (int64_t j = 0; j < cols; j++) {
            double v = fokus_tensor_get(map, i * cols + j);
            if (isfinite(v)) {
                if (v < mn) mn = v;
                if (v > mx) mx = v;
            }
        }
    if (isnan(*lo)) *lo = isfinite(mn) ? mn : 0;
    if (isnan(*hi)) *hi = isfinite(mx) ? mx : 1;
}

fokus_status fokus_heatmap(fokus_ctx *ctx, const fokus_tensor *map, const fokus_heatmap_opts *o,
                           const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    static const fokus_heatmap_opts none = {0, NAN, NAN, NULL, NULL, 0, NULL, 0, NULL, false, NULL, NULL};
    if (!o) o = &none;
    char b[128];
    if (map->ndim != 2 || !fokus_dtype_is_float(map->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: expected a 2-d float tensor, got %s %s",
                          fokus_dtype_name(map->dtype), fokus_shape_str(map, b, sizeof b));
    int64_t rows = map->shape[0], cols = map->shape[1];
    if (rows < 1 || cols < 1 || rows > 16384 || cols > 16384)
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: map of %lldx%lld, expected 1..16384 per side",
                          (long long)rows, (long long)cols);
    const fokus_colormap *cm = fokus_colormap_find(o->colormap ? o->colormap : "magma");
    if (!cm)
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: unknown colormap '%s' (expected magma, viridis or gray)",
                          o->colormap);
    if (o->n_row_labels && o->n_row_labels != (size_t)rows)
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: %zu row labels for %lld rows", o->n_row_labels, (long long)rows);
    if (o->n_col_labels && o->n_col_labels != (size_t)cols)
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: %zu column labels for %lld columns", o->n_col_labels,
                          (long long)cols);
    double lo = o->vmin, hi = o->vmax;
    value_range(map, &lo, &hi);
    if (!isfinite(lo) || !isfinite(hi))
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: min and max must be finite, got %g and %g", lo, hi);
    int cell = o->cell > 0 ? o->cell : (int)(512 / (rows > cols ? rows : cols));
    if (cell < 1) cell = 1;
    if (cell > 64) cell = 64;

    const fokus_font *f = o->font;
    bool labels = (o->n_row_labels || o->n_col_labels) && cell >= 8;
    bool title = o->title && *o->title;
    bool framed = labels || title || o->colorbar; /* anything beside the cells gets a margin */
    int pad = framed ? IMG_PAD : 0, lpx = (int)label_px(cell);
    int left = labels && o->n_row_labels ? widest(f, o->row_labels, o->n_row_labels, lpx) + 6 : 0;
    int top = labels && o->n_col_labels ? widest(f, o->col_labels, o->n_col_labels, lpx) + 6 : 0;
    int title_h = title_height(f, o->title, IMG_TITLE_PX);
    int cbw = o->colorbar ? colorbar_width(f, lo, hi, o->colorbar_label) : 0;
    int64_t map_w = cols * cell, map_h = rows * cell;
    int64_t bar_h = map_h < 100 ? 100 : map_h; /* room for five legible ticks */
    int64_t W = pad + left + map_w + cbw + pad, H = pad + title_h + top + (o->colorbar && bar_h > map_h ? bar_h : map_h) + pad;
    int title_w = title ? title_width(f, o->title, IMG_TITLE_PX) + 2 * pad : 0;
    int shift = 0; /* a title wider than the map: the map goes in the middle */
    if (W < title_w) {
        shift = (int)(title_w - W) / 2;
        W = title_w;
    }

    canvas c;
    fokus_status st = canvas_init(&c, W, H, "heatmap", err);
    if (st != FOKUS_OK) return st;
    int x0 = shift + pad + left, y0 = pad + title_h + top;
    double span = hi > lo ? hi - lo : 1;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            uint8_t rgb[3];
            fokus_colormap_rgb(cm, (fokus_tensor_get(map, i * cols + j) - lo) / span, rgb);
            canvas_fill(&c, x0 + (int)(j * cell), y0 + (int)(i * cell), cell, cell, rgb);
        }
    canvas_title(&c, f, o->title, IMG_TITLE_PX, pad);
    if (labels) {
        int lh = fokus_text_height(f, lpx);
        for (size_t i = 0; i < o->n_row_labels; i++) {
            int lw = fokus_text_width(f, o->row_labels[i], lpx);
            canvas_text(&c, f, o->row_labels[i], lpx, x0 - 4 - lw, y0 + (int)i * cell + (cell - lh) / 2, img_ink, false);
        }
        for (size_t j = 0; j < o->n_col_labels; j++) {
            int lw = fokus_text_width(f, o->col_labels[j], lpx);
            canvas_text(&c, f, o->col_labels[j], lpx, x0 + (int)j * cell + (cell - lh) / 2, y0 - 4 - lw, img_ink, true);
        }
    }
    if (o->colorbar) colorbar_draw(&c, f, cm, lo, hi, x0 + (int)map_w, y0, (int)bar_h, o->colorbar_label);
    return canvas_emit(&c, ctx, "heatmap", dst, out, err);
}
