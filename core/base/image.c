/* Attention maps as pictures: a 2-d float map is coloured, upscaled per cell, optionally
 * labelled along both axes (e.g. with the prompt's tokens), and written as PNG.
 * PNG encoding is stb_image_write's (Debian's libstb); label glyphs are drawn from
 * stb_easy_font's quads, rasterised here as filled rectangles. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

#include "base/fokus_base.h"

/* Colour ramps as anchor points, linearly interpolated in RGB. "magma" follows the
 * shape of matplotlib's magma (black, purple, red, orange, pale yellow); "viridis" the
 * shape of viridis; both are approximations that keep brightness monotonic. */
typedef struct ramp {
    const char *name;
    int n;
    unsigned char rgb[9][3];
} ramp;

static const ramp ramps[] = {
    {"magma", 6, {{0, 0, 4}, {59, 15, 112}, {140, 41, 129}, {222, 73, 104}, {254, 159, 109}, {252, 253, 191}}},
    {"viridis", 5, {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}},
    {"gray", 2, {{0, 0, 0}, {255, 255, 255}}},
};

static const ramp *find_ramp(const char *name)
{
    if (!name) return &ramps[0];
    for (size_t i = 0; i < sizeof ramps / sizeof *ramps; i++)
        if (strcmp(ramps[i].name, name) == 0) return &ramps[i];
    return NULL;
}

static void colour(const ramp *r, double x, unsigned char out[3])
{
    if (!(x > 0)) x = 0; /* nan maps to the low end */
    if (x > 1) x = 1;
    double pos = x * (r->n - 1);
    int i = (int)pos;
    if (i >= r->n - 1) i = r->n - 2;
    double f = pos - i;
    for (int c = 0; c < 3; c++)
        out[c] = (unsigned char)lround(r->rgb[i][c] + f * (r->rgb[i + 1][c] - r->rgb[i][c]));
}

/* stb_easy_font emits quads of 4 vertices {x, y, z, rgba}: axis-aligned rectangles. */
typedef struct easy_vertex {
    float x, y, z;
    unsigned char c[4];
} easy_vertex;

static void draw_text(unsigned char *img, int w, int h, int x0, int y0, const char *text, int scale,
                      const unsigned char rgb[3])
{
    char buf[64];
    size_t n = 0;
    /* the font covers printable ASCII; anything else is shown as '?' */
    for (const unsigned char *p = (const unsigned char *)text; *p && n < sizeof buf - 1; p++) {
        if ((*p & 0xc0) == 0x80) continue; /* UTF-8 continuation byte: one '?' per character */
        buf[n++] = (*p >= 32 && *p < 127) ? (char)*p : '?';
    }
    buf[n] = 0;
    static const int max_quads = 64 * 40;
    easy_vertex *vb = malloc(sizeof(easy_vertex) * 4 * (size_t)max_quads);
    if (!vb) return;
    unsigned char col[4] = {rgb[0], rgb[1], rgb[2], 255};
    int quads = stb_easy_font_print(0, 0, buf, col, vb, (int)(sizeof(easy_vertex) * 4 * (size_t)max_quads));
    for (int q = 0; q < quads; q++) {
        easy_vertex *v = &vb[q * 4];
        int xa = x0 + (int)lroundf(v[0].x * (float)scale), ya = y0 + (int)lroundf(v[0].y * (float)scale);
        int xb = x0 + (int)lroundf(v[2].x * (float)scale), yb = y0 + (int)lroundf(v[2].y * (float)scale);
        for (int y = ya < 0 ? 0 : ya; y < yb && y < h; y++)
            for (int x = xa < 0 ? 0 : xa; x < xb && x < w; x++) memcpy(img + ((size_t)y * (size_t)w + (size_t)x) * 3, rgb, 3);
    }
    free(vb);
}

/* Width in font pixels of the widest label. */
static int label_width(const char *const *labels, size_t n)
{
    int w = 0;
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        size_t k = 0;
        for (const unsigned char *p = (const unsigned char *)labels[i]; *p && k < sizeof buf - 1; p++)
            if ((*p & 0xc0) != 0x80) buf[k++] = (*p >= 32 && *p < 127) ? (char)*p : '?';
        buf[k] = 0;
        int lw = stb_easy_font_width(buf);
        if (lw > w) w = lw;
    }
    return w;
}

