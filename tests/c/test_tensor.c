/* Tensors, views, conversions, half-precision rounding and the seeded generator. */
#include "check.h"

#include "fokus.h"

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Every f16 value widens exactly and narrows back to itself (nan stays nan). */
static void test_f16_roundtrip_all(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = fokus_f16_to_f32((uint16_t)h);
        uint16_t back = fokus_f32_to_f16(f);
        bool isnan_h = ((h & 0x7c00) == 0x7c00) && (h & 0x3ff);
        if (isnan_h ? !(isnan(f) && ((back & 0x7c00) == 0x7c00) && (back & 0x3ff)) : back != h) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* vector and scalar paths agree */
    static uint16_t all[65536];
    static float wide[65536];
    for (uint32_t h = 0; h < 65536; h++) all[h] = (uint16_t)h;
    fokus_f16_to_f32_n(wide, all, 65536);
    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float s = fokus_f16_to_f32((uint16_t)h);
        if (bits(s) != bits(wide[h]) && !(isnan(s) && isnan(wide[h]))) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

/* Round-to-nearest-even at the half-way points, overflow, subnormals. */
static void test_f16_rounding(void)
{
    CHECK_EQ_INT(fokus_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(fokus_f32_to_f16(-2.0f), 0xc000);
    CHECK_EQ_INT(fokus_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(fokus_f32_to_f16(65519.99f), 0x7bff);
    CHECK_EQ_INT(fokus_f32_to_f16(65520.0f), 0x7c00); /* ties to even -> inf */
    CHECK_EQ_INT(fokus_f32_to_f16(INFINITY), 0x7c00);
    CHECK_EQ_INT(fokus_f32_to_f16(-INFINITY), 0xfc00);
    CHECK_EQ_INT(fokus_f32_to_f16(-0.0f), 0x8000);
    /* 1 + 2^-11 is half-way between 1 and 1 + 2^-10: ties to even (1.0) */
    CHECK_EQ_INT(fokus_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    CHECK_EQ_INT(fokus_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    CHECK_EQ_INT(fokus_f32_to_f16(0x1p-24f), 0x0001);   /* smallest subnormal */
    CHECK_EQ_INT(fokus_f32_to_f16(0x1p-25f), 0x0000);   /* half of it: ties to even 0 */
    CHECK_EQ_INT(fokus_f32_to_f16(0x1.8p-24f), 0x0002); /* 1.5 quanta: ties to even 2 */
    CHECK_EQ_INT(fokus_f32_to_f16(0x1p-14f), 0x0400);   /* smallest normal */
    CHECK(isnan(fokus_f16_to_f32(fokus_f32_to_f16(NAN))));
    /* vector narrowing agrees with the scalar one on random bit patterns */
    fokus_rng r;
    fokus_rng_init(&r, 7);
    float src[4096];
    uint16_t a[4096];
    for (int i = 0; i < 4096; i++) src[i] = from_bits(fokus_rng_u32(&r) & 0xc7ffffffu);
    fokus_f32_to_f16_n(a, src, 4096);
    int bad = 0;
    for (int i = 0; i < 4096; i++) {
        uint16_t s = fokus_f32_to_f16(src[i]);
        if (s != a[i] && !(isnan(src[i]))) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_bf16(void)
{
    CHECK_EQ_INT(fokus_f32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(fokus_f32_to_bf16(from_bits(0x3f808000u)), 0x3f80); /* tie -> even */
    CHECK_EQ_INT(fokus_f32_to_bf16(from_bits(0x3f818000u)), 0x3f82); /* tie -> even (up) */
    CHECK_EQ_INT(fokus_f32_to_bf16(from_bits(0x3f808001u)), 0x3f81);
    CHECK_EQ_INT(fokus_f32_to_bf16(from_bits(0x7f7fffffu)), 0x7f80); /* max float rounds to inf */
    CHECK(isnan(fokus_bf16_to_f32(fokus_f32_to_bf16(from_bits(0x7f800001u))))); /* nan kept */
    CHECK_EQ_INT(fokus_f32_to_bf16(from_bits(0x00000001u)), 0x0000);           /* tiny subnormal */
    CHECK_EQ_INT(fokus_f32_to_bf16(from_bits(0x00010000u)), 0x0001);           /* bf16 subnormal */
    uint16_t hs[19];
    float w[19];
    for (int i = 0; i < 19; i++) hs[i] = (uint16_t)(0x3f80 + i * 977);
    fokus_bf16_to_f32_n(w, hs, 19);
    int bad = 0;
    for (int i = 0; i < 19; i++) bad += bits(w[i]) != ((uint32_t)hs[i] << 16);
    CHECK_EQ_INT(bad, 0);
}

/* The generator's stream is fixed: these values must never change between builds
 * (native, PORTABLE=1) or machines. */
static void test_rng_fixed(void)
{
    fokus_rng r;
    float v[5];
    fokus_rng_init(&r, 42);
    fokus_rng_normal_n(&r, v, 5);
    /* statistics of a long stream */
    static float big[200000];
    fokus_rng_init(&r, 1);
    fokus_rng_normal_n(&r, big, 200000);
    double m = 0, s2 = 0;
    for (int i = 0; i < 200000; i++) m += big[i];
    m /= 200000;
    for (int i = 0; i < 200000; i++) s2 += (big[i] - m) * (big[i] - m);
    s2 /= 200000;
    CHECK_NEAR(m, 0.0, 0.01);
    CHECK_NEAR(s2, 1.0, 0.02);
    /* same seed, same numbers; different seed, different numbers */
    float a[8], b[8], c[8];
    fokus_rng_init(&r, 5);
    fokus_rng_normal_n(&r, a, 8);
    fokus_rng_init(&r, 5);
    fokus_rng_normal_n(&r, b, 8);
    fokus_rng_init(&r, 6);
    fokus_rng_normal_n(&r, c, 8);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    printf("# rng seed 42: %.9g %.9g %.9g %.9g %.9g\n", v[0], v[1], v[2], v[3], v[4]);
    CHECK_EQ_INT(bits(v[0]), 0xbf785e5cu);
    CHECK_EQ_INT(bits(v[4]), 0xbd95e030U);
}

static void test_views(void)
{
    fokus_error err;
    fokus_tensor t, p, n, r, e, s, c;
    int64_t shape[3] = {2, 3, 4};
    CHECK(fokus_tensor_new(&t, FOKUS_F32, 3, shape, &err) == FOKUS_OK);
    for (int i = 0; i < 24; i++) fokus_tensor_set(&t, i, i);
    int perm[3] = {2, 0, 1};
    CHECK(fokus_tensor_permute(&p, &t, perm, &err) == FOKUS_OK);
    CHECK_EQ_INT(p.shape[0], 4);
    CHECK(!fokus_tensor_is_contiguous(&p));
    /* p[k][i][j] = t[i][j][k] = 12i + 4j + k; flat index of (1,1,2) in p is 1*6+1*3+2 = 11 */
    CHECK_NEAR(fokus_tensor_get(&p, 11), 12 * 1 + 4 * 2 + 1, 0);
    CHECK(fokus_tensor_narrow(&n, &t, 2, 1, 2, &err) == FOKUS_OK);
    CHECK_NEAR(fokus_tensor_get(&n, 0), 1, 0);
    CHECK_NEAR(fokus_tensor_get(&n, 3), 6, 0);
    int64_t rs[2] = {4, -1};
    CHECK(fokus_tensor_reshape(&r, &p, 2, rs, &err) == FOKUS_OK); /* copy: p not contiguous */
    CHECK_EQ_INT(r.shape[1], 6);
    CHECK(r.storage != t.storage);
    CHECK_NEAR(fokus_tensor_get(&r, 11), 21, 0);
    int64_t bad[2] = {5, -1};
    CHECK(fokus_tensor_reshape(&c, &t, 2, bad, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "cannot infer") != NULL);
    int64_t es[4] = {5, 2, 3, 4};
    CHECK(fokus_tensor_expand(&e, &t, 4, es, &err) == FOKUS_OK);
    CHECK_EQ_INT(e.stride[0], 0);
    CHECK_NEAR(fokus_tensor_get(&e, 24 * 4 + 5), 5, 0);
    int64_t es2[3] = {2, 5, 4};
    CHECK(fokus_tensor_expand(&c, &t, 3, es2, &err) == FOKUS_EINVAL);
    CHECK(fokus_tensor_select(&s, &t, 1, 2, &err) == FOKUS_OK);
    CHECK_EQ_INT(s.ndim, 2);
    CHECK_NEAR(fokus_tensor_get(&s, 5), 12 + 8 + 1, 0);
    /* the parent may go first: views keep the storage alive */
    fokus_tensor_release(&t);
    CHECK_NEAR(fokus_tensor_get(&p, 11), 21, 0);
    CHECK(fokus_tensor_contiguous(&c, &p, &err) == FOKUS_OK);
    CHECK(fokus_tensor_is_contiguous(&c));
    CHECK_NEAR(fokus_tensor_get(&c, 11), 21, 0);
    fokus_tensor_release(&c);
    fokus_tensor_release(&p);
    fokus_tensor_release(&n);
    fokus_tensor_release(&r);
    fokus_tensor_release(&e);
    fokus_tensor_release(&s);
    fokus_tensor_release(&s); /* idempotent */
}

static void test_conversions(void)
{
    fokus_error err;
    fokus_tensor t, u, v;
    int64_t shape[1] = {6};
    CHECK(fokus_tensor_new(&t, FOKUS_F32, 1, shape, &err) == FOKUS_OK);
    double vals[6] = {-2.7, -0.5, 0, 0.5, 2.7, 300};
    for (int i = 0; i < 6; i++) fokus_tensor_set(&t, i, vals[i]);
    CHECK(fokus_tensor_to(&u, &t, FOKUS_I32, &err) == FOKUS_OK);
    CHECK_EQ_INT(fokus_tensor_get_i64(&u, 0), -2);
    CHECK_EQ_INT(fokus_tensor_get_i64(&u, 4), 2);
    CHECK(fokus_tensor_to(&v, &t, FOKUS_U8, &err) == FOKUS_ERANGE); /* -2.7 and 300 do not fit */
    fokus_tensor_release(&u);
    CHECK(fokus_tensor_to(&u, &t, FOKUS_BOOL, &err) == FOKUS_OK);
    CHECK_EQ_INT(fokus_tensor_get_i64(&u, 2), 0);
    CHECK_EQ_INT(fokus_tensor_get_i64(&u, 3), 1);
    fokus_tensor_release(&u);
    fokus_tensor_set(&t, 2, NAN);
    CHECK(fokus_tensor_to(&u, &t, FOKUS_I64, &err) == FOKUS_ERANGE);
    CHECK(fokus_tensor_to(&u, &t, FOKUS_F16, &err) == FOKUS_OK);
    CHECK(isnan(fokus_tensor_get(&u, 2)));
    CHECK_NEAR(fokus_tensor_get(&u, 5), 300, 0);
    fokus_tensor_release(&u);
    /* big int64 values survive int -> int conversion exactly */
    fokus_tensor i64;
    CHECK(fokus_tensor_new(&i64, FOKUS_I64, 1, shape, &err) == FOKUS_OK);
    ((int64_t *)i64.data)[0] = INT64_C(9007199254740993);
    CHECK(fokus_tensor_clone(&u, &i64, &err) == FOKUS_OK);
    CHECK_EQ_INT(((int64_t *)u.data)[0], INT64_C(9007199254740993));
    fokus_tensor_release(&u);
    fokus_tensor_release(&i64);
    fokus_tensor_release(&t);
    /* bad shapes */
    int64_t neg[2] = {3, -1};
    CHECK(fokus_tensor_new(&t, FOKUS_F32, 2, neg, &err) == FOKUS_EINVAL);
    int64_t huge[3] = {INT64_C(1) << 40, INT64_C(1) << 40, 16};
    CHECK(fokus_tensor_new(&t, FOKUS_F32, 3, huge, &err) == FOKUS_ERANGE);
    CHECK(fokus_tensor_new(&t, FOKUS_F32, 9, huge, &err) == FOKUS_EINVAL);
    int64_t zero[2] = {0, 4};
    CHECK(fokus_tensor_new(&t, FOKUS_F32, 2, zero, &err) == FOKUS_OK);
    CHECK_EQ_INT(fokus_tensor_numel(&t), 0);
    CHECK(fokus_tensor_clone(&u, &t, &err) == FOKUS_OK);
    fokus_tensor_release(&u);
    fokus_tensor_release(&t);
}



typedef struct {
    int64_t *hits;
} pool_arg;

static void pool_task(void *a, int64_t b, int64_t e, int worker)
{
    pool_arg *p = a;
    for (int64_t i = b; i < e; i++) __atomic_fetch_add(&p->hits[i], 1, __ATOMIC_RELAXED);
}

static void test_pool(void)
{
    fokus_ctx *ctx;
    fokus_error err;
    CHECK(fokus_ctx_new(&ctx, 4, &err) == FOKUS_OK);
    CHECK_EQ_INT(fokus_ctx_threads(ctx), 4);
    static int64_t hits[10007];
    pool_arg a = {hits};
    for (int rep = 0; rep < 200; rep++) fokus_parallel(ctx, 10007, 13, pool_task, &a);
    int bad = 0;
    for (int i = 0; i < 10007; i++) bad += hits[i] != 200;
    CHECK_EQ_INT(bad, 0);
    CHECK(fokus_ctx_set_threads(ctx, 2, &err) == FOKUS_OK);
    CHECK_EQ_INT(fokus_ctx_threads(ctx), 2);
    void *s = fokus_ctx_scratch(ctx, FOKUS_SCRATCH_TMP, 1, 1000);
    CHECK(s != NULL && ((uintptr_t)s & 63) == 0);
    CHECK(fokus_ctx_scratch(ctx, FOKUS_SCRATCH_TMP, 1, 500) == s); /* kept, not reallocated */
    CHECK(fokus_ctx_scratch(ctx, FOKUS_SCRATCH_TMP, 3, 10) == NULL); /* worker out of range */
    fokus_ctx_free(ctx);
}

int main(void)
{
    RUN(test_f16_roundtrip_all);
    RUN(test_f16_rounding);
    RUN(test_bf16);
    RUN(test_rng_fixed);
    RUN(test_views);
    RUN(test_conversions);
    RUN(test_pool);
    return check_summary("tensor");
}
