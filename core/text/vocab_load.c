/*
 * Loading a CLIP vocabulary: OpenAI's bpe_simple_vocab_16e6.txt(.gz), Hugging Face's
 * vocab.json + merges.txt, or a Hugging Face tokenizer.json. Every format is parsed into
 * a fokus_bpe_spec (token strings by id, merges in order) and handed to fokus_bpe_build.
 * Files are untrusted: sizes are capped, JSON goes through jansson, every field is
 * type-checked, and failures name the file.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "bpe_internal.h"
#include "textclean.h"

#define MAX_FILE_BYTES ((size_t)512 << 20)
/* SimpleTokenizer: merges[1:49152-256-2+1], i.e. the first 48,894 merge lines. */
#define OPENAI_MERGES 48894

typedef struct buf {
    char *p;
    size_t n;
} buf;

static fokus_status read_file(const char *path, buf *out, fokus_error *err)
{
    out->p = NULL;
    out->n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return fokus_fail(err, FOKUS_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    while (p) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                free(p);
                fclose(f);
                return fokus_fail(err, FOKUS_EFORMAT, "%s: larger than %zu MiB", path, MAX_FILE_BYTES >> 20);
            }
            char *q = realloc(p, cap * 2);
            if (!q) { free(p); p = NULL; break; }
            p = q;
            cap *= 2;
        }
        size_t k = fread(p + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    if (!p) {
        fclose(f);
        return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory reading the file", path);
    }
    if (ferror(f)) {
        int e = errno;
        free(p);
        fclose(f);
        return fokus_fail(err, FOKUS_EIO, "%s: read error: %s", path, strerror(e));
    }
    fclose(f);
    out->p = p;
    out->n = n;
    return FOKUS_OK;
}

/* gzip (or zlib) data to bytes, refusing more than MAX_FILE_BYTES of output. */
static fokus_status gunzip(const char *name, const buf *in, buf *out, fokus_error *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return fokus_fail(err, FOKUS_ENOMEM, "%s: cannot start zlib", name);
    size_t cap = in->n * 4 + 1024, n = 0;
    char *p = malloc(cap);
    int rc = Z_OK;
    z.next_in = (Bytef *)in->p;
    while (p) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) { rc = Z_MEM_ERROR; break; }
            char *q = realloc(p, cap * 2);
            if (!q) { free(p); p = NULL; break; }
            p = q;
            cap *= 2;
        }
        /* feed at most 1 GiB per call: avail_in is 32-bit */
        size_t used = (size_t)((const char *)z.next_in - in->p);
        size_t left = in->n - used;
        z.avail_in = (uInt)(left > (1u << 30) ? (1u << 30) : left);
        z.next_out = (Bytef *)p + n;
        z.avail_out = (uInt)((cap - n) > (1u << 30) ? (1u << 30) : (cap - n));
        size_t before = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        n += before - z.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && n < cap) break; /* truncated input */
    }
    inflateEnd(&z);
    if (!p) return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory decompressing", name);
    if (rc != Z_STREAM_END) {
        free(p);
        if (rc == Z_MEM_ERROR)
            return fokus_fail(err, FOKUS_EFORMAT, "%s: decompresses to more than %zu MiB", name,
                              MAX_FILE_BYTES >> 20);
        return fokus_fail(err, FOKUS_EFORMAT, "%s: corrupt or truncated gzip data (%s)", name,
                          rc == Z_BUF_ERROR ? "unexpected end of data" : z.msg ? z.msg : "zlib error");
    }
    out->p = p;
    out->n = n;
    return FOKUS_OK;
}

static bool valid_utf8(const char *s, size_t n, size_t *bad)
{
    fokus_ustr u = {0};
    bool ok = true;
    if (fokus_utf8_decode_spans((const unsigned char *)s, n, 0, &u) != 0) return true; /* checked later */
    for (size_t i = 0; i < u.n && ok; i++)
        if (u.cp[i] == 0xFFFD && !(u.e[i] - u.b[i] == 3 && (unsigned char)s[u.b[i]] == 0xEF)) {
            ok = false;
            *bad = u.b[i];
        }
    fokus_ustr_free(&u);
    return ok;
}

/* Splits s[0, n) at runs of ASCII whitespace into at most `max` fields; returns the
 * number of fields found (max + 1 means "more than max"). */