fokus_status fokus_heatmap(const fokus_tensor *map, const fokus_heatmap_opts *o, fokus_tensor *img,
                           fokus_error *err)
{
    memset(img, 0, sizeof *img);
    if (map->ndim != 2 || !fokus_dtype_is_float(map->dtype)) {
        char b[128];
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: expected a 2-d float tensor, got %s %s",
                          fokus_dtype_name(map->dtype), fokus_shape_str(map, b, sizeof b));
    }
    int64_t rows = map->shape[0], cols = map->shape[1];
    if (rows < 1 || cols < 1 || rows > 16384 || cols > 16384)
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: map of %lldx%lld, expected 1..16384 per side",
                          (long long)rows, (long long)cols);
    const ramp *r = find_ramp(o ? o->colormap : NULL);
    if (!r)
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: unknown colormap '%s' (expected magma, viridis or gray)",
                          o->colormap);
    int cell = o && o->cell > 0 ? o->cell : (int)(512 / (rows > cols ? rows : cols));
    if (cell < 1) cell = 1;
    if (cell > 64) cell = 64;
    if (o && o->n_row_labels && o->n_row_labels != (size_t)rows)
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: %zu row labels for %lld rows", o->n_row_labels, (long long)rows);
    if (o && o->n_col_labels && o->n_col_labels != (size_t)cols)
        return fokus_fail(err, FOKUS_EINVAL, "heatmap: %zu column labels for %lld columns", o->n_col_labels,
                          (long long)cols);
    /* labels need at least ~8 px per cell to be legible; the font is 2x scaled then */
    int fscale = cell >= 16 ? 2 : 1;
    bool labels = o && (o->n_row_labels || o->n_col_labels) && cell >= 8;
    int left = 0, top = 0;
    if (labels) {
        left = o->n_row_labels ? label_width(o->row_labels, o->n_row_labels) * fscale + 6 : 0;
        top = o->n_col_labels ? label_width(o->col_labels, o->n_col_labels) * fscale + 6 : 0;
    }
    int64_t W = left + cols * cell, H = top + rows * cell;
    double lo = o ? o->vmin : NAN, hi = o ? o->vmax : NAN;
    if (isnan(lo) || isnan(hi)) {
        double mn = INFINITY, mx = -INFINITY;
        for (int64_t i = 0; i < rows * cols; i++) {
            double v = fokus_tensor_get(map, i);
            if (isfinite(v)) {
                if (v < mn) mn = v;
                if (v > mx) mx = v;
            }
        }
        if (isnan(lo)) lo = isfinite(mn) ? mn : 0;
        if (isnan(hi)) hi = isfinite(mx) ? mx : 1;
    }
    double span = hi > lo ? hi - lo : 1;
    int64_t shape[3] = {H, W, 3};
    fokus_status st = fokus_tensor_new(img, FOKUS_U8, 3, shape, err);
    if (st != FOKUS_OK) return st;
    unsigned char *px = img->data;
    memset(px, 255, (size_t)(H * W * 3)); /* white margins for the labels */
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++) {
            unsigned char c[3];
            colour(r, (fokus_tensor_get(map, i * cols + j) - lo) / span, c);
            for (int y = 0; y < cell; y++) {
                unsigned char *row = px + ((size_t)(top + i * cell + y) * (size_t)W + (size_t)(left + j * cell)) * 3;
                for (int x = 0; x < cell; x++) memcpy(row + x * 3, c, 3);
            }
        }
    }
    if (labels) {
        static const unsigned char ink[3] = {20, 20, 20};
        int fh = 7 * fscale;
        for (size_t i = 0; i < o->n_row_labels; i++)
            draw_text(px, (int)W, (int)H, 2, top + (int)i * cell + (cell - fh) / 2, o->row_labels[i], fscale, ink);
        /* column labels are written vertically: draw into a scratch image, then rotate */
        if (o->n_col_labels) {
            int tw = top, th = (int)(cols * cell);
            unsigned char *tmp = malloc((size_t)tw * (size_t)th * 3);
            if (tmp) {
                memset(tmp, 255, (size_t)tw * (size_t)th * 3);
                /* tmp is th rows x tw columns, row = position along the x axis */
                for (size_t j = 0; j < o->n_col_labels; j++)
                    draw_text(tmp, tw, th, 2, (int)j * cell + (cell - fh) / 2, o->col_labels[j], fscale, ink);
                for (int y = 0; y < th; y++)
                    for (int x = 0; x < tw; x++)
                        memcpy(px + ((size_t)(tw - 1 - x) * (size_t)W + (size_t)(left + y)) * 3,
                               tmp + ((size_t)y * (size_t)tw + (size_t)x) * 3, 3);
                free(tmp);
            }
        }
    }
    return FOKUS_OK;
}

typedef struct png_sink {
    FILE *f;
    bool ok;
} png_sink;

static void png_write(void *ctx, void *data, int size)
{
    png_sink *s = ctx;
    if (s->ok && fwrite(data, 1, (size_t)size, s->f) != (size_t)size) s->ok = false;
}

fokus_status fokus_png_save(const char *path, const fokus_tensor *img, fokus_error *err)
{
    int64_t h, w, c;
    char b[128];
    if (img->dtype != FOKUS_U8 || (img->ndim != 2 && img->ndim != 3))
        return fokus_fail(err, FOKUS_EINVAL, "save_png: expected a u8 image [H, W] or [H, W, C], got %s %s",
                          fokus_dtype_name(img->dtype), fokus_shape_str(img, b, sizeof b));
    h = img->shape[0];
    w = img->shape[1];
    c = img->ndim == 3 ? img->shape[2] : 1;
    if (c < 1 || c > 4 || h < 1 || w < 1 || h > 65535 || w > 65535)
        return fokus_fail(err, FOKUS_EINVAL, "save_png: image %s: expected 1..4 channels and 1..65535 pixels a side",
                          fokus_shape_str(img, b, sizeof b));
    fokus_tensor cimg;
    fokus_status st = fokus_tensor_contiguous(&cimg, img, err);
    if (st != FOKUS_OK) return st;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        fokus_tensor_release(&cimg);
        return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        fokus_tensor_release(&cimg);
        return fokus_fail(err, FOKUS_EIO, "%s", strerror(e));
    }
    fchmod(fd, 0644);
    png_sink s = {fdopen(fd, "wb"), true};
    if (!s.f) {
        close(fd);
        s.ok = false;
    } else {
        s.ok = stbi_write_png_to_func(png_write, &s, (int)w, (int)h, (int)c, cimg.data, (int)(w * c)) != 0 && s.ok;
        s.ok = fflush(s.f) == 0 && s.ok;
        s.ok = fclose(s.f) == 0 && s.ok;
    }
    fokus_tensor_release(&cimg);
    if (!s.ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return fokus_fail(err, FOKUS_EIO, "cannot write PNG: %s", e ? strerror(e) : "encoder failed");
    }
    free(tmp);
    return FOKUS_OK;
}
