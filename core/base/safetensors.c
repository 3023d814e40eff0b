/* safetensors load (memory-mapped, zero-copy when aligned) and save (atomic).
 *
 * The file is untrusted. Before any tensor is created, the header length is checked
 * against the file size, the header is parsed by jansson (duplicate keys rejected), and
 * every entry's dtype, shape and data_offsets are validated: offsets inside the data
 * area, length equal to numel * dtype size, and no two tensors overlapping. Only then
 * are views made, so no later code can read outside the mapping. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/fokus_base.h"

/* The reference implementation refuses headers above 100 MB; so do we. */
#define ST_MAX_HEADER (100u * 1000u * 1000u)

static const struct {
    const char *name;
    fokus_dtype dt;
} st_dtypes[] = {
    {"F32", FOKUS_F32}, {"F16", FOKUS_F16}, {"BF16", FOKUS_BF16}, {"I32", FOKUS_I32},
    {"I64", FOKUS_I64}, {"U8", FOKUS_U8},   {"BOOL", FOKUS_BOOL},
};

static const char *st_dtype_name(fokus_dtype dt)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof *st_dtypes; i++)
        if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
    return NULL;
}

typedef struct mapping {
    void *addr;
    size_t len;
} mapping;

static void unmap_release(void *user)
{
    mapping *m = user;
    munmap(m->addr, m->len);
    free(m);
}

typedef struct pending {
    const char *name;
    fokus_dtype dt;
    int ndim;
    int64_t shape[FOKUS_MAX_DIMS];
    uint64_t begin, end;
} pending;

static int cmp_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

void fokus_st_free(fokus_st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n_entries; i++) {
        free(f->entries[i].name);
        fokus_tensor_release(&f->entries[i].tensor);
    }
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->entries);
    free(f->meta);
    memset(f, 0, sizeof *f);
}

const fokus_tensor *fokus_st_find(const fokus_st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_entries; i++)
        if (strcmp(f->entries[i].name, name) == 0) return &f->entries[i].tensor;
    return NULL;
}

/* Validates one tensor entry of the header into *p. */
static fokus_status parse_entry(const char *name, json_t *v, uint64_t data_len, pending *p,
                                fokus_error *err)
{
    if (!json_is_object(v))
        return fokus_fail(err, FOKUS_EFORMAT, "tensor '%s': entry is not a JSON object", name);
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) return fokus_fail(err, FOKUS_EFORMAT, "tensor '%s': missing dtype", name);
    bool found = false;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof *st_dtypes; i++) {
        if (strcmp(json_string_value(dt), st_dtypes[i].name) == 0) {
            p->dt = st_dtypes[i].dt;
            found = true;
        }
    }
    if (!found)
        return fokus_fail(err, FOKUS_EFORMAT,
                          "tensor '%s': unsupported dtype '%.32s' (expected F32, F16, BF16, I32, I64, U8 or BOOL)",
                          name, json_string_value(dt));
    if (!json_is_array(shape))
        return fokus_fail(err, FOKUS_EFORMAT, "tensor '%s': shape is not an array", name);
    size_t nd = json_array_size(shape);
    if (nd > FOKUS_MAX_DIMS)
        return fokus_fail(err, FOKUS_EFORMAT, "tensor '%s': %zu dimensions, at most %d supported", name,
                          nd, FOKUS_MAX_DIMS);
    uint64_t numel = 1;
    bool overflow = false;
    p->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return fokus_fail(err, FOKUS_EFORMAT, "tensor '%s': shape entry %zu is not a non-negative integer",
                              name, i + 1);
        uint64_t n = (uint64_t)json_integer_value(d);
        p->shape[i] = (int64_t)n;
        if (n && numel > UINT64_MAX / 16 / n) overflow = true;
        else numel *= n;
    }
    if (overflow) return fokus_fail(err, FOKUS_EFORMAT, "tensor '%s': shape too large", name);
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(json_array_get(offs, 0)) ||
        !json_is_integer(json_array_get(offs, 1)))
        return fokus_fail(err, FOKUS_EFORMAT, "tensor '%s': data_offsets must be [begin, end]", name);
    json_int_t b = json_integer_value(json_array_get(offs, 0)), e = json_integer_value(json_array_get(offs, 1));
    if (b < 0 || e < b || (uint64_t)e > data_len)
        return fokus_fail(err, FOKUS_EFORMAT,
                          "tensor '%s': data_offsets [%lld, %lld] outside the data area of %llu bytes",
                          name, (long long)b, (long long)e, (unsigned long long)data_len);
    p->begin = (uint64_t)b;
    p->end = (uint64_t)e;
    uint64_t want = numel * fokus_dtype_size(p->dt);
    if (p->end - p->begin != want)
        return fokus_fail(err, FOKUS_EFORMAT, "tensor '%s': %llu bytes of data, shape and dtype need %llu",
                          name, (unsigned long long)(p->end - p->begin), (unsigned long long)want);
    return FOKUS_OK;
}

