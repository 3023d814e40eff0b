/*
 * The text clean-up of CLIP's SimpleTokenizer.encode:
 *
 *     text = whitespace_clean(basic_clean(text)).lower()
 *     basic_clean:      ftfy.fix_text, html.unescape twice, str.strip()
 *     whitespace_clean: regex.sub(r'\s+', ' ', text).strip()
 *
 * on span-carrying text, so every surviving character still knows which bytes of the
 * caller's input it came from.
 */
#include <stdlib.h>
#include <string.h>

#include "textclean.h"

/* str.strip(): Python whitespace at both ends. */
static void strip(fokus_ustr *s)
{
    size_t a = 0, z = s->n;
    while (a < z && fokus_py_isspace(s->cp[a])) a++;
    while (z > a && fokus_py_isspace(s->cp[z - 1])) z--;
    if (a > 0) {
        memmove(s->cp, s->cp + a, (z - a) * sizeof(uint32_t));
        memmove(s->b, s->b + a, (z - a) * sizeof(uint32_t));
        memmove(s->e, s->e + a, (z - a) * sizeof(uint32_t));
    }
    s->n = z - a;
}

/* regex.sub(r'\s+', ' ', text): a run of White_Space becomes one space spanning it. */
static int collapse_space(const fokus_ustr *in, fokus_ustr *out)
{
    size_t i, start = 0;
    bool changed = false;
    out->n = 0;
    for (i = 0; i < in->n; i++) {
        if (!fokus_regex_isspace(in->cp[i])) continue;
        size_t k = i + 1;
        while (k < in->n && fokus_regex_isspace(in->cp[k])) k++;
        if (k == i + 1 && in->cp[i] == ' ') continue;
        if (fokus_ustr_append(out, in, start, i) != 0) return -1;
        if (fokus_ustr_push(out, ' ', in->b[i], in->e[k - 1]) != 0) return -1;
        start = k;
        i = k - 1;
        changed = true;
    }
    if (!changed) return 0;
    if (fokus_ustr_append(out, in, start, in->n) != 0) return -1;
    return 1;
}

fokus_status fokus_clip_clean(const char *text, size_t len, fokus_ustr *out, fokus_error *err)
{
    return fokus_clip_clean_ex(text, len, 0, out, err);
}

fokus_status fokus_clip_clean_ex(const char *text, size_t len, int flags, fokus_ustr *out,
                                 fokus_error *err)
{
    fokus_ustr tmp = {0};
    int r;
    out->n = 0;
    if (len > UINT32_MAX - 1)
        return fokus_fail(err, FOKUS_ERANGE, "bpe_encode: text of %zu bytes is longer than 4 GiB", len);
    if (fokus_utf8_decode_spans((const unsigned char *)text, len, 0, out) != 0) goto nomem;
    if (!(flags & FOKUS_CLEAN_NO_FTFY) && fokus_ftfy_fix_text(out, &tmp) < 0) goto nomem;
    for (int k = 0; k < 2; k++) {
        if ((r = fokus_html_unescape(out, &tmp)) < 0) goto nomem;
        if (r) fokus_ustr_swap(out, &tmp);
    }
    strip(out);
    if ((r = collapse_space(out, &tmp)) < 0) goto nomem;
    if (r) fokus_ustr_swap(out, &tmp);
    strip(out);
    if ((r = fokus_py_lower(out, &tmp)) < 0) goto nomem;
    if (r) fokus_ustr_swap(out, &tmp);
    fokus_ustr_free(&tmp);
    return FOKUS_OK;
nomem:
    fokus_ustr_free(&tmp);
    return fokus_fail(err, FOKUS_ENOMEM, "bpe_encode: out of memory cleaning %zu bytes of text", len);
}
