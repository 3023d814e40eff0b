/* PNG files: stb_image_write encodes the pixels; the text chunks that carry a
 * workflow (as ComfyUI's "prompt" and "workflow") are spliced in after the header with
 * zlib's CRC-32; the file is written atomically. Reading decodes with stb_image and
 * walks the chunks with every length and CRC checked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include "image/image_internal.h"

#define PNG_SIG_LEN 8
#define IHDR_END (PNG_SIG_LEN + 8 + 13 + 4) /* signature, IHDR length + type, data, CRC */
#define PNG_MAX_FILE (256u << 20)
#define PNG_MAX_SIDE 16384

static const unsigned char png_sig[PNG_SIG_LEN] = {137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* PNG keywords: 1..79 printable Latin-1 bytes, no leading, trailing or double spaces. */
static bool keyword_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n < 1 || n > 79 || k[0] == ' ' || k[n - 1] == ' ') return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (!((c >= 32 && c <= 126) || c >= 161)) return false;
        if (c == ' ' && k[i + 1] == ' ') return false;
    }
    return true;
}

static bool is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80 || s[i] == 0) return false;
    return true;
}

/* Size of one text chunk: tEXt is keyword NUL text; iTXt is keyword NUL, compression
 * flag 0, method 0, empty language tag NUL, empty translated keyword NUL, UTF-8 text. */
static size_t text_chunk_data_len(const fokus_png_text *t)
{
    return strlen(t->key) + 1 + (is_ascii(t->value, t->len) ? 0 : 4) + t->len;
}

static unsigned char *write_text_chunk(unsigned char *p, const fokus_png_text *t)
{
    bool ascii = is_ascii(t->value, t->len);
    size_t klen = strlen(t->key), len = text_chunk_data_len(t);
    put_u32(p, (uint32_t)len);
    memcpy(p + 4, ascii ? "tEXt" : "iTXt", 4);
    unsigned char *d = p + 8;
    memcpy(d, t->key, klen + 1);
    d += klen + 1;
    if (!ascii) {
        memcpy(d, "\0\0\0\0", 4);
        d += 4;
    }
    memcpy(d, t->value, t->len);
    d += t->len;
    /* the CRC covers the chunk type and data, not the length */
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 4, (uInt)(len + 4));
    put_u32(d, (uint32_t)crc);
    return d + 4;
}

/* The encoder's output, gathered in memory (the text chunks go in after its header). */
typedef struct mem_sink {
    unsigned char *p;
    size_t n, cap;
    bool failed;
} mem_sink;

static void sink_write(void *ctx, void *data, int size)
{
    mem_sink *s = ctx;
    if (s->failed || size <= 0) return;
    if (s->n + (size_t)size > s->cap) {
        size_t nc = (s->cap ? s->cap * 2 : 65536) + (size_t)size;
        unsigned char *p = realloc(s->p, nc);
        if (!p) {
            s->failed = true;
            return;
        }
        s->p = p;
        s->cap = nc;
    }
    memcpy(s->p + s->n, data, (size_t)size);
    s->n += (size_t)size;
}

/* Writes n bytes to a new temporary file beside `path`, then renames it into place. */
static fokus_status write_atomic(const char *path, const unsigned char *bytes, size_t n, fokus_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return fokus_fail(err, FOKUS_EIO, "%s", strerror(e));
    }
    int e = 0;
    if (fchmod(fd, 0644) != 0) e = errno;
    for (size_t off = 0; !e && off < n;) {
        ssize_t w = write(fd, bytes + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) e = w < 0 ? errno : EIO;
        else off += (size_t)w;
    }
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) unlink(tmp);
    free(tmp);
    if (e) return fokus_fail(err, FOKUS_EIO, "%s", strerror(e));
    return FOKUS_OK;
}

