/* The canvas pictures are composed on: fills, image copies and text, and its hand-over
 * as a tensor. */
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

const uint8_t img_ink[3] = {25, 25, 25};
const uint8_t img_paper[3] = {255, 255, 255};

/* 16384 px a side bounds every picture (and its w·h·3 bytes) far below size_t limits. */
#define IMG_MAX_SIDE 16384

fokus_status canvas_init(canvas *c, int64_t w, int64_t h, const char *fn, fokus_error *err)
{
    memset(c, 0, sizeof *c);
    if (w < 1 || h < 1 || w > IMG_MAX_SIDE || h > IMG_MAX_SIDE)
        return fokus_fail(err, FOKUS_EINVAL, "%s: the picture would be %lldx%lld px, expected 1..%d a side", fn,
                          (long long)w, (long long)h, IMG_MAX_SIDE);
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px) return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", fn);
    memset(c->px, 255, (size_t)w * (size_t)h * 3);
    c->w = (int)w;
    c->h = (int)h;
    return FOKUS_OK;
}

void canvas_free(canvas *c)
{
    free(c->px);
    memset(c, 0, sizeof *c);
}

fokus_status canvas_emit(canvas *c, fokus_ctx *ctx, const char *fn, const fokus_tensor *dst, fokus_tensor *out,
                         fokus_error *err)
{
    int64_t shape[3] = {c->h, c->w, 3};
    fokus_tensor res;
    fokus_status st = fokus_out_begin(ctx, fn, dst, FOKUS_U8, 3, shape, NULL, 0, &res, err);
    if (st == FOKUS_OK) {
        memcpy(res.data, c->px, (size_t)c->w * (size_t)c->h * 3);
        fokus_out_finish(dst, &res, out);
    }
    canvas_free(c);
    return st;
}

void canvas_fill(canvas *c, int x, int y, int w, int h, const uint8_t rgb[3])
{
    for (int yy = y < 0 ? 0 : y; yy < y + h && yy < c->h; yy++)
        for (int xx = x < 0 ? 0 : x; xx < x + w && xx < c->w; xx++)
            memcpy(c->px + ((size_t)yy * (size_t)c->w + (size_t)xx) * 3, rgb, 3);
}

fokus_status image_check(const fokus_tensor *t, const char *fn, const char *what, fokus_error *err)
{
    char b[128];
    if (t->dtype != FOKUS_U8 || t->ndim != 3 || (t->shape[2] != 1 && t->shape[2] != 3 && t->shape[2] != 4))
        return fokus_fail(err, FOKUS_EINVAL, "%s: %s: expected a u8 image [H, W, 3] (or 1 or 4 channels), got %s %s",
                          fn, what, fokus_dtype_name(t->dtype), fokus_shape_str(t, b, sizeof b));
    if (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > IMG_MAX_SIDE || t->shape[1] > IMG_MAX_SIDE)
        return fokus_fail(err, FOKUS_EINVAL, "%s: %s: image %s, expected 1..%d px a side", fn, what,
                          fokus_shape_str(t, b, sizeof b), IMG_MAX_SIDE);
    return FOKUS_OK;
}

void image_rgb(const fokus_tensor *t, int64_t y, int64_t x, uint8_t rgb[3])
{
    const uint8_t *p = (const uint8_t *)t->data + y * t->stride[0] + x * t->stride[1];
    if (t->shape[2] == 1) {
        rgb[0] = rgb[1] = rgb[2] = p[0];
        return;
    }
    for (int k = 0; k < 3; k++) rgb[k] = p[k * t->stride[2]];
}

void canvas_blit(canvas *c, const fokus_tensor *img, int x, int y)
{
    for (int64_t yy = 0; yy < img->shape[0]; yy++) {
        int64_t ty = y + yy;
        if (ty < 0 || ty >= c->h) continue;
        for (int64_t xx = 0; xx < img->shape[1]; xx++) {
            int64_t tx = x + xx;
            if (tx < 0 || tx >= c->w) continue;
            image_rgb(img, yy, xx, c->px + ((size_t)ty * (size_t)c->w + (size_t)tx) * 3);
        }
    }
}

/* Blends rgb over the pixels of a generic interleaved u8 buffer (row stride and pixel
 * stride in bytes) by the mask's coverage, clipped to w x h. */
