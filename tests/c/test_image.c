/* core/image from C: colour map ends, fonts (TrueType, search fallback, built-in),
 * UTF-8 text, heat map layout, overlays, contact sheets, PNG text chunks read back
 * with stb_image, atomic writes and corrupt files. */
#include <dirent.h>
#include <unistd.h>

#include "check.h"
#include "fokus.h"

#include <stb/stb_image.h>

static fokus_tensor white(int h, int w)
{
    fokus_tensor t;
    int64_t shape[3] = {h, w, 3};
    fokus_error err;
    fokus_tensor_new(&t, FOKUS_U8, 3, shape, &err);
    memset(t.data, 255, (size_t)h * (size_t)w * 3);
    return t;
}

static int count_ink(const fokus_tensor *t)
{
    int n = 0;
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < fokus_tensor_numel(t); i++) n += p[i] != 255;
    return n;
}

static void test_colormaps(void)
{
    uint8_t c[3];
    const fokus_colormap *v = fokus_colormap_find("viridis"), *m = fokus_colormap_find("magma"),
                         *g = fokus_colormap_find("gray");
    CHECK(v && m && g);
    CHECK(fokus_colormap_find("jet") == NULL && fokus_colormap_find(NULL) == NULL);
    fokus_colormap_rgb(v, 0, c);
    CHECK(c[0] == 68 && c[1] == 1 && c[2] == 84);
    fokus_colormap_rgb(v, 1, c);
    CHECK(c[0] == 253 && c[1] == 231 && c[2] == 37);
    fokus_colormap_rgb(m, -5, c); /* clamped */
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 4);
    fokus_colormap_rgb(m, NAN, c); /* NaN -> low end */
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 4);
    fokus_colormap_rgb(m, 7, c);
    CHECK(c[0] == 252 && c[1] == 253 && c[2] == 191);
    fokus_colormap_rgb(g, 0.5, c);
    CHECK(c[0] == 128 && c[1] == 128 && c[2] == 128);
}

static void test_fonts(void)
{
    fokus_error err;
    fokus_font *f = NULL;
    /* a search over missing files ends at the built-in font, never an error */
    const char *none[] = {"/nonexistent/a.ttf", NULL, "", "/etc/hostname"};
    CHECK(fokus_font_search(&f, none, 4, &err) == FOKUS_OK);
    CHECK(!fokus_font_is_truetype(f));
    CHECK_STR(fokus_font_name(f), "stb_easy_font");
    CHECK(fokus_text_width(f, "abc", 10) > 0);
    CHECK(fokus_text_height(f, 10) == 11);
    fokus_tensor img = white(20, 60);
    uint8_t ink[3] = {0, 0, 0};
    CHECK(fokus_draw_text(&img, f, "caf\xc3\xa9", 10, 1, 1, ink, false, &err) == FOKUS_OK);
    CHECK(count_ink(&img) > 10);
    fokus_tensor_release(&img);
    fokus_font_free(f);

    /* a named file that is missing or not a font is an error */
    CHECK(fokus_font_open(&f, "/nonexistent/a.ttf", &err) == FOKUS_EIO);
    CHECK(strstr(err.msg, "/nonexistent/a.ttf") != NULL);
    CHECK(fokus_font_open(&f, "/etc/hostname", &err) != FOKUS_OK);

    /* the default: DejaVu when fonts-dejavu-core is installed */
    CHECK(fokus_font_open(&f, NULL, &err) == FOKUS_OK);
    if (!fokus_font_is_truetype(f)) {
        check_skip("no TrueType font (install fonts-dejavu-core): anti-aliased text not checked");
        fokus_font_free(f);
        return;
    }
    /* ASCII and non-ASCII (Latin, Cyrillic, Greek) leave ink; the accent adds some */
    const char *texts[] = {"cat", "\xc3\xa9", "\xd0\x96", "\xce\xa9", "e"};
    int inks[5];
    for (int i = 0; i < 5; i++) {
        img = white(30, 40);
        CHECK(fokus_draw_text(&img, f, texts[i], 20, 2, 2, ink, false, &err) == FOKUS_OK);
        inks[i] = count_ink(&img);
        CHECK_MSG(inks[i] > 10, "text %d leaves ink (%d)", i, inks[i]);
        fokus_tensor_release(&img);
    }
    CHECK(inks[1] > inks[4]);
    /* malformed UTF-8 (lone continuation, truncated sequence, overlong, surrogate) */
    img = white(30, 200);
    CHECK(fokus_draw_text(&img, f, "a\x80" "b\xe2\x82" "c\xc0\xaf" "d\xed\xa0\x80", 14, 0, 0, ink, false, &err) == FOKUS_OK);
    CHECK(count_ink(&img) > 10);
    /* clipped far outside the image: no ink, no crash */
    fokus_tensor_release(&img);
    img = white(10, 10);
    CHECK(fokus_draw_text(&img, f, "far away", 14, 500, -300, ink, true, &err) == FOKUS_OK);
    CHECK(count_ink(&img) == 0);
    CHECK(fokus_draw_text(&img, f, "x", 1000, 0, 0, ink, false, &err) == FOKUS_EINVAL);
    fokus_tensor_release(&img);
    fokus_font_free(f);
}