fokus_status fokus_png_save(const char *path, const fokus_tensor *img, const fokus_png_text *text, size_t n_text,
                            fokus_error *err)
{
    char b[128];
    if (img->dtype != FOKUS_U8 || (img->ndim != 2 && img->ndim != 3))
        return fokus_fail(err, FOKUS_EINVAL, "save_png: expected a u8 image [H, W] or [H, W, C], got %s %s",
                          fokus_dtype_name(img->dtype), fokus_shape_str(img, b, sizeof b));
    int64_t h = img->shape[0], w = img->shape[1], c = img->ndim == 3 ? img->shape[2] : 1;
    if (c < 1 || c > 4 || h < 1 || w < 1 || h > 65535 || w > 65535)
        return fokus_fail(err, FOKUS_EINVAL, "save_png: image %s: expected 1..4 channels and 1..65535 pixels a side",
                          fokus_shape_str(img, b, sizeof b));
    size_t extra = 0;
    for (size_t i = 0; i < n_text; i++) {
        if (!keyword_ok(text[i].key))
            return fokus_fail(err, FOKUS_EINVAL,
                              "save_png: text key '%s': expected 1..79 printable Latin-1 characters without leading, "
                              "trailing or double spaces",
                              text[i].key ? text[i].key : "(null)");
        if (!text[i].value || text[i].len > (64u << 20))
            return fokus_fail(err, FOKUS_EINVAL, "save_png: text '%s': value missing or over 64 MiB", text[i].key);
        if (memchr(text[i].value, 0, text[i].len))
            return fokus_fail(err, FOKUS_EINVAL, "save_png: text '%s': the value holds a NUL byte (PNG text cannot)",
                              text[i].key);
        extra += text_chunk_data_len(&text[i]) + 12;
    }
    fokus_tensor cimg;
    fokus_status st = fokus_tensor_contiguous(&cimg, img, err);
    if (st != FOKUS_OK) return st;
    mem_sink sink = {NULL, 0, 0, false};
    int ok = stbi_write_png_to_func(sink_write, &sink, (int)w, (int)h, (int)c, cimg.data, (int)(w * c));
    fokus_tensor_release(&cimg);
    unsigned char *png = sink.p;
    size_t len = sink.n;
    if (!ok || sink.failed || len < IHDR_END || memcmp(png, png_sig, PNG_SIG_LEN) != 0) {
        free(png);
        return fokus_fail(err, FOKUS_ENOMEM, "save_png: the PNG encoder failed (out of memory)");
    }
    unsigned char *file = malloc(len + extra);
    if (!file) {
        free(png);
        return fokus_fail(err, FOKUS_ENOMEM, "save_png: out of memory");
    }
    memcpy(file, png, IHDR_END);
    unsigned char *p = file + IHDR_END;
    for (size_t i = 0; i < n_text; i++) p = write_text_chunk(p, &text[i]);
    memcpy(p, png + IHDR_END, len - IHDR_END);
    free(png);
    st = write_atomic(path, file, len + extra, err);
    free(file);
    return st;
}

/* ------------------------------------------------------------------------------ reading */

static fokus_status read_file(const char *path, unsigned char **out, size_t *n, fokus_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return fokus_fail(err, FOKUS_EIO, "%s", strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return fokus_fail(err, FOKUS_EIO, "cannot read the file (not a regular file?)");
    }
    if ((unsigned long)size > PNG_MAX_FILE) {
        fclose(f);
        return fokus_fail(err, FOKUS_EFORMAT, "file of %ld bytes, over the 256 MiB limit", size);
    }
    unsigned char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(buf);
        return fokus_fail(err, FOKUS_EIO, "short read");
    }
    *out = buf;
    *n = got;
    return FOKUS_OK;
}

void fokus_png_text_free(fokus_png_text *text, size_t n)
{
    for (size_t i = 0; text && i < n; i++) {
        free((char *)text[i].key);
        free((char *)text[i].value);
    }
    free(text);
}

/* Appends one chunk's keyword and text (already decompressed) to the list. */
static fokus_status add_text(fokus_png_text **list, size_t *n, size_t *cap, const unsigned char *key, size_t klen,
                             const unsigned char *val, size_t vlen, fokus_error *err)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        fokus_png_text *l = realloc(*list, nc * sizeof *l);
        if (!l) return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
        *list = l;
        *cap = nc;
    }
    char *k = malloc(klen + 1), *v = malloc(vlen + 1);
    if (!k || !v) {
        free(k);
        free(v);
        return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    }
    memcpy(k, key, klen);
    k[klen] = 0;
    memcpy(v, val, vlen);
    v[vlen] = 0;
    (*list)[(*n)++] = (fokus_png_text){k, v, vlen};
    return FOKUS_OK;
}

/* zlib-inflates a zTXt / compressed iTXt value, refusing more than 64 MiB of text. */
static fokus_status inflate_text(const unsigned char *src, size_t n, unsigned char **out, size_t *outn,
                                 fokus_error *err)
{
    size_t cap = n * 4 + 64, limit = 64u << 20;
    for (;;) {
        unsigned char *buf = malloc(cap);
        if (!buf) return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
        uLongf got = (uLongf)cap;
        int r = uncompress(buf, &got, src, (uLong)n);
        if (r == Z_OK) {
            *out = buf;
            *outn = got;
            return FOKUS_OK;
        }
        free(buf);
        if (r != Z_BUF_ERROR || cap >= limit) return fokus_fail(err, FOKUS_EFORMAT, "a compressed text chunk is corrupt");
        cap = cap * 4 > limit ? limit : cap * 4;
    }
}