static int split_fields(const char *s, size_t n, fokus_bpe_str *f, int max)
{
    int k = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f')) i++;
        if (i >= n) break;
        size_t j = i;
        while (j < n && !(s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\v' || s[j] == '\f')) j++;
        if (k == max) return max + 1;
        f[k].p = s + i;
        f[k].n = j - i;
        k++;
        i = j;
    }
    return k;
}

/* ---- OpenAI bpe_simple_vocab_16e6.txt ---- */

static fokus_status build_openai(fokus_bpe **out, const char *text, size_t n, const char *name,
                                 fokus_error *err)
{
    size_t bad;
    if (!valid_utf8(text, n, &bad))
        return fokus_fail(err, FOKUS_EFORMAT, "%s: not UTF-8 (bad byte at offset %zu)", name, bad);
    fokus_bpe_str(*merges)[2] = malloc(OPENAI_MERGES * sizeof *merges);
    fokus_bpe_str *vocab = malloc((512 + OPENAI_MERGES + 2) * sizeof *vocab);
    char *syms = malloc(256 * 16); /* a byte symbol and its </w> form share 16 bytes */
    char *joined = NULL;
    fokus_status st;
    if (!merges || !vocab || !syms) {
        st = fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    /* line 0 is the header; then one merge per line */
    size_t pos = 0, nm = 0, line = 0, joined_len = 0;
    while (pos <= n && nm < OPENAI_MERGES) {
        size_t e = pos;
        while (e < n && text[e] != '\n') e++;
        if (line > 0) {
            fokus_bpe_str f[3];
            int k = split_fields(text + pos, e - pos, f, 2);
            if (k == 0 && e >= n) break; /* the end of the file */
            if (k != 2) {
                st = fokus_fail(err, FOKUS_EFORMAT, "%s: line %zu: expected two symbols, found %s", name,
                                line + 1, k > 2 ? "more" : k == 1 ? "one" : "none");
                goto done;
            }
            merges[nm][0] = f[0];
            merges[nm][1] = f[1];
            joined_len += f[0].n + f[1].n;
            nm++;
        }
        line++;
        if (e >= n) break;
        pos = e + 1;
    }
    if (line == 0 || (line == 1 && nm == 0 && n == 0)) {
        st = fokus_fail(err, FOKUS_EFORMAT, "%s: empty file", name);
        goto done;
    }
    /* vocab: bytes_to_unicode() values in dict order, the same with </w>, one token per
     * merge (its two symbols joined), then the two special tokens */
    joined = malloc(joined_len + 1);
    if (!joined) {
        st = fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    unsigned order[256], k = 0;
    for (unsigned b = 0; b < 256; b++)
        if (fokus_bpe_byte_char(b) == b) order[k++] = b;
    for (unsigned b = 0; b < 256; b++)
        if (fokus_bpe_byte_char(b) != b) order[k++] = b;
    for (unsigned i = 0; i < 256; i++) {
        char *s = syms + i * 16;
        int len = fokus_utf8_put(fokus_bpe_byte_char(order[i]), (unsigned char *)s);
        memcpy(s + len, "</w>", 4);
        vocab[i].p = s;
        vocab[i].n = (size_t)len;
        vocab[256 + i].p = s;
        vocab[256 + i].n = (size_t)len + 4;
    }
    size_t o = 0;
    for (size_t i = 0; i < nm; i++) {
        memcpy(joined + o, merges[i][0].p, merges[i][0].n);
        memcpy(joined + o + merges[i][0].n, merges[i][1].p, merges[i][1].n);
        vocab[512 + i].p = joined + o;
        vocab[512 + i].n = merges[i][0].n + merges[i][1].n;
        o += vocab[512 + i].n;
    }
    vocab[512 + nm].p = "<|startoftext|>";
    vocab[512 + nm].n = 15;
    vocab[513 + nm].p = "<|endoftext|>";
    vocab[513 + nm].n = 13;
    fokus_bpe_spec spec = {vocab, 514 + nm, (const fokus_bpe_str(*)[2])merges, nm, false};
    st = fokus_bpe_build(out, &spec, name, err);
done:
    free(merges);
    free(vocab);
    free(syms);
    free(joined);
    return st;
}

/* ---- Hugging Face ---- */

typedef struct vocab_list {
    fokus_bpe_str *v;
    size_t n;
} vocab_list;

/* A {"token": id, ...} object into a by-id table. */
static fokus_status vocab_from_object(json_t *obj, const char *name, const char *what, vocab_list *out,
                                      fokus_error *err)
{
    const char *key;
    json_t *val;
    json_int_t max = -1;
    out->v = NULL;
    out->n = 0;
    if (!json_is_object(obj))
        return fokus_fail(err, FOKUS_EFORMAT, "%s: %s must be a JSON object of token -> id", name, what);
    json_object_foreach(obj, key, val) {
        json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
        if (id < 0 || id >= (1 << 24))
            return fokus_fail(err, FOKUS_EFORMAT, "%s: %s: token \"%.40s\" has %s (expected an integer id in 0 .. %d)",
                              name, what, key, json_is_integer(val) ? "an out-of-range id" : "a non-integer id",
                              (1 << 24) - 1);
        if (id > max) max = id;
    }
    if (max < 0) return fokus_fail(err, FOKUS_EFORMAT, "%s: %s is empty", name, what);
    out->n = (size_t)max + 1;
    out->v = calloc(out->n, sizeof *out->v);
    if (!out->v) return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", name);
    json_object_foreach(obj, key, val) {
        json_int_t id = json_integer_value(val);
        out->v[id].p = key;
        out->v[id].n = strlen(key);
    }
    return FOKUS_OK;
}

/* merges.txt: an optional "#version" line, then "a b" per line. */
static fokus_status merges_from_text(const char *text, size_t n, const char *name,
                                     fokus_bpe_str (**out)[2], size_t *count, fokus_error *err)
{
    size_t lines = 1;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    fokus_bpe_str(*m)[2] = malloc(lines * sizeof *m);
    if (!m) return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", name);
    size_t pos = 0, k = 0, line = 0;
    while (pos <= n) {
        size_t e = pos;
        while (e < n && text[e] != '\n') e++;
        bool header = line == 0 && e - pos >= 8 && memcmp(text + pos, "#version", 8) == 0;
        if (!header) {
            fokus_bpe_str f[3];
            int c = split_fields(text + pos, e - pos, f, 2);
            if (c == 2) {
                m[k][0] = f[0];
                m[k][1] = f[1];
                k++;
            } else if (c != 0) {
                free(m);
                return fokus_fail(err, FOKUS_EFORMAT, "%s: line %zu: expected two symbols, found %s", name,
                                  line + 1, c > 2 ? "more" : "one");
            }
        }
        line++;
        if (e >= n) break;
        pos = e + 1;
    }
    *out = m;
    *count = k;
    return FOKUS_OK;
}

/* tokenizer.json model.merges: "a b" strings or [a, b] pairs. */
static fokus_status merges_from_json(json_t *arr, const char *name, fokus_bpe_str (**out)[2],
                                     size_t *count, fokus_error *err)
{
    if (!json_is_array(arr))
        return fokus_fail(err, FOKUS_EFORMAT, "%s: model.merges must be an array", name);
    size_t n = json_array_size(arr);
    fokus_bpe_str(*m)[2] = malloc((n + 1) * sizeof *m);
    if (!m) return fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        if (json_is_string(e)) {
            fokus_bpe_str f[3];
            const char *s = json_string_value(e);
            if (split_fields(s, json_string_length(e), f, 2) != 2 || strlen(s) != json_string_length(e)) {
                free(m);
                return fokus_fail(err, FOKUS_EFORMAT, "%s: model.merges[%zu] is not \"a b\"", name, i);
            }
            m[i][0] = f[0];
            m[i][1] = f[1];
        } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                   json_is_string(json_array_get(e, 1))) {
            for (int k = 0; k < 2; k++) {
                json_t *s = json_array_get(e, (size_t)k);
                m[i][k].p = json_string_value(s);
                m[i][k].n = json_string_length(s);
            }
        } else {
            free(m);
            return fokus_fail(err, FOKUS_EFORMAT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]",
                              name, i);
        }
    }
    *out = m;
    *count = n;
    return FOKUS_OK;
}

