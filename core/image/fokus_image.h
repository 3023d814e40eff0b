/*
 * Pictures (part of the fokus core; included by fokus.h): colour maps, text in a TrueType
 * font, heat maps with labels, a colour bar and a title, word maps over an image (DAAM),
 * contact sheets, and PNG files with text chunks. Uses core/base only.
 *
 * Images are u8 tensors [H, W, C], C = 3 (RGB) or 4 (RGBA), row-major, any strides on
 * input; every image this part returns is a new contiguous u8 [H, W, 3] tensor from the
 * context's allocator (ctx may be NULL: plain heap), or, when `dst` is given, written into
 * dst (which must have that exact shape; see fokus_out_begin) and `out` is left untouched.
 * Text is UTF-8; invalid bytes show as U+FFFD. No function aborts on input: bad input
 * gives FOKUS_EINVAL with a message, an unreadable file FOKUS_EIO or FOKUS_EFORMAT.
 */
#ifndef FOKUS_IMAGE_H
#define FOKUS_IMAGE_H

#include "base/fokus_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------
 * Colour maps
 * ---------------------------------------------------------------------------------- */

typedef struct fokus_colormap fokus_colormap;

/* "viridis", "magma" or "gray"; NULL for an unknown name. The tables are constant. */
const fokus_colormap *fokus_colormap_find(const char *name);
/* The colour of x in [0, 1] (clamped; NaN maps to 0): viridis runs from dark purple
 * (68, 1, 84) to yellow (253, 231, 37), magma from black (0, 0, 4) to pale yellow
 * (252, 253, 191), gray from black to white; brightness grows monotonically in each. */
void fokus_colormap_rgb(const fokus_colormap *cm, double x, uint8_t rgb[3]);

/* ------------------------------------------------------------------------------------
 * Fonts and text
 * ---------------------------------------------------------------------------------- */

typedef struct fokus_font fokus_font;

/* Opens a TrueType font for anti-aliased text. path NULL: the first readable of
 * $FOKUS_FONT and DejaVu Sans in Debian's paths (package fonts-dejavu-core); when none
 * is there, the built-in stb_easy_font (ASCII only, blocky), never an error. A path
 * that cannot be read or is not a TrueType font: FOKUS_EIO / FOKUS_EFORMAT. Fonts are
 * read whole into memory and are immutable afterwards (one font may serve several
 * threads). Font files are trusted system files: stb_truetype does not validate
 * every table. */
fokus_status fokus_font_open(fokus_font **out, const char *path, fokus_error *err);
/* The first readable TrueType file of `paths` (NULL entries skipped), else the built-in
 * font. Fails only on allocation failure. */
fokus_status fokus_font_search(fokus_font **out, const char *const *paths, size_t n, fokus_error *err);
/* The built-in stb_easy_font: printable ASCII, other characters shown as '?'. */
fokus_status fokus_font_builtin(fokus_font **out, fokus_error *err);
void fokus_font_free(fokus_font *f); /* NULL-safe */
/* The file the font came from, or "stb_easy_font" for the built-in one. */
const char *fokus_font_name(const fokus_font *f);
bool fokus_font_is_truetype(const fokus_font *f);

/* Width and height in pixels of one line of `text` set at `px` pixels (the font's
 * ascent minus descent; the built-in font scales its 11 px line by whole multiples). */
int fokus_text_width(const fokus_font *f, const char *text, double px);
int fokus_text_height(const fokus_font *f, double px);

/* Draws one line of text into img (u8 [H, W, 3 | 4], written in place, clipped to the
 * image) with its box's top-left corner at column x, row y (0-based), blending `rgb` by
 * the glyphs' coverage. vertical: the line runs bottom to top (rotated 90 degrees
 * counter-clockwise) and (x, y) is the top-left of the rotated box. */
