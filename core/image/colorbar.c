/* The colour bar beside a heat map: the ramp, "nice" tick values (1, 2 or 5 times a
 * power of ten, as plotting libraries choose them) and an optional caption. */
#include <math.h>
#include <stdio.h>

#include "image/image_internal.h"

#define BAR_GAP 14   /* between the map and the bar */
#define BAR_W 16
#define TICK_LEN 4
#define MAX_TICKS 12

/* Tick values inside [lo, hi]: about five, at multiples of a nice step; `decimals`
 * is how many digits after the point the step needs. A flat range gets one tick. */
static int ticks(double lo, double hi, double *t, int *decimals)
{
    *decimals = 0;
    if (!(hi > lo) || !isfinite(hi - lo)) {
        t[0] = lo;
        *decimals = isfinite(lo) && lo != floor(lo) ? 3 : 0;
        return 1;
    }
    double raw = (hi - lo) / 4, mag = pow(10, floor(log10(raw))), step = mag;
    if (raw / mag > 5) step = 10 * mag;
    else if (raw / mag > 2) step = 5 * mag;
    else if (raw / mag > 1) step = 2 * mag;
    int d = (int)-floor(log10(step) + 1e-9);
    *decimals = d > 0 ? d : 0;
    int n = 0;
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < MAX_TICKS; v += step) {
        t[n++] = fabs(v) < step * 1e-9 ? 0 : v; /* no "-0" */
    }
    return n;
}

static void tick_text(double v, int decimals, char *buf, size_t size)
{
    if (fabs(v) >= 1e6 || (fabs(v) < 1e-4 && v != 0) || decimals > 6) snprintf(buf, size, "%.2g", v);
    else snprintf(buf, size, "%.*f", decimals, v);
}

int colorbar_width(const fokus_font *f, double vmin, double vmax, const char *label)
{
    double t[MAX_TICKS];
    int dec, n = ticks(vmin, vmax, t, &dec), w = 0;
    for (int i = 0; i < n; i++) {
        char b[64];
        tick_text(t[i], dec, b, sizeof b);
        int tw = fokus_text_width(f, b, IMG_TICK_PX);
        if (tw > w) w = tw;
    }
    int lw = label && *label ? fokus_text_height(f, IMG_TICK_PX) + 8 : 0;
    return BAR_GAP + BAR_W + TICK_LEN + 3 + w + 4 + lw;
}

void colorbar_draw(canvas *c, const fokus_font *f, const fokus_colormap *cm, double vmin, double vmax, int x, int y,
                   int h, const char *label)
{
    int bx = x + BAR_GAP;
    for (int yy = 0; yy < h; yy++) {
        uint8_t rgb[3];
        fokus_colormap_rgb(cm, h > 1 ? 1.0 - (double)yy / (h - 1) : 1.0, rgb);
        canvas_fill(c, bx, y + yy, BAR_W, 1, rgb);
    }
    /* a thin frame so the light end of the ramp stays visible on white */
    canvas_fill(c, bx - 1, y - 1, BAR_W + 2, 1, img_ink);
    canvas_fill(c, bx - 1, y + h, BAR_W + 2, 1, img_ink);
    canvas_fill(c, bx - 1, y, 1, h, img_ink);
    canvas_fill(c, bx + BAR_W, y, 1, h, img_ink);
    double t[MAX_TICKS];
    int dec, n = ticks(vmin, vmax, t, &dec), th = fokus_text_height(f, IMG_TICK_PX), tw = 0;
    for (int i = 0; i < n; i++) {
        double frac = vmax > vmin ? (t[i] - vmin) / (vmax - vmin) : 0.5;
        int ty = y + (int)lround((1 - frac) * (h - 1));
        canvas_fill(c, bx + BAR_W, ty, TICK_LEN, 1, img_ink);
        char b[64];
        tick_text(t[i], dec, b, sizeof b);
        canvas_text(c, f, b, IMG_TICK_PX, bx + BAR_W + TICK_LEN + 3, ty - th / 2, img_ink, false);
        int w = fokus_text_width(f, b, IMG_TICK_PX);
        if (w > tw) tw = w;
    }
    /* the caption runs up along the bar, centred on it, as in matplotlib */
    if (label && *label) {
        int lw = fokus_text_width(f, label, IMG_TICK_PX);
        canvas_text(c, f, label, IMG_TICK_PX, bx + BAR_W + TICK_LEN + 3 + tw + 8, y + (h - lw) / 2, img_ink, true);
    }
}