static json_t *parse_json(const char *data, size_t n, const char *name, fokus_error *err)
{
    json_error_t je;
    json_t *j = json_loadb(data, n, JSON_ALLOW_NUL, &je);
    if (!j) fokus_fail(err, FOKUS_EFORMAT, "%s: bad JSON at line %d column %d: %s", name, je.line, je.column, je.text);
    return j;
}

fokus_status fokus_bpe_load_hf_mem(fokus_bpe **out, const char *vocab_json, size_t vocab_len,
                                   const char *merges_txt, size_t merges_len, const char *name,
                                   fokus_error *err)
{
    if (!out || (!vocab_json && vocab_len) || (!merges_txt && merges_len))
        return fokus_fail(err, FOKUS_EINVAL, "bpe_load_hf_mem: NULL argument");
    *out = NULL;
    if (!name) name = "vocab.json";
    json_t *j = parse_json(vocab_json ? vocab_json : "", vocab_len, name, err);
    if (!j) return FOKUS_EFORMAT;
    vocab_list v;
    fokus_bpe_str(*m)[2] = NULL;
    size_t nm = 0;
    fokus_status st = vocab_from_object(j, name, "vocab.json", &v, err);
    if (st == FOKUS_OK) st = merges_from_text(merges_txt ? merges_txt : "", merges_len, name, &m, &nm, err);
    if (st == FOKUS_OK) {
        fokus_bpe_spec spec = {v.v, v.n, (const fokus_bpe_str(*)[2])m, nm, true};
        st = fokus_bpe_build(out, &spec, name, err);
    }
    free(v.v);
    free(m);
    json_decref(j);
    return st;
}

