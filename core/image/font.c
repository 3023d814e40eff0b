/* Text for pictures: UTF-8 lines set in a TrueType font with anti-aliasing
 * (stb_truetype, Debian's libstb), or in stb_easy_font's built-in blocky ASCII glyphs
 * when no font file is at hand, so a picture always gets its labels. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_easy_font.h>
#include <stb/stb_truetype.h>

#include "image/image_internal.h"

struct fokus_font {
    bool truetype;
    unsigned char *data; /* the whole font file (stb_truetype reads from it) */
    stbtt_fontinfo info;
    int ascent, descent, line_gap;
    char name[256];
};

/* Debian's fonts-dejavu-core puts DejaVu Sans here (older releases: the second). */
static const char *const default_paths[] = {
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
};

fokus_status fokus_font_builtin(fokus_font **out, fokus_error *err)
{
    fokus_font *f = calloc(1, sizeof *f);
    *out = f;
    if (!f) return fokus_fail(err, FOKUS_ENOMEM, "font: out of memory");
    snprintf(f->name, sizeof f->name, "stb_easy_font");
    return FOKUS_OK;
}

/* Reads and parses a font file; FOKUS_EIO / FOKUS_EFORMAT with the reason. */
static fokus_status load_truetype(const char *path, fokus_font **out, fokus_error *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return fokus_fail(err, FOKUS_EIO, "%s: %s", path, strerror(errno));
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0) size = ftell(fp);
    if (size < 12 || size > (64L << 20) || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return fokus_fail(err, FOKUS_EFORMAT, "%s: not a font file (size %ld)", path, size);
    }
    fokus_font *f = calloc(1, sizeof *f);
    unsigned char *data = malloc((size_t)size);
    if (!f || !data) {
        fclose(fp);
        free(f);
        free(data);
        return fokus_fail(err, FOKUS_ENOMEM, "font: out of memory");
    }
    size_t got = fread(data, 1, (size_t)size, fp);
    fclose(fp);
    int offset = got == (size_t)size ? stbtt_GetFontOffsetForIndex(data, 0) : -1;
    if (offset < 0 || !stbtt_InitFont(&f->info, data, offset)) {
        free(f);
        free(data);
        return fokus_fail(err, FOKUS_EFORMAT, "%s: not a TrueType font", path);
    }
    f->truetype = true;
    f->data = data;
    stbtt_GetFontVMetrics(&f->info, &f->ascent, &f->descent, &f->line_gap);
    snprintf(f->name, sizeof f->name, "%s", path);
    *out = f;
    return FOKUS_OK;
}

fokus_status fokus_font_open(fokus_font **out, const char *path, fokus_error *err)
{
    if (path) return load_truetype(path, out, err);
    const char *paths[3] = {getenv("FOKUS_FONT"), default_paths[0], default_paths[1]};
    return fokus_font_search(out, paths, 3, err);
}

fokus_status fokus_font_search(fokus_font **out, const char *const *paths, size_t n, fokus_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!paths[i] || !*paths[i]) continue;
        fokus_error ignored;
        if (load_truetype(paths[i], out, &ignored) == FOKUS_OK) return FOKUS_OK;
    }
    return fokus_font_builtin(out, err);
}

void fokus_font_free(fokus_font *f)
{
    if (!f) return;
    free(f->data);
    free(f);
}

const char *fokus_font_name(const fokus_font *f) { return f ? f->name : "stb_easy_font"; }

bool fokus_font_is_truetype(const fokus_font *f) { return f && f->truetype; }

/* Decodes one UTF-8 character at *p (advancing it); malformed, overlong or surrogate
 * sequences give U+FFFD and consume one byte, so every input ends. */
static int next_codepoint(const unsigned char **p)
{
    const unsigned char *s = *p;
    int c = s[0], n, cp;
    if (c < 0x80) {
        *p = s + 1;
        return c;
    }
    if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
    else {
        *p = s + 1;
        return 0xfffd;
    }
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80) { /* also stops at the terminating NUL */
            *p = s + 1;
            return 0xfffd;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const int min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        *p = s + 1;
        return 0xfffd;
    }
    *p = s + n + 1;
    return cp;
}

/* The built-in font draws on an 11 px line; it is scaled by whole pixels to stay crisp. */
static int easy_scale(double px)
{
    int s = (int)lround(px / 10.0);
    return s < 1 ? 1 : s > 8 ? 8 : s;
}

/* The text as printable ASCII for stb_easy_font: one '?' per other character. */
static char *easy_text(const char *text)
{
    size_t n = strlen(text);
    char *buf = malloc(n + 1), *o = buf;
    if (!buf) return NULL;
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        int cp = next_codepoint(&p);
        *o++ = cp >= 32 && cp < 127 ? (char)cp : '?';
    }
    *o = 0;
    return buf;
}

/* A glyph missing from the font is drawn as U+FFFD when the font has it, else '?'. */
static int glyph_of(const fokus_font *f, int cp)
{
    int g = stbtt_FindGlyphIndex(&f->info, cp);
    if (!g) g = stbtt_FindGlyphIndex(&f->info, 0xfffd);
    if (!g) g = stbtt_FindGlyphIndex(&f->info, '?');
    return g;
}

int fokus_text_height(const fokus_font *f, double px)
{
    if (!fokus_font_is_truetype(f)) return 11 * easy_scale(px);
    float s = stbtt_ScaleForPixelHeight(&f->info, (float)px);
    return (int)ceilf((float)(f->ascent - f->descent) * s);
}