static void test_heatmap(void)
{
    fokus_error err;
    fokus_tensor map, out = {0};
    int64_t shape[2] = {3, 2};
    fokus_tensor_new(&map, FOKUS_F32, 2, shape, &err);
    for (int i = 0; i < 6; i++) ((float *)map.data)[i] = (float)i;
    CHECK(fokus_heatmap(NULL, &map, NULL, NULL, &out, &err) == FOKUS_OK);
    CHECK(out.shape[0] == 3 * 64 && out.shape[1] == 2 * 64 && out.shape[2] == 3); /* cell capped at 64 */
    fokus_tensor_release(&out);
    const char *rows[] = {"a", "b", "c"}, *cols[] = {"x", "y"};
    fokus_heatmap_opts o = {10, NAN, NAN, "viridis", rows, 3, cols, 2, "title", true, "p", NULL};
    CHECK(fokus_heatmap(NULL, &map, &o, NULL, &out, &err) == FOKUS_OK);
    CHECK(out.shape[0] > 30 && out.shape[1] > 20);
    fokus_tensor_release(&out);
    o.n_row_labels = 2;
    CHECK(fokus_heatmap(NULL, &map, &o, NULL, &out, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "2 row labels for 3 rows") != NULL);
    o.n_row_labels = 3;
    o.colormap = "jet";
    CHECK(fokus_heatmap(NULL, &map, &o, NULL, &out, &err) == FOKUS_EINVAL);
    o.colormap = NULL;
    o.vmin = 0;
    o.vmax = INFINITY;
    CHECK(fokus_heatmap(NULL, &map, &o, NULL, &out, &err) == FOKUS_EINVAL);
    fokus_tensor_release(&map);
}

static void test_sheet_and_overlay(void)
{
    fokus_error err;
    fokus_tensor a = white(8, 6), b = white(4, 4), out = {0};
    const fokus_tensor *imgs[2] = {&a, &b};
    CHECK(fokus_contact_sheet(NULL, imgs, 2, NULL, NULL, &out, &err) == FOKUS_OK);
    /* two columns of the largest picture (6 x 8) with 10 px gaps */
    CHECK(out.shape[0] == 10 + 8 + 10 && out.shape[1] == 10 + 2 * 16);
    fokus_tensor_release(&out);
    CHECK(fokus_contact_sheet(NULL, imgs, 0, NULL, NULL, &out, &err) == FOKUS_EINVAL);

    fokus_tensor map;
    int64_t s2[2] = {2, 2};
    fokus_tensor_new(&map, FOKUS_F32, 2, s2, &err);
    float *m = map.data;
    m[0] = 0, m[1] = 1, m[2] = 0, m[3] = 1;
    fokus_overlay_opts o = {"gray", 1.0, NAN, NAN, NULL, 0, NULL};
    fokus_tensor black;
    int64_t s3[3] = {4, 4, 3};
    fokus_tensor_new(&black, FOKUS_U8, 3, s3, &err);
    CHECK(fokus_overlay(NULL, &black, &map, &o, NULL, &out, &err) == FOKUS_OK);
    const uint8_t *p = out.data;
    CHECK(p[0] == 0 && p[3] == 64 && p[6] == 191 && p[9] == 255);
    fokus_tensor_release(&out);
    o.alpha = -1;
    CHECK(fokus_overlay(NULL, &black, &map, &o, NULL, &out, &err) == FOKUS_EINVAL);
    fokus_tensor_release(&black);
    fokus_tensor_release(&map);
    fokus_tensor_release(&a);
    fokus_tensor_release(&b);
}