static fokus_status parse_meta(json_t *v, fokus_st_file *f, fokus_error *err)
{
    if (!json_is_object(v)) return fokus_fail(err, FOKUS_EFORMAT, "__metadata__ is not a JSON object");
    size_t n = json_object_size(v);
    f->meta = calloc(n ? n : 1, sizeof *f->meta);
    if (!f->meta) return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val) {
        if (!json_is_string(val))
            return fokus_fail(err, FOKUS_EFORMAT, "__metadata__ value of '%s' is not a string", k);
        f->meta[f->n_meta].key = strdup(k);
        f->meta[f->n_meta].value = strdup(json_string_value(val));
        f->n_meta++;
        if (!f->meta[f->n_meta - 1].key || !f->meta[f->n_meta - 1].value)
            return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    }
    return FOKUS_OK;
}

/* Parses and validates the header, then makes views over `st` (data area at data_off). */
static fokus_status load_header(const char *hdr, size_t hlen, fokus_storage *st, size_t data_off,
                                uint64_t data_len, fokus_st_file *f, fokus_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(hdr, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fokus_fail(err, FOKUS_EFORMAT, "invalid JSON header (%s at byte %d)", jerr.text,
                          jerr.position);
    fokus_status rc = FOKUS_OK;
    pending *ps = NULL;
    if (!json_is_object(root)) {
        rc = fokus_fail(err, FOKUS_EFORMAT, "header is not a JSON object");
        goto done;
    }
    size_t n = json_object_size(root), np = 0;
    ps = calloc(n ? n : 1, sizeof *ps);
    if (!ps) {
        rc = fokus_fail(err, FOKUS_ENOMEM, "out of memory");
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if ((rc = parse_meta(val, f, err)) != FOKUS_OK) goto done;
            continue;
        }
        ps[np].name = key;
        if ((rc = parse_entry(key, val, data_len, &ps[np], err)) != FOKUS_OK) goto done;
        np++;
    }
    qsort(ps, np, sizeof *ps, cmp_pending);
    /* sorted by begin: a non-empty tensor overlaps an earlier one iff it starts before
     * the furthest end seen so far (empty tensors occupy no bytes and are skipped) */
    uint64_t max_end = 0;
    const char *max_name = NULL;
    for (size_t i = 0; i < np; i++) {
        if (ps[i].begin == ps[i].end) continue;
        if (max_name && ps[i].begin < max_end) {
            rc = fokus_fail(err, FOKUS_EFORMAT, "tensors '%s' and '%s' overlap in the data area",
                            max_name, ps[i].name);
            goto done;
        }
        max_end = ps[i].end;
        max_name = ps[i].name;
    }
    f->entries = calloc(np ? np : 1, sizeof *f->entries);
    if (!f->entries) {
        rc = fokus_fail(err, FOKUS_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < np; i++) {
        fokus_st_entry *e = &f->entries[i];
        size_t off = data_off + (size_t)ps[i].begin;
        size_t es = fokus_dtype_size(ps[i].dt);
        e->name = strdup(ps[i].name);
        if (!e->name) {
            rc = fokus_fail(err, FOKUS_ENOMEM, "out of memory");
            goto done;
        }
        f->n_entries++;
        if (off % es == 0) {
            rc = fokus_tensor_from_storage(&e->tensor, st, off, ps[i].dt, ps[i].ndim, ps[i].shape, err);
        } else {
            /* misaligned for its dtype: copy out so kernels can load it naturally */
            rc = fokus_tensor_empty(&e->tensor, ps[i].dt, ps[i].ndim, ps[i].shape, err);
            if (rc == FOKUS_OK)
                memcpy(e->tensor.data, (const char *)fokus_storage_data(st) + off,
                       (size_t)(ps[i].end - ps[i].begin));
        }
        if (rc != FOKUS_OK) goto done;
    }
done:
    free(ps);
    json_decref(root);
    return rc;
}

fokus_status fokus_st_load(const char *path, fokus_st_file *out, fokus_error *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fokus_fail(err, FOKUS_EIO, "%s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return fokus_fail(err, FOKUS_EIO, "%s", strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return fokus_fail(err, FOKUS_EIO, "not a regular file");
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return fokus_fail(err, FOKUS_EFORMAT, "file too short (%llu bytes) for a safetensors header",
                          (unsigned long long)size);
    }
    /* Copy-on-write private mapping: tensors may be modified in memory without ever
     * touching the file. */
    void *addr = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (addr == MAP_FAILED) return fokus_fail(err, FOKUS_EIO, "cannot map file: %s", strerror(map_errno));
    mapping *m = malloc(sizeof *m);
    fokus_storage *st = m ? fokus_storage_wrap(addr, (size_t)size, unmap_release, m) : NULL;
    if (!st) {
        free(m);
        munmap(addr, (size_t)size);
        return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    }
    m->addr = addr;
    m->len = (size_t)size;
    const unsigned char *b = addr;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | b[i];
    fokus_status rc;
    if (hlen > size - 8)
        rc = fokus_fail(err, FOKUS_EFORMAT, "header length %llu runs past the end of the file (%llu bytes)",
                        (unsigned long long)hlen, (unsigned long long)size);
    else if (hlen > ST_MAX_HEADER)
        rc = fokus_fail(err, FOKUS_EFORMAT, "header length %llu exceeds the 100 MB limit",
                        (unsigned long long)hlen);
    else if (hlen < 2)
        rc = fokus_fail(err, FOKUS_EFORMAT, "header length %llu is too small for a JSON object",
                        (unsigned long long)hlen);
    else
        rc = load_header((const char *)b + 8, (size_t)hlen, st, (size_t)(8 + hlen), size - 8 - hlen, out, err);
    fokus_storage_release(st); /* the views hold their own references */
    if (rc != FOKUS_OK) fokus_st_free(out);
    return rc;
}

/* ---------------------------------------------------------------- save */

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        c += w;
        n -= (size_t)w;
    }
    return true;
}