fokus_status fokus_draw_text(fokus_tensor *img, const fokus_font *f, const char *text, double px, int x, int y,
                             const uint8_t rgb[3], bool vertical, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Heat maps
 * ---------------------------------------------------------------------------------- */

typedef struct fokus_heatmap_opts {
    int cell;                        /* pixels per map cell; <= 0: about 512 px a side */
    double vmin, vmax;               /* colour range; NAN: the map's finite min / max */
    const char *colormap;            /* "magma" (default), "viridis", "gray" */
    const char *const *row_labels;   /* NULL or one label per row, left of the cells */
    size_t n_row_labels;
    const char *const *col_labels;   /* NULL or one per column, drawn vertically on top */
    size_t n_col_labels;
    const char *title;               /* NULL or lines (split at \n) above everything */
    bool colorbar;                   /* a colour bar with tick values on the right */
    const char *colorbar_label;      /* NULL or a caption under the colour bar */
    const fokus_font *font;          /* NULL: the built-in font */
} fokus_heatmap_opts;

/* Colours a 2-d float map [rows, cols] (any strides) into a u8 image [H, W, 3]: white
 * margins hold the labels (drawn when cells are at least 8 px), the title and the
 * colour bar; without any of them the image is exactly the cells (rows·cell x
 * cols·cell). opts may be NULL. */
fokus_status fokus_heatmap(fokus_ctx *ctx, const fokus_tensor *map, const fokus_heatmap_opts *opts,
                           const fokus_tensor *dst, fokus_tensor *out, fokus_error *err);

/* ------------------------------------------------------------------------------------
 * Maps over an image (DAAM) and contact sheets
 * ---------------------------------------------------------------------------------- */

typedef struct fokus_overlay_opts {
    const char *colormap;  /* default "viridis" */
    double alpha;          /* opacity of the map over the image, 0..1; NAN: 0.6 */
    double vmin, vmax;     /* NAN: normalize the upsampled map to its own min..max */
    const char *title;     /* NULL or lines (split at \n) above the picture */
    int size;              /* 1..4096: the longer side is scaled (bilinear) to this; 0: as is */
    const fokus_font *font;
} fokus_overlay_opts;

/* The map (float [h, w], or [S, h, w] averaged over S, e.g. sampler steps) upsampled
 * bilinearly to the image's size (half-pixel centres, as PyTorch's bilinear
 * interpolate with align_corners = false), normalized to 0..1, coloured and blended
 * over `image` (u8 [H, W, 3 | 4]; alpha of a 4-channel image ignored) with opacity
 * `alpha`. Result u8 [title strip + H', W', 3]. */
fokus_status fokus_overlay(fokus_ctx *ctx, const fokus_tensor *image, const fokus_tensor *map,
                           const fokus_overlay_opts *opts, const fokus_tensor *dst, fokus_tensor *out,
                           fokus_error *err);

typedef struct fokus_sheet_opts {
    int cols;                        /* pictures per row; <= 0: ceil(sqrt(1.5 n)) */
    const char *const *labels;       /* NULL or one caption per picture */
    const char *title;               /* NULL or lines (split at \n) above the grid */
    const char *colorbar;            /* NULL or a colormap name: a 0..1 colour bar right */
    const char *colorbar_label;      /* NULL or its caption */
    const fokus_font *font;
} fokus_sheet_opts;

/* Lays out n pictures (u8 [H_i, W_i, 3 | 4]; sizes may differ) on a white sheet in a
 * grid of equal cells (the largest picture), each centred above its caption. n in
 * 1..1024. Result u8 [H, W, 3]. */
fokus_status fokus_contact_sheet(fokus_ctx *ctx, const fokus_tensor *const *images, size_t n,
                                 const fokus_sheet_opts *opts, const fokus_tensor *dst, fokus_tensor *out,
                                 fokus_error *err);

/* ------------------------------------------------------------------------------------
 * PNG files
 * ---------------------------------------------------------------------------------- */

/* One text chunk: keyword (1..79 bytes of printable Latin-1, no leading, trailing or
 * double spaces, as the PNG spec requires) and value (any bytes; UTF-8 expected). */
typedef struct fokus_png_text {
    const char *key;
    const char *value;
    size_t len;
} fokus_png_text;

/* Writes a u8 image [H, W] or [H, W, C] (C = 1..4, any strides) as PNG with the given
 * text chunks right after the header: a value of plain ASCII as tEXt, anything else as
 * an uncompressed iTXt (UTF-8), so ComfyUI's readers find "prompt" and "workflow"
 * where it puts them. Atomic: the bytes go to a temporary file in the same directory,
 * are fsynced and renamed over `path`; on any failure no file (neither `path` nor the
 * temporary) is left behind and an existing `path` is untouched. Bad image or keyword:
 * FOKUS_EINVAL; file problems: FOKUS_EIO with the system's reason. */
fokus_status fokus_png_save(const char *path, const fokus_tensor *img, const fokus_png_text *text, size_t n_text,
                            fokus_error *err);

/* Reads a PNG (1..4 channels, 8 or 16 bits, decoded by stb_image to 8 bits) into a new
 * u8 [H, W, C] tensor and its tEXt / iTXt / zTXt chunks into a malloc'd array (*text,
 * *n_text; free with fokus_png_text_free; pass NULL to skip). Every chunk length and
 * CRC is checked; files over 256 MiB or images over 16384 px a side are refused
 * (FOKUS_EFORMAT), a missing file is FOKUS_EIO. */
fokus_status fokus_png_load(fokus_ctx *ctx, const char *path, fokus_tensor *img, fokus_png_text **text,
                            size_t *n_text, fokus_error *err);
void fokus_png_text_free(fokus_png_text *text, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* FOKUS_IMAGE_H */
