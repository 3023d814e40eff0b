/* safetensors: the dtype oracle, save/load round trips, and malformed files (each must
 * give an error, none may crash or read outside the file). */
#include <unistd.h>

#include "check.h"

#include "fokus.h"

static char tmpdir[256];

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

/* Builds a file from a header string and `data_len` bytes of data. */
static void write_st(const char *path, const char *hdr, size_t data_len)
{
    size_t h = strlen(hdr);
    unsigned char *buf = calloc(1, 8 + h + data_len + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, hdr, h);
    for (size_t i = 0; i < data_len; i++) buf[8 + h + i] = (unsigned char)i;
    write_file(path, buf, 8 + h + data_len);
    free(buf);
}

static fokus_status load_hdr(const char *hdr, size_t data_len, fokus_error *err)
{
    char path[300];
    fokus_st_file f;
    snprintf(path, sizeof path, "%s/m.safetensors", tmpdir);
    write_st(path, hdr, data_len);
    fokus_status st = fokus_st_load(path, &f, err);
    fokus_st_free(&f);
    return st;
}

static void test_dtype_oracle(void)
{
    const char *shared = check_shared_dir();
    if (!shared) {
        check_skip("../shared not found (set FOKUS_SHARED): dtype oracle not checked");
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/oracles/models/safetensors_dtypes.safetensors", shared);
    fokus_st_file f;
    fokus_error err;
    fokus_status st = fokus_st_load(path, &f, &err);
    CHECK_MSG(st == FOKUS_OK, "load: %s", err.msg);
    if (st != FOKUS_OK) return;
    CHECK_EQ_INT(f.n_entries, 15);
    const char *pairs[][2] = {{"inputs.f16", "outputs.f16_as_f32"},
                              {"inputs.bf16", "outputs.bf16_as_f32"},
                              {"inputs.f16_special", "outputs.f16_special_as_f32"},
                              {"inputs.bf16_special", "outputs.bf16_special_as_f32"}};
    for (int p = 0; p < 4; p++) {
        const fokus_tensor *in = fokus_st_find(&f, pairs[p][0]), *ref = fokus_st_find(&f, pairs[p][1]);
        CHECK(in && ref);
        if (!in || !ref) continue;
        fokus_tensor w;
        CHECK(fokus_tensor_f32(&w, in, &err) == FOKUS_OK);
        CHECK_MSG(memcmp(w.data, ref->data, (size_t)fokus_tensor_numel(ref) * 4) == 0,
                  "%s widens exactly to %s", pairs[p][0], pairs[p][1]);
        fokus_tensor_release(&w);
    }
    /* the f16/bf16 inputs are the f32 input rounded to nearest even */
    const fokus_tensor *f32 = fokus_st_find(&f, "inputs.f32");
    fokus_tensor h, b;
    CHECK(fokus_tensor_to(&h, f32, FOKUS_F16, &err) == FOKUS_OK);
    CHECK(fokus_tensor_to(&b, f32, FOKUS_BF16, &err) == FOKUS_OK);
    CHECK(memcmp(h.data, fokus_st_find(&f, "inputs.f16")->data, 30) == 0);
    CHECK(memcmp(b.data, fokus_st_find(&f, "inputs.bf16")->data, 30) == 0);
    fokus_tensor_release(&h);
    fokus_tensor_release(&b);
    const fokus_tensor *sc = fokus_st_find(&f, "inputs.scalar"), *em = fokus_st_find(&f, "inputs.empty");
    CHECK(sc && sc->ndim == 0 && fokus_tensor_numel(sc) == 1);
    CHECK(em && em->ndim == 2 && em->shape[0] == 0 && em->shape[1] == 4);
    const fokus_tensor *bo = fokus_st_find(&f, "inputs.bool");
    CHECK(bo && bo->dtype == FOKUS_BOOL && bo->shape[0] == 3);
    const fokus_tensor *i64 = fokus_st_find(&f, "inputs.i64");
    CHECK(i64 && i64->dtype == FOKUS_I64 && i64->shape[0] == 4);
    bool found_case = false;
    for (size_t i = 0; i < f.n_meta; i++)
        if (!strcmp(f.meta[i].key, "fokus_case")) found_case = !strcmp(f.meta[i].value, "safetensors_dtypes");
    CHECK(found_case);
    fokus_st_free(&f);
}

static void test_roundtrip(void)
{
    fokus_error err;
    fokus_tensor t[4];
    int64_t s1[2] = {3, 5}, s2[1] = {7}, s0[1] = {0};
    fokus_tensor_new(&t[0], FOKUS_F32, 2, s1, &err);
    fokus_tensor_randn(&t[0], 3, &err);
    fokus_tensor_new(&t[1], FOKUS_I64, 1, s2, &err);
    for (int i = 0; i < 7; i++) ((int64_t *)t[1].data)[i] = (int64_t)i * 1000000007LL;
    int perm[2] = {1, 0};
    fokus_tensor_permute(&t[2], &t[0], perm, &err); /* non-contiguous: written transposed */
    fokus_tensor_new(&t[3], FOKUS_BF16, 1, s0, &err);
    const char *names[4] = {"a", "b.ids", "a_t", "empty"};
    const char *mk[2] = {"format", "note"}, *mv[2] = {"pt", "h\xc3\xa9llo"};
    char path[300];
    snprintf(path, sizeof path, "%s/rt.safetensors", tmpdir);
    CHECK(fokus_st_save(path, names, t, 4, mk, mv, 2, &err) == FOKUS_OK);
    fokus_st_file f;
    CHECK_MSG(fokus_st_load(path, &f, &err) == FOKUS_OK, "%s", err.msg);
    CHECK_EQ_INT(f.n_entries, 4);
    CHECK_EQ_INT(f.n_meta, 2);
    const fokus_tensor *a = fokus_st_find(&f, "a"), *at = fokus_st_find(&f, "a_t"), *b = fokus_st_find(&f, "b.ids");
    CHECK(a && at && b);
    if (a && at && b) {
        CHECK(memcmp(a->data, t[0].data, 60) == 0);
        CHECK_EQ_INT(at->shape[0], 5);
        CHECK(fokus_tensor_get(at, 1) == fokus_tensor_get(&t[0], 5));
        CHECK_EQ_INT(((int64_t *)b->data)[6], 6 * 1000000007LL);
        /* zero-copy: aligned tensors point into the mapping, not a fresh block */
        CHECK(a->storage == at->storage);
    }
    /* tensors outlive the file struct */
    fokus_tensor keep = *a;
    fokus_tensor_retain(&keep);
    fokus_st_free(&f);
    CHECK(memcmp(keep.data, t[0].data, 60) == 0);
    fokus_tensor_release(&keep);
    /* duplicate names are refused and leave no file behind */
    const char *dup[2] = {"x", "x"};
    char path2[300];
    snprintf(path2, sizeof path2, "%s/dup.safetensors", tmpdir);
    CHECK(fokus_st_save(path2, dup, t, 2, NULL, NULL, 0, &err) == FOKUS_EINVAL);
    CHECK(access(path2, F_OK) != 0);
    /* saving into a missing directory fails cleanly */
    CHECK(fokus_st_save("/nonexistent-dir/x.safetensors", names, t, 1, NULL, NULL, 0, &err) == FOKUS_EIO);
    for (int i = 0; i < 4; i++) fokus_tensor_release(&t[i]);
}

static void test_malformed(void)
{
    fokus_error err;
    char path[300];
    fokus_st_file f;
    CHECK(fokus_st_load("/nonexistent/file.safetensors", &f, &err) == FOKUS_EIO);
    snprintf(path, sizeof path, "%s/short", tmpdir);
    write_file(path, "abc", 3);
    CHECK(fokus_st_load(path, &f, &err) == FOKUS_EFORMAT);
    write_file(path, "", 0);
    CHECK(fokus_st_load(path, &f, &err) == FOKUS_EFORMAT);
    /* header length past EOF */
    unsigned char big[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_file(path, big, 10);
    CHECK(fokus_st_load(path, &f, &err) == FOKUS_EFORMAT);
    CHECK(strstr(err.msg, "past the end") != NULL);
    unsigned char huge[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    write_file(path, huge, 10);
    CHECK(fokus_st_load(path, &f, &err) == FOKUS_EFORMAT);
    CHECK(fokus_st_load(tmpdir, &f, &err) == FOKUS_EIO); /* a directory */

    CHECK(load_hdr("{}", 0, &err) == FOKUS_OK);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, &err) == FOKUS_OK);
    /* invalid JSON */
    CHECK(load_hdr("{\"a\":", 0, &err) == FOKUS_EFORMAT);
    CHECK(strstr(err.msg, "JSON") != NULL);
    CHECK(load_hdr("[1,2]", 0, &err) == FOKUS_EFORMAT);
    /* offsets outside the data */
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}", 8, &err) == FOKUS_EFORMAT);
    /* wrong byte count */
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16, &err) == FOKUS_EFORMAT);
    CHECK(strstr(err.msg, "need 12") != NULL);
    /* overlap, also across an empty tensor between them */
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, &err) == FOKUS_EFORMAT);
    CHECK(strstr(err.msg, "overlap") != NULL);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"U8\",\"shape\":[100],\"data_offsets\":[0,100]},"
                   "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[50,50]},"
                   "\"b\":{\"dtype\":\"U8\",\"shape\":[20],\"data_offsets\":[60,80]}}", 100, &err) == FOKUS_EFORMAT);
    /* unknown dtype, bad shapes */
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, &err) == FOKUS_EFORMAT);
    CHECK(strstr(err.msg, "F8") != NULL);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,0]}}", 0, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"a\":3}", 4, &err) == FOKUS_EFORMAT);
    /* duplicate keys, bad metadata */
    CHECK(load_hdr("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                   "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"__metadata__\":{\"k\":1}}", 0, &err) == FOKUS_EFORMAT);
    CHECK(load_hdr("{\"__metadata__\":[]}", 0, &err) == FOKUS_EFORMAT);
    /* a misaligned f32 (odd offset) is copied, not read unaligned */
    CHECK(load_hdr("{\"p\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                   "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}", 9, &err) == FOKUS_OK);
    /* truncation of a valid file at every length gives an error, never a crash */
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    size_t h = strlen(hdr), total = 8 + h + 16;
    unsigned char *buf = calloc(1, total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, hdr, h);
    int bad = 0;
    for (size_t len = 0; len < total; len++) {
        write_file(path, buf, len);
        if (fokus_st_load(path, &f, &err) == FOKUS_OK) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    free(buf);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fokus-test-st-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_dtype_oracle);
    RUN(test_roundtrip);
    RUN(test_malformed);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return check_summary("safetensors");
}