fokus_status fokus_bpe_load_tokenizer_json_mem(fokus_bpe **out, const char *json, size_t len,
                                               const char *name, fokus_error *err)
{
    if (!out || (!json && len)) return fokus_fail(err, FOKUS_EINVAL, "bpe_load_tokenizer_json_mem: NULL argument");
    *out = NULL;
    if (!name) name = "tokenizer.json";
    json_t *j = parse_json(json ? json : "", len, name, err);
    if (!j) return FOKUS_EFORMAT;
    vocab_list v = {0};
    fokus_bpe_str(*m)[2] = NULL;
    size_t nm = 0;
    fokus_status st;
    json_t *model = json_object_get(j, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!json_is_object(model)) {
        st = fokus_fail(err, FOKUS_EFORMAT, "%s: no \"model\" object", name);
        goto done;
    }
    if (type && strcmp(type, "BPE") != 0) {
        st = fokus_fail(err, FOKUS_EFORMAT, "%s: model.type is \"%.40s\", expected \"BPE\"", name, type);
        goto done;
    }
    st = vocab_from_object(json_object_get(model, "vocab"), name, "model.vocab", &v, err);
    if (st != FOKUS_OK) goto done;
    /* added_tokens (the special tokens) join the vocabulary */
    json_t *added = json_object_get(j, "added_tokens");
    if (added && !json_is_array(added)) {
        st = fokus_fail(err, FOKUS_EFORMAT, "%s: added_tokens must be an array", name);
        goto done;
    }
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        json_t *id = json_object_get(a, "id"), *content = json_object_get(a, "content");
        if (!json_is_integer(id) || !json_is_string(content) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= (1 << 24)) {
            st = fokus_fail(err, FOKUS_EFORMAT, "%s: added_tokens[%zu] needs an integer \"id\" (0 .. %d) and a string \"content\"",
                            name, i, (1 << 24) - 1);
            goto done;
        }
        size_t k = (size_t)json_integer_value(id);
        if (k >= v.n) {
            fokus_bpe_str *q = realloc(v.v, (k + 1) * sizeof *q);
            if (!q) {
                st = fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", name);
                goto done;
            }
            memset(q + v.n, 0, (k + 1 - v.n) * sizeof *q);
            v.v = q;
            v.n = k + 1;
        }
        v.v[k].p = json_string_value(content);
        v.v[k].n = json_string_length(content);
    }
    st = merges_from_json(json_object_get(model, "merges"), name, &m, &nm, err);
    if (st != FOKUS_OK) goto done;
    fokus_bpe_spec spec = {v.v, v.n, (const fokus_bpe_str(*)[2])m, nm, true};
    st = fokus_bpe_build(out, &spec, name, err);
done:
    free(v.v);
    free(m);
    json_decref(j);
    return st;
}

fokus_status fokus_bpe_load_openai_mem(fokus_bpe **out, const char *data, size_t len, const char *name,
                                       fokus_error *err)
{
    if (!out || (!data && len)) return fokus_fail(err, FOKUS_EINVAL, "bpe_load_openai_mem: NULL argument");
    *out = NULL;
    if (!name) name = "bpe_simple_vocab_16e6.txt";
    if (len >= 2 && (unsigned char)data[0] == 0x1F && (unsigned char)data[1] == 0x8B) {
        buf in = {(char *)data, len}, plain = {0};
        fokus_status st = gunzip(name, &in, &plain, err);
        if (st != FOKUS_OK) return st;
        st = build_openai(out, plain.p, plain.n, name, err);
        free(plain.p);
        return st;
    }
    return build_openai(out, data ? data : "", len, name, err);
}

/* ---- files and folders ---- */

