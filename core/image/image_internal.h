/* Shared by the files of core/image (not public): an RGB canvas the pictures are
 * composed on, and the drawing steps every picture uses. */
#ifndef FOKUS_IMAGE_INTERNAL_H
#define FOKUS_IMAGE_INTERNAL_H

#include "image/fokus_image.h"

/* Composition happens on a private contiguous RGB buffer; only the finished picture
 * becomes a tensor (canvas_emit), so a failure half-way leaves no tensor behind. */
typedef struct canvas {
    uint8_t *px; /* w·h·3 bytes */
    int w, h;
} canvas;

/* Text sizes in pixels, chosen so labels stay legible in a picture viewed at 100%. */
#define IMG_TITLE_PX 18.0
#define IMG_LABEL_PX 14.0
#define IMG_TICK_PX 12.0
#define IMG_PAD 10

extern const uint8_t img_ink[3];   /* text colour: near-black */
extern const uint8_t img_paper[3]; /* background: white */

fokus_status canvas_init(canvas *c, int64_t w, int64_t h, const char *fn, fokus_error *err); /* white */
void canvas_free(canvas *c);
/* Copies the canvas into a new u8 [h, w, 3] tensor (or into dst) and frees it. */
fokus_status canvas_emit(canvas *c, fokus_ctx *ctx, const char *fn, const fokus_tensor *dst, fokus_tensor *out,
                         fokus_error *err);
void canvas_fill(canvas *c, int x, int y, int w, int h, const uint8_t rgb[3]);
/* Copies an image tensor (u8 [H, W, 1 | 3 | 4], any strides) with its top-left at (x, y). */
void canvas_blit(canvas *c, const fokus_tensor *img, int x, int y);
/* Text on the canvas (see fokus_draw_text); clipped. */
void canvas_text(canvas *c, const fokus_font *f, const char *text, double px, int x, int y, const uint8_t rgb[3],
                 bool vertical);
/* Text centred horizontally in [x, x + w) with the top at y. */
void canvas_text_centred(canvas *c, const fokus_font *f, const char *text, double px, int x, int w, int y,
                         const uint8_t rgb[3]);

/* Titles of one or more lines ('\n'), centred across the canvas with the top at y;
 * their height (0 for NULL or "") and widest line. */
int title_height(const fokus_font *f, const char *text, double px);
int title_width(const fokus_font *f, const char *text, double px);
void canvas_title(canvas *c, const fokus_font *f, const char *text, double px, int y);

/* Coverage of one line of text: a w x h alpha mask (0..255), from font.c. */
typedef struct text_mask {
    uint8_t *a;
    int w, h;
} text_mask;
fokus_status font_render(const fokus_font *f, const char *text, double px, text_mask *m, fokus_error *err);

/* A colour bar: a vertical ramp of `cm` from vmax (top) to vmin (bottom) in the box
 * strip starting at x (after a gap), rows y..y+h, with tick marks and values right of
 * it and an optional caption along it; colorbar_width is the strip's width. */
int colorbar_width(const fokus_font *f, double vmin, double vmax, const char *label);
void colorbar_draw(canvas *c, const fokus_font *f, const fokus_colormap *cm, double vmin, double vmax, int x, int y,
                   int h, const char *label);

/* Checks that t is a u8 image [H, W, C] (C = 1, 3 or 4) of at most 16384 px a side. */
fokus_status image_check(const fokus_tensor *t, const char *fn, const char *what, fokus_error *err);
/* Reads pixel (y, x) of such an image as RGB. */
void image_rgb(const fokus_tensor *t, int64_t y, int64_t x, uint8_t rgb[3]);

#endif
