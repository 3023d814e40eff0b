/* Contact sheets: several pictures (e.g. one word map per word) on one page, each
 * with its caption, under a common title and an optional shared colour bar. */
#include <math.h>
#include <stdio.h>

#include "image/image_internal.h"

#define SHEET_MAX 1024

fokus_status fokus_contact_sheet(fokus_ctx *ctx, const fokus_tensor *const *images, size_t n,
                                 const fokus_sheet_opts *o, const fokus_tensor *dst, fokus_tensor *out,
                                 fokus_error *err)
{
    static const fokus_sheet_opts none = {0, NULL, NULL, NULL, NULL, NULL};
    if (!o) o = &none;
    if (n < 1 || n > SHEET_MAX)
        return fokus_fail(err, FOKUS_EINVAL, "contact_sheet: %zu pictures, expected 1..%d", n, SHEET_MAX);
    int64_t cw = 0, chh = 0;
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "picture %zu", i + 1);
        fokus_status st = image_check(images[i], "contact_sheet", what, err);
        if (st != FOKUS_OK) return st;
        if (images[i]->shape[1] > cw) cw = images[i]->shape[1];
        if (images[i]->shape[0] > chh) chh = images[i]->shape[0];
    }
    const fokus_colormap *cm = NULL;
    if (o->colorbar && !(cm = fokus_colormap_find(o->colorbar)))
        return fokus_fail(err, FOKUS_EINVAL, "contact_sheet: unknown colormap '%s' (expected magma, viridis or gray)",
                          o->colorbar);
    /* wider than tall by default (pages and screens are): 7 pictures -> 4 x 2 */
    int cols = o->cols > 0 ? o->cols : (int)ceil(sqrt(1.5 * (double)n));
    if ((size_t)cols > n) cols = (int)n;
    int rows = (int)((n + (size_t)cols - 1) / (size_t)cols);
    const fokus_font *f = o->font;
    int pad = IMG_PAD, cap_h = o->labels ? fokus_text_height(f, IMG_LABEL_PX) + 6 : 0;
    bool title = o->title && *o->title;
    int title_h = title_height(f, o->title, IMG_TITLE_PX);
    int cbw = cm ? colorbar_width(f, 0, 1, o->colorbar_label) : 0;
    /* captions wider than the pictures widen every cell, so none is cut */
    for (size_t i = 0; o->labels && i < n; i++) {
        int lw = fokus_text_width(f, o->labels[i], IMG_LABEL_PX);
        if (lw > cw) cw = lw;
    }
    int64_t W = pad + cols * (cw + pad) + cbw, H = pad + title_h + rows * (chh + cap_h + pad);
    int title_w = title ? title_width(f, o->title, IMG_TITLE_PX) + 2 * pad : 0;
    int shift = 0; /* a title wider than the grid: the grid goes in the middle */
    if (W < title_w) {
        shift = (int)(title_w - W) / 2;
        W = title_w;
    }
    if (W > 16384 || H > 16384)
        return fokus_fail(err, FOKUS_EINVAL, "contact_sheet: the sheet would be %lldx%lld px, expected at most 16384 a side",
                          (long long)W, (long long)H);
    canvas c;
    fokus_status st = canvas_init(&c, W, H, "contact_sheet", err);
    if (st != FOKUS_OK) return st;
    canvas_title(&c, f, o->title, IMG_TITLE_PX, pad);
    int y0 = pad + title_h;
    for (size_t i = 0; i < n; i++) {
        int r = (int)(i / (size_t)cols), k = (int)(i % (size_t)cols);
        int x = shift + pad + k * (int)(cw + pad), y = y0 + r * (int)(chh + cap_h + pad);
        if (o->labels) canvas_text_centred(&c, f, o->labels[i], IMG_LABEL_PX, x, (int)cw, y, img_ink);
        canvas_blit(&c, images[i], x + (int)(cw - images[i]->shape[1]) / 2, y + cap_h);
    }
    if (cm) colorbar_draw(&c, f, cm, 0, 1, shift + pad + cols * (int)(cw + pad) - pad, y0 + cap_h, (int)chh, o->colorbar_label);
    return canvas_emit(&c, ctx, "contact_sheet", dst, out, err);
}