static void blend_mask(uint8_t *px, int w, int h, ptrdiff_t row, ptrdiff_t pix, ptrdiff_t chan, const text_mask *m,
                       int x, int y, const uint8_t rgb[3], bool vertical)
{
    for (int my = 0; my < m->h; my++)
        for (int mx = 0; mx < m->w; mx++) {
            unsigned a = m->a[(size_t)my * (size_t)m->w + (size_t)mx];
            if (!a) continue;
            /* vertical: the line's x runs up the picture from the bottom of its box */
            int tx = vertical ? x + my : x + mx, ty = vertical ? y + (m->w - 1 - mx) : y + my;
            if (tx < 0 || ty < 0 || tx >= w || ty >= h) continue;
            uint8_t *p = px + ty * row + tx * pix;
            for (int k = 0; k < 3; k++) {
                uint8_t *q = p + k * chan;
                *q = (uint8_t)((*q * (255 - a) + rgb[k] * a + 127) / 255);
            }
        }
}

void canvas_text(canvas *c, const fokus_font *f, const char *text, double px, int x, int y, const uint8_t rgb[3],
                 bool vertical)
{
    text_mask m;
    fokus_error err;
    if (!text || !*text || font_render(f, text, px, &m, &err) != FOKUS_OK) return; /* labels are best effort */
    blend_mask(c->px, c->w, c->h, (ptrdiff_t)c->w * 3, 3, 1, &m, x, y, rgb, vertical);
    free(m.a);
}

void canvas_text_centred(canvas *c, const fokus_font *f, const char *text, double px, int x, int w, int y,
                         const uint8_t rgb[3])
{
    int tw = fokus_text_width(f, text, px);
    canvas_text(c, f, text, px, x + (w - tw) / 2, y, rgb, false);
}

fokus_status fokus_draw_text(fokus_tensor *img, const fokus_font *f, const char *text, double px, int x, int y,
                             const uint8_t rgb[3], bool vertical, fokus_error *err)
{
    fokus_status st = image_check(img, "draw_text", "img", err);
    if (st != FOKUS_OK) return st;
    if (img->shape[2] < 3) return fokus_fail(err, FOKUS_EINVAL, "draw_text: img must have 3 or 4 channels");
    if (!text) return fokus_fail(err, FOKUS_EINVAL, "draw_text: text is NULL");
    text_mask m;
    st = font_render(f, text, px, &m, err);
    if (st != FOKUS_OK) return st;
    blend_mask(img->data, (int)img->shape[1], (int)img->shape[0], (ptrdiff_t)img->stride[0],
               (ptrdiff_t)img->stride[1], (ptrdiff_t)img->stride[2], &m, x, y, rgb, vertical);
    free(m.a);
    return FOKUS_OK;
}

/* Titles may hold several lines separated by '\n' (a title and an explanation). */
static const char *line_end(const char *s)
{
    const char *e = strchr(s, '\n');
    return e ? e : s + strlen(s);
}

int title_height(const fokus_font *f, const char *text, double px)
{
    if (!text || !*text) return 0;
    int lines = 1;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    return lines * (fokus_text_height(f, px) + 4) + 4;
}

/* Draws (or, with c NULL, measures) each line centred in [x, x + w); returns the widest. */
static int title_lines(canvas *c, const fokus_font *f, const char *text, double px, int x, int w, int y)
{
    int widest = 0, lh = fokus_text_height(f, px) + 4;
    char *buf = malloc(strlen(text) + 1);
    if (!buf) return 0;
    for (const char *s = text;; s++) {
        const char *e = line_end(s);
        memcpy(buf, s, (size_t)(e - s));
        buf[e - s] = 0;
        int lw = fokus_text_width(f, buf, px);
        if (lw > widest) widest = lw;
        if (c) canvas_text(c, f, buf, px, x + (w - lw) / 2, y, img_ink, false);
        y += lh;
        if (!*e) break;
        s = e;
    }
    free(buf);
    return widest;
}

int title_width(const fokus_font *f, const char *text, double px)
{
    return text && *text ? title_lines(NULL, f, text, px, 0, 0, 0) : 0;
}

void canvas_title(canvas *c, const fokus_font *f, const char *text, double px, int y)
{
    if (text && *text) title_lines(c, f, text, px, 0, c->w, y);
}