/* Reads a file whole (test helper). */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)size + 1);
    *n = fread(b, 1, (size_t)size, f);
    fclose(f);
    return b;
}

static int entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void test_png(void)
{
    char dir[] = "/tmp/fokus_test_image_XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a.png", dir);
    fokus_error err;
    fokus_tensor img = white(5, 7), back = {0};
    ((uint8_t *)img.data)[0] = 1;
    const char *wf = "{\"1\": {\"class_type\": \"tokenize\", \"inputs\": {}}}";
    fokus_png_text text[2] = {{"workflow", wf, strlen(wf)}, {"prompt", "gr\xc3\xbcn", 5}};
    CHECK(fokus_png_save(path, &img, text, 2, &err) == FOKUS_OK);
    /* stb_image reads it at the expected size */
    int w, h, c;
    unsigned char *px = stbi_load(path, &w, &h, &c, 0);
    CHECK(px && w == 7 && h == 5 && c == 3 && px[0] == 1 && px[1] == 255);
    stbi_image_free(px);
    /* and the chunks come back */
    fokus_png_text *got = NULL;
    size_t n = 0;
    CHECK(fokus_png_load(NULL, path, &back, &got, &n, &err) == FOKUS_OK);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(got[0].key, "workflow");
        CHECK_STR(got[0].value, wf);
        CHECK_STR(got[1].key, "prompt");
        CHECK_STR(got[1].value, "gr\xc3\xbcn");
    }
    CHECK(back.shape[0] == 5 && back.shape[1] == 7 && memcmp(back.data, img.data, 105) == 0);
    fokus_png_text_free(got, n);
    fokus_tensor_release(&back);
    size_t len = 0;
    unsigned char *bytes = slurp(path, &len);
    CHECK(bytes && len > 60 && memcmp(bytes + 37, "tEXtworkflow", 12) == 0); /* right after IHDR */

    /* a corrupt chunk CRC, a truncated file */
    char bad[256];
    snprintf(bad, sizeof bad, "%s/bad.png", dir);
    bytes[45] ^= 1;
    FILE *f = fopen(bad, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    CHECK(fokus_png_load(NULL, bad, &back, &got, &n, &err) == FOKUS_EFORMAT);
    CHECK(strstr(err.msg, "bad CRC") != NULL);
    f = fopen(bad, "wb");
    fwrite(bytes, 1, 50, f);
    fclose(f);
    CHECK(fokus_png_load(NULL, bad, &back, NULL, NULL, &err) == FOKUS_EFORMAT);
    free(bytes);
    unlink(bad);
    CHECK(fokus_png_load(NULL, "/nonexistent.png", &back, NULL, NULL, &err) == FOKUS_EIO);

    /* atomic: bad keyword or unwritable target leave nothing behind and the old file intact */
    fokus_png_text badkey = {"two  spaces", "x", 1};
    CHECK(fokus_png_save(path, &img, &badkey, 1, &err) == FOKUS_EINVAL);
    snprintf(bad, sizeof bad, "%s/sub", dir);
    mkdir(bad, 0755);
    CHECK(fokus_png_save(bad, &img, NULL, 0, &err) == FOKUS_EIO); /* rename onto a directory */
    CHECK(entries(dir) == 2);                                     /* a.png and sub only */
    CHECK(fokus_png_load(NULL, path, &back, &got, &n, &err) == FOKUS_OK && n == 2);
    fokus_png_text_free(got, n);
    fokus_tensor_release(&back);
    rmdir(bad);
    unlink(path);
    rmdir(dir);
    fokus_tensor_release(&img);
}

int main(void)
{
    RUN(test_colormaps);
    RUN(test_fonts);
    RUN(test_heatmap);
    RUN(test_sheet_and_overlay);
    RUN(test_png);
    return check_summary("test_image");
}