static bool is_dir(const char *p)
{
    struct stat s;
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static bool is_file(const char *p)
{
    struct stat s;
    return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* dir of `path` + "/" + leaf, into dst */
static void sibling(char *dst, size_t cap, const char *path, const char *leaf)
{
    const char *s = strrchr(path, '/');
    if (s) snprintf(dst, cap, "%.*s/%s", (int)(s - path), path, leaf);
    else snprintf(dst, cap, "%s", leaf);
}

static fokus_status load_hf_pair(fokus_bpe **out, const char *vocab_path, const char *merges_path,
                                 fokus_error *err)
{
    buf v = {0}, m = {0};
    fokus_status st = read_file(vocab_path, &v, err);
    if (st == FOKUS_OK) st = read_file(merges_path, &m, err);
    if (st == FOKUS_OK) {
        size_t bad;
        if (!valid_utf8(m.p, m.n, &bad))
            st = fokus_fail(err, FOKUS_EFORMAT, "%s: not UTF-8 (bad byte at offset %zu)", merges_path, bad);
        else
            st = fokus_bpe_load_hf_mem(out, v.p, v.n, m.p, m.n, vocab_path, err);
    }
    free(v.p);
    free(m.p);
    return st;
}

fokus_status fokus_bpe_load(fokus_bpe **out, const char *path, fokus_error *err)
{
    if (!out) return fokus_fail(err, FOKUS_EINVAL, "bpe_load: out is NULL");
    *out = NULL;
    if (!path || !*path) {
        path = getenv("FOKUS_CLIP_VOCAB");
        if (!path || !*path)
            return fokus_fail(err, FOKUS_EINVAL,
                              "bpe_load: no path given and FOKUS_CLIP_VOCAB is not set (point either at "
                              "bpe_simple_vocab_16e6.txt.gz, vocab.json/merges.txt or tokenizer.json)");
    }
    size_t plen = strlen(path);
    if (plen > 3500) return fokus_fail(err, FOKUS_EINVAL, "bpe_load: path of %zu bytes is too long", plen);
    char a[4096], b[4096];
    if (is_dir(path)) {
        snprintf(a, sizeof a, "%s/vocab.json", path);
        snprintf(b, sizeof b, "%s/merges.txt", path);
        if (is_file(a) && is_file(b)) return load_hf_pair(out, a, b, err);
        snprintf(a, sizeof a, "%s/tokenizer.json", path);
        if (is_file(a)) return fokus_bpe_load(out, a, err);
        snprintf(a, sizeof a, "%s/bpe_simple_vocab_16e6.txt.gz", path);
        if (is_file(a)) return fokus_bpe_load(out, a, err);
        snprintf(a, sizeof a, "%s/bpe_simple_vocab_16e6.txt", path);
        if (is_file(a)) return fokus_bpe_load(out, a, err);
        return fokus_fail(err, FOKUS_EIO, "%s: folder has no vocab.json + merges.txt, tokenizer.json or "
                          "bpe_simple_vocab_16e6.txt(.gz)", path);
    }
    if (strcmp(base_name(path), "merges.txt") == 0) {
        sibling(a, sizeof a, path, "vocab.json");
        if (!is_file(a))
            return fokus_fail(err, FOKUS_EIO, "%s: no vocab.json beside it (looked for %s)", path, a);
        return load_hf_pair(out, a, path, err);
    }
    buf data;
    fokus_status st = read_file(path, &data, err);
    if (st != FOKUS_OK) return st;
    size_t i = 0;
    while (i < data.n && (data.p[i] == ' ' || data.p[i] == '\n' || data.p[i] == '\r' || data.p[i] == '\t')) i++;
    size_t bl = strlen(base_name(path));
    bool json_name = bl >= 5 && strcmp(base_name(path) + bl - 5, ".json") == 0;
    if (json_name || (i < data.n && data.p[i] == '{')) {
        /* JSON: a tokenizer.json has a "model" object; otherwise it is a vocab.json */
        json_t *j = parse_json(data.p, data.n, path, err);
        if (!j) {
            free(data.p);
            return FOKUS_EFORMAT;
        }
        bool object = json_is_object(j), tokenizer = json_is_object(json_object_get(j, "model"));
        json_decref(j);
        if (!object) {
            free(data.p);
            return fokus_fail(err, FOKUS_EFORMAT, "%s: expected a JSON object (vocab.json or tokenizer.json)", path);
        }
        if (tokenizer) {
            st = fokus_bpe_load_tokenizer_json_mem(out, data.p, data.n, path, err);
        } else {
            sibling(b, sizeof b, path, "merges.txt");
            if (!is_file(b))
                st = fokus_fail(err, FOKUS_EIO, "%s: no merges.txt beside it (looked for %s)", path, b);
            else
                st = load_hf_pair(out, path, b, err);
        }
        free(data.p);
        return st;
    }
    st = fokus_bpe_load_openai_mem(out, data.p, data.n, path, err);
    free(data.p);
    return st;
}
