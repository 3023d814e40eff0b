/* Colour maps for heat maps: a value in [0, 1] -> RGB.
 *
 * viridis and magma are the perceptually uniform maps of matplotlib (van der Walt and
 * Smith, CC0). Here each is sampled at 9 evenly spaced points (the 9-colour palettes
 * published for them, e.g. R's viridisLite) and interpolated linearly in RGB between
 * them: within 2-3 levels of the 256-entry tables, with brightness still monotonic,
 * which is what a reader of a heat map relies on. */
#include <math.h>
#include <string.h>

#include "image/image_internal.h"

struct fokus_colormap {
    const char *name;
    int n;
    uint8_t rgb[9][3];
};

static const fokus_colormap maps[] = {
    {"viridis",
     9,
     {{68, 1, 84},
      {72, 40, 120},
      {62, 73, 137},
      {49, 104, 142},
      {38, 130, 142},
      {31, 158, 137},
      {53, 183, 121},
      {110, 206, 88},
      {253, 231, 37}}},
    {"magma",
     9,
     {{0, 0, 4},
      {28, 16, 68},
      {79, 18, 123},
      {129, 37, 129},
      {181, 54, 122},
      {229, 89, 100},
      {251, 135, 97},
      {254, 194, 135},
      {252, 253, 191}}},
    {"gray", 2, {{0, 0, 0}, {255, 255, 255}}},
};

const fokus_colormap *fokus_colormap_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof maps / sizeof *maps; i++)
        if (strcmp(maps[i].name, name) == 0) return &maps[i];
    return NULL;
}

void fokus_colormap_rgb(const fokus_colormap *cm, double x, uint8_t rgb[3])
{
    if (!(x > 0)) x = 0; /* NaN maps to the low end */
    if (x > 1) x = 1;
    double pos = x * (cm->n - 1);
    int i = (int)pos;
    if (i > cm->n - 2) i = cm->n - 2;
    double f = pos - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (uint8_t)lround(cm->rgb[i][c] + f * (cm->rgb[i + 1][c] - cm->rgb[i][c]));
}