fokus_status fokus_st_save(const char *path, const char *const *names, const fokus_tensor *tensors,
                           size_t n, const char *const *meta_keys, const char *const *meta_values,
                           size_t n_meta, fokus_error *err)
{
    json_t *root = json_object();
    char *hdr = NULL, *tmp = NULL;
    int fd = -1;
    fokus_status rc = FOKUS_OK;
    if (!root) return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    if (n_meta) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta) != 0) {
            rc = fokus_fail(err, FOKUS_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n_meta; i++) {
            json_t *s = json_string(meta_values[i]);
            if (!s || json_object_set_new(meta, meta_keys[i], s) != 0) {
                rc = fokus_fail(err, FOKUS_EINVAL, "metadata '%s' is not valid UTF-8", meta_keys[i]);
                goto done;
            }
        }
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const fokus_tensor *t = &tensors[i];
        const char *dn = st_dtype_name(t->dtype);
        if (!names[i][0] || strcmp(names[i], "__metadata__") == 0) {
            rc = fokus_fail(err, FOKUS_EINVAL, "invalid tensor name '%s'", names[i]);
            goto done;
        }
        if (json_object_get(root, names[i])) {
            rc = fokus_fail(err, FOKUS_EINVAL, "duplicate tensor name '%s'", names[i]);
            goto done;
        }
        uint64_t bytes = (uint64_t)fokus_tensor_numel(t) * fokus_dtype_size(t->dtype);
        json_t *shape = json_array();
        for (int d = 0; shape && d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dn, "shape", shape, "data_offsets",
                              (json_int_t)off, (json_int_t)(off + bytes));
        if (!e || json_object_set_new(root, names[i], e) != 0) {
            rc = fokus_fail(err, FOKUS_EINVAL, "tensor name '%s' is not valid UTF-8", names[i]);
            goto done;
        }
        off += bytes;
    }
    hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!hdr) {
        rc = fokus_fail(err, FOKUS_ENOMEM, "out of memory");
        goto done;
    }
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7; /* data starts 8-aligned */
    tmp = malloc(strlen(path) + 16);
    if (!tmp) {
        rc = fokus_fail(err, FOKUS_ENOMEM, "out of memory");
        goto done;
    }
    sprintf(tmp, "%s.tmp.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = fokus_fail(err, FOKUS_EIO, "cannot create temporary file: %s", strerror(errno));
        free(tmp);
        tmp = NULL;
        goto done;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; a saved model is an ordinary file */
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    bool ok = write_all(fd, len8, 8) && write_all(fd, hdr, hlen) && write_all(fd, "        ", padded - hlen);
    for (size_t i = 0; ok && i < n; i++) {
        const fokus_tensor *t = &tensors[i];
        size_t bytes = (size_t)fokus_tensor_numel(t) * fokus_dtype_size(t->dtype);
        if (fokus_tensor_is_contiguous(t)) {
            ok = write_all(fd, t->data, bytes);
        } else {
            fokus_tensor c;
            if ((rc = fokus_tensor_contiguous(&c, t, err)) != FOKUS_OK) {
                ok = false;
                break;
            }
            ok = write_all(fd, c.data, bytes);
            fokus_tensor_release(&c);
        }
    }
    if (ok && rc == FOKUS_OK) ok = fsync(fd) == 0;
    if (!ok && rc == FOKUS_OK) rc = fokus_fail(err, FOKUS_EIO, "write failed: %s", strerror(errno));
    if (close(fd) != 0 && rc == FOKUS_OK) rc = fokus_fail(err, FOKUS_EIO, "close failed: %s", strerror(errno));
    fd = -1;
    if (rc == FOKUS_OK && rename(tmp, path) != 0)
        rc = fokus_fail(err, FOKUS_EIO, "cannot rename into place: %s", strerror(errno));
    if (rc != FOKUS_OK) unlink(tmp);
done:
    free(tmp);
    free(hdr);
    json_decref(root);
    return rc;
}
