/* Named checkpoint weights as the diffusion transformers read them: lookup under a
 * prefix, exact shape checks with messages that name the tensor, matrices kept in
 * place (views of the mapped file, any float dtype) and only small vectors widened to
 * f32 copies; a guess of the model family so that a checkpoint given to the wrong
 * loader gets an error that says what it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models_internal.h"

const fokus_tensor *fokus_wset_find(const fokus_wset *ws, const char *name)
{
    size_t pl = strlen(ws->prefix);
    for (size_t i = 0; i < ws->n; i++) {
        const char *nm = ws->w[i].name;
        if (strncmp(nm, ws->prefix, pl) == 0 && strcmp(nm + pl, name) == 0) return &ws->w[i].tensor;
    }
    return NULL;
}

static fokus_status need(const fokus_wset *ws, const char *name, const fokus_tensor **out)
{
    *out = fokus_wset_find(ws, name);
    if (!*out) return fokus_fail(ws->err, FOKUS_EFORMAT, "%s: missing tensor '%s%s'", ws->family, ws->prefix, name);
    if (!fokus_dtype_is_float((*out)->dtype))
        return fokus_fail(ws->err, FOKUS_EFORMAT, "%s: '%s%s' is %s, expected a float tensor", ws->family, ws->prefix,
                          name, fokus_dtype_name((*out)->dtype));
    return FOKUS_OK;
}

static const char *dims_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? "x" : "", (long long)shape[i]);
    if (ndim == 0) snprintf(buf, size, "scalar");
    return buf;
}

fokus_status fokus_wset_matrix(const fokus_wset *ws, const char *name, int ndim, const int64_t *shape,
                               fokus_tensor *dst)
{
    const fokus_tensor *t;
    fokus_status st = need(ws, name, &t);
    if (st != FOKUS_OK) return st;
    bool same = t->ndim == ndim && ndim >= 1;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char got[128], want[128];
        return fokus_fail(ws->err, FOKUS_EFORMAT, "%s: '%s%s' has shape %s, expected %s", ws->family, ws->prefix, name,
                          fokus_shape_str(t, got, sizeof got), dims_str(want, sizeof want, ndim, shape));
    }
    /* rows must be addressable as base + r*stride[0] with the rest contiguous (the
     * GEMM reads them with leading dimension stride[0]) */
    int64_t cols = 1, expect = 1;
    bool dense = true;
    for (int i = ndim - 1; i >= 1; i--) {
        if (t->shape[i] > 1 && t->stride[i] != expect) dense = false;
        expect *= t->shape[i];
        cols *= t->shape[i];
    }
    if (ndim == 1) cols = 1;
    if (!dense)
        return fokus_fail(ws->err, FOKUS_EFORMAT, "%s: '%s%s' is not stored row-major", ws->family, ws->prefix, name);
    *dst = *t;
    dst->ndim = 2;
    dst->shape[0] = shape[0];
    dst->shape[1] = cols;
    dst->stride[0] = ndim > 1 ? t->stride[0] : 1;
    dst->stride[1] = 1;
    fokus_tensor_retain(dst);
    return FOKUS_OK;
}

fokus_status fokus_wset_f32(const fokus_wset *ws, const char *name, int64_t n, float **dst)
{
    const fokus_tensor *t;
    fokus_status st = need(ws, name, &t);
    if (st != FOKUS_OK) return st;
    if (fokus_tensor_numel(t) != n) {
        char got[128];
        return fokus_fail(ws->err, FOKUS_EFORMAT, "%s: '%s%s' has shape %s, expected %lld values", ws->family,
                          ws->prefix, name, fokus_shape_str(t, got, sizeof got), (long long)n);
    }
    fokus_tensor f;
    if ((st = fokus_tensor_f32(&f, t, ws->err)) != FOKUS_OK) return st;
    *dst = fokus_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (*dst) memcpy(*dst, f.data, (size_t)n * sizeof(float));
    fokus_tensor_release(&f);
    return *dst ? FOKUS_OK : fokus_fail(ws->err, FOKUS_ENOMEM, "%s: out of memory", ws->family);
}