/* One tEXt, zTXt or iTXt chunk's data -> keyword and text. */
static fokus_status parse_text(const char *type, const unsigned char *d, size_t n, fokus_png_text **list,
                               size_t *count, size_t *cap, fokus_error *err)
{
    const unsigned char *nul = memchr(d, 0, n);
    if (!nul || nul == d) return fokus_fail(err, FOKUS_EFORMAT, "a %s chunk has no keyword", type);
    size_t klen = (size_t)(nul - d), off = klen + 1;
    bool compressed = false;
    if (!strcmp(type, "zTXt")) {
        if (off + 1 > n) return fokus_fail(err, FOKUS_EFORMAT, "a zTXt chunk is truncated");
        compressed = true;
        off += 1;
    } else if (!strcmp(type, "iTXt")) {
        if (off + 2 > n) return fokus_fail(err, FOKUS_EFORMAT, "an iTXt chunk is truncated");
        compressed = d[off] != 0;
        off += 2;
        for (int skip = 0; skip < 2; skip++) { /* language tag, translated keyword */
            const unsigned char *z = off < n ? memchr(d + off, 0, n - off) : NULL;
            if (!z) return fokus_fail(err, FOKUS_EFORMAT, "an iTXt chunk is truncated");
            off = (size_t)(z - d) + 1;
        }
    }
    if (!compressed) return add_text(list, count, cap, d, klen, d + off, n - off, err);
    unsigned char *txt = NULL;
    size_t tn = 0;
    fokus_status st = inflate_text(d + off, n - off, &txt, &tn, err);
    if (st != FOKUS_OK) return st;
    st = add_text(list, count, cap, d, klen, txt, tn, err);
    free(txt);
    return st;
}

static fokus_status read_chunks(const unsigned char *buf, size_t n, fokus_png_text **list, size_t *count,
                                fokus_error *err)
{
    size_t cap = 0, off = PNG_SIG_LEN;
    if (n < PNG_SIG_LEN || memcmp(buf, png_sig, PNG_SIG_LEN) != 0)
        return fokus_fail(err, FOKUS_EFORMAT, "not a PNG file (bad signature)");
    for (;;) {
        if (n - off < 12) return fokus_fail(err, FOKUS_EFORMAT, "truncated (chunk header at byte %zu)", off);
        uint32_t len = get_u32(buf + off);
        if (len > n - off - 12)
            return fokus_fail(err, FOKUS_EFORMAT, "chunk at byte %zu claims %u bytes, past the end", off, len);
        char type[5];
        memcpy(type, buf + off + 4, 4);
        type[4] = 0;
        uLong crc = crc32(crc32(0L, Z_NULL, 0), buf + off + 4, (uInt)len + 4);
        if ((uint32_t)crc != get_u32(buf + off + 8 + len))
            return fokus_fail(err, FOKUS_EFORMAT, "chunk '%s' at byte %zu has a bad CRC", type, off);
        if (list && (!strcmp(type, "tEXt") || !strcmp(type, "zTXt") || !strcmp(type, "iTXt"))) {
            fokus_status st = parse_text(type, buf + off + 8, len, list, count, &cap, err);
            if (st != FOKUS_OK) return st;
        }
        off += 12 + (size_t)len;
        if (!strcmp(type, "IEND")) return FOKUS_OK;
    }
}

fokus_status fokus_png_load(fokus_ctx *ctx, const char *path, fokus_tensor *img, fokus_png_text **text,
                            size_t *n_text, fokus_error *err)
{
    memset(img, 0, sizeof *img);
    fokus_png_text *list = NULL;
    size_t count = 0;
    if (text) *text = NULL;
    if (n_text) *n_text = 0;
    unsigned char *buf = NULL;
    size_t n = 0;
    fokus_status st = read_file(path, &buf, &n, err);
    if (st != FOKUS_OK) return st;
    st = read_chunks(buf, n, text ? &list : NULL, &count, err);
    int w, h, c;
    if (st == FOKUS_OK && (!stbi_info_from_memory(buf, (int)n, &w, &h, &c) || w < 1 || h < 1 || w > PNG_MAX_SIDE ||
                           h > PNG_MAX_SIDE || c < 1 || c > 4))
        st = fokus_fail(err, FOKUS_EFORMAT, "cannot decode the image (%s)",
                        stbi_failure_reason() ? stbi_failure_reason() : "bad header");
    unsigned char *px = NULL;
    if (st == FOKUS_OK && !(px = stbi_load_from_memory(buf, (int)n, &w, &h, &c, 0)))
        st = fokus_fail(err, FOKUS_EFORMAT, "cannot decode the image (%s)",
                        stbi_failure_reason() ? stbi_failure_reason() : "corrupt data");
    free(buf);
    if (st == FOKUS_OK) {
        int64_t shape[3] = {h, w, c};
        st = fokus_tensor_empty_ctx(ctx, img, FOKUS_U8, 3, shape, err);
        if (st == FOKUS_OK) memcpy(img->data, px, (size_t)w * (size_t)h * (size_t)c);
    }
    stbi_image_free(px);
    if (st != FOKUS_OK) {
        fokus_png_text_free(list, count);
        return st;
    }
    if (text) *text = list;
    if (n_text) *n_text = count;
    return FOKUS_OK;
}