int fokus_text_width(const fokus_font *f, const char *text, double px)
{
    if (!text || !*text) return 0;
    if (!fokus_font_is_truetype(f)) {
        char *t = easy_text(text);
        if (!t) return 0;
        int w = stb_easy_font_width(t) * easy_scale(px);
        free(t);
        return w;
    }
    float s = stbtt_ScaleForPixelHeight(&f->info, (float)px), x = 0;
    int prev = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        int g = glyph_of(f, next_codepoint(&p)), adv, lsb;
        if (prev) x += s * (float)stbtt_GetGlyphKernAdvance(&f->info, prev, g);
        stbtt_GetGlyphHMetrics(&f->info, g, &adv, &lsb);
        x += s * (float)adv;
        prev = g;
    }
    return (int)ceilf(x) + 1;
}

/* stb_easy_font emits quads of 4 vertices {x, y, z, rgba}, each an axis-aligned
 * rectangle; they are filled at full coverage, scaled by whole pixels. */
typedef struct easy_vertex {
    float x, y, z;
    unsigned char c[4];
} easy_vertex;

static fokus_status render_easy(const char *text, double px, text_mask *m, fokus_error *err)
{
    char *t = easy_text(text);
    if (!t) return fokus_fail(err, FOKUS_ENOMEM, "text: out of memory");
    int s = easy_scale(px);
    m->w = stb_easy_font_width(t) * s + 1;
    m->h = 11 * s; /* capitals from row 0, descenders down to row 10 */
    size_t cap = strlen(t) * 64 + 64; /* at most ~50 quads per glyph */
    easy_vertex *vb = malloc(cap * 4 * sizeof *vb);
    m->a = calloc((size_t)m->w * (size_t)m->h, 1);
    if (!vb || !m->a) {
        free(t);
        free(vb);
        free(m->a);
        m->a = NULL;
        return fokus_fail(err, FOKUS_ENOMEM, "text: out of memory");
    }
    unsigned char col[4] = {255, 255, 255, 255};
    int quads = stb_easy_font_print(0, 0, t, col, vb, (int)(cap * 4 * sizeof *vb));
    for (int q = 0; q < quads; q++) {
        const easy_vertex *v = &vb[q * 4];
        int xa = (int)lroundf(v[0].x) * s, ya = (int)lroundf(v[0].y) * s;
        int xb = (int)lroundf(v[2].x) * s, yb = (int)lroundf(v[2].y) * s;
        for (int y = ya < 0 ? 0 : ya; y < yb && y < m->h; y++)
            for (int x = xa < 0 ? 0 : xa; x < xb && x < m->w; x++) m->a[(size_t)y * (size_t)m->w + (size_t)x] = 255;
    }
    free(vb);
    free(t);
    return FOKUS_OK;
}

fokus_status font_render(const fokus_font *f, const char *text, double px, text_mask *m, fokus_error *err)
{
    memset(m, 0, sizeof *m);
    if (!text) text = "";
    if (!(px >= 4 && px <= 256)) return fokus_fail(err, FOKUS_EINVAL, "text: size %g px, expected 4..256", px);
    if (!fokus_font_is_truetype(f)) return render_easy(text, px, m, err);
    float s = stbtt_ScaleForPixelHeight(&f->info, (float)px);
    int base = (int)ceilf((float)f->ascent * s);
    m->w = fokus_text_width(f, text, px) + 2;
    m->h = fokus_text_height(f, px) + 1;
    m->a = calloc((size_t)m->w * (size_t)m->h, 1);
    if (!m->a) return fokus_fail(err, FOKUS_ENOMEM, "text: out of memory");
    uint8_t *glyph = NULL;
    size_t glyph_cap = 0;
    float x = 0;
    int prev = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        int g = glyph_of(f, next_codepoint(&p)), adv, lsb, x0, y0, x1, y1;
        if (prev) x += s * (float)stbtt_GetGlyphKernAdvance(&f->info, prev, g);
        stbtt_GetGlyphHMetrics(&f->info, g, &adv, &lsb);
        float shift = x - floorf(x); /* sub-pixel position keeps spacing even */
        stbtt_GetGlyphBitmapBoxSubpixel(&f->info, g, s, s, shift, 0, &x0, &y0, &x1, &y1);
        int gw = x1 - x0, gh = y1 - y0;
        if (gw > 0 && gh > 0) {
            if ((size_t)gw * (size_t)gh > glyph_cap) {
                free(glyph);
                glyph_cap = (size_t)gw * (size_t)gh;
                glyph = malloc(glyph_cap);
                if (!glyph) {
                    free(m->a);
                    m->a = NULL;
                    return fokus_fail(err, FOKUS_ENOMEM, "text: out of memory");
                }
            }
            stbtt_MakeGlyphBitmapSubpixel(&f->info, glyph, gw, gh, gw, s, s, shift, 0, g);
            /* glyph boxes of neighbours may overlap (kerning): keep the larger coverage */
            int ox = (int)floorf(x) + x0, oy = base + y0;
            for (int yy = 0; yy < gh; yy++) {
                int ty = oy + yy;
                if (ty < 0 || ty >= m->h) continue;
                for (int xx = 0; xx < gw; xx++) {
                    int tx = ox + xx;
                    if (tx < 0 || tx >= m->w) continue;
                    uint8_t v = glyph[(size_t)yy * (size_t)gw + (size_t)xx];
                    uint8_t *d = &m->a[(size_t)ty * (size_t)m->w + (size_t)tx];
                    if (v > *d) *d = v;
                }
            }
        }
        x += s * (float)adv;
        prev = g;
    }
    free(glyph);
    return FOKUS_OK;
}