fokus_status fokus_linear_rows(fokus_ctx *ctx, const float *x, int64_t ldx, int64_t rows, const fokus_tensor *w,
                               const float *b, bool acc, float *y, int64_t ldy, fokus_error *err)
{
    return fokus_gemm(ctx, rows, w->shape[0], w->shape[1], x, ldx, w->data, w->dtype, true, w->stride[0], b, acc, y,
                      ldy, err);
}

/* name contains `part` at the start or right after a '.' */
static bool has_component(const char *name, const char *part)
{
    size_t pl = strlen(part);
    for (const char *s = strstr(name, part); s; s = strstr(s + 1, part))
        if ((s == name || s[-1] == '.') && strncmp(s, part, pl) == 0) return true;
    return false;
}

const char *fokus_guess_family(const fokus_st_entry *w, size_t n)
{
    static const struct {
        const char *part, *phrase;
    } rules[] = {
        /* the most specific first: an SD3 file also holds CLIP, T5 and a VAE */
        {"joint_blocks.", "an SD3 MMDiT (joint_blocks.*, context_embedder)"},
        {"context_embedder.weight", "an SD3 MMDiT (joint_blocks.*, context_embedder)"},
        {"double_blocks.", "a Flux transformer (double_blocks.*)"},
        {"y_embedder.embedding_table.weight", "a DiT (blocks.*, y_embedder.embedding_table)"},
        {"input_blocks.", "an SD UNet (input_blocks.*)"},
        {"text_model.embeddings.", "a CLIP text encoder"},
        {"transformer.resblocks.", "a CLIP text encoder (OpenCLIP names)"},
        {"encoder.block.", "a T5 encoder"},
        {"decoder.conv_in.", "a VAE"},
    };
    for (size_t r = 0; r < sizeof rules / sizeof *rules; r++)
        for (size_t i = 0; i < n; i++)
            if (has_component(w[i].name, rules[r].part)) return rules[r].phrase;
    return NULL;
}

size_t fokus_find_prefixes(const fokus_st_entry *w, size_t n, const char *key, char **out, size_t max)
{
    size_t k = 0, kl = strlen(key);
    for (size_t i = 0; i < n && k < max; i++) {
        size_t nl = strlen(w[i].name);
        if (nl < kl || strcmp(w[i].name + nl - kl, key) != 0) continue;
        if (nl > kl && w[i].name[nl - kl - 1] != '.') continue;
        char *p = strndup(w[i].name, nl - kl);
        if (!p) break;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++) dup = strcmp(out[j], p) == 0;
        if (dup)
            free(p);
        else
            out[k++] = p;
    }
    return k;
}

fokus_status fokus_pick_prefix(const fokus_st_entry *w, size_t n, const char *prefix, const char *key,
                               const char *fname, const char *what, char **out, fokus_error *err)
{
    *out = NULL;
    if (prefix) {
        *out = strdup(prefix);
        return *out ? FOKUS_OK : fokus_fail(err, FOKUS_ENOMEM, "%s: out of memory", fname);
    }
    char *c[8];
    size_t k = fokus_find_prefixes(w, n, key, c, 8);
    if (k == 1) *out = c[0];
    if (k <= 1) return FOKUS_OK;
    char list[400] = "";
    for (size_t i = 0; i < k; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s'%s'", i ? ", " : "", c[i]);
        free(c[i]);
    }
    return fokus_fail(err, FOKUS_EINVAL, "%s: the weights hold %zu %s (prefixes %s); choose one with opts.prefix", fname,
                      k, what, list);
}

fokus_status fokus_wset_patch_embed(const fokus_wset *ws, int64_t *D, int64_t *C, int64_t *p)
{
    char sb[128];
    const fokus_tensor *xw = fokus_wset_find(ws, "x_embedder.proj.weight");
    if (!xw)
        return fokus_fail(ws->err, FOKUS_EFORMAT, "%s: missing tensor '%sx_embedder.proj.weight'", ws->family,
                          ws->prefix);
    if (xw->ndim != 4 || xw->shape[2] != xw->shape[3] || xw->shape[2] < 1)
        return fokus_fail(ws->err, FOKUS_EFORMAT, "%s: '%sx_embedder.proj.weight' has shape %s, expected [D, C, p, p]",
                          ws->family, ws->prefix, fokus_shape_str(xw, sb, sizeof sb));
    *D = xw->shape[0];
    *C = xw->shape[1];
    *p = xw->shape[2];
    return FOKUS_OK;
}
