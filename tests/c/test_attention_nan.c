/* Attention with NaN / inf inputs: a visible NaN (or +inf) score makes its query row
 * NaN (out, lse, probs), a masked one (causal, bool mask, -inf bias, mask_mod) does
 * not count, NaN in v reaches the rows that see that key; the SIMD and scalar kernels
 * against the double reference, NaN pattern exact, finite values within 2e-5. Plus
 * the vector tanh / exp of the programs keeping NaN. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "fokus.h"
#include "linalg/simd_math.h"
#include "check.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}
static double nrand(void)
{
    double u = urand() + 1e-300, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static fokus_ctx *ctx2;

static fokus_tensor randt(fokus_dtype dt, int nd, const int64_t *shape)
{
    fokus_tensor t = {0};
    fokus_error e;
    if (fokus_tensor_empty(&t, dt, nd, shape, &e) != FOKUS_OK) {
        fprintf(stderr, "randt: %s\n", e.msg);
        exit(2);
    }
    int64_t n = fokus_tensor_numel(&t);
    for (int64_t i = 0; i < n; i++) {
        if (dt == FOKUS_F16)
            ((uint16_t *)t.data)[i] = fokus_f32_to_f16((float)nrand());
        else
            ((float *)t.data)[i] = (float)nrand();
    }
    return t;
}

/* Element (a, b, c) of a 3-d tensor (through its strides), f32 or f16. */
static void set3(fokus_tensor *t, int64_t a, int64_t b, int64_t c, float x)
{
    int64_t off = a * t->stride[0] + b * t->stride[1] + c * t->stride[2];
    if (t->dtype == FOKUS_F16)
        ((uint16_t *)t->data)[off] = fokus_f32_to_f16(x);
    else
        ((float *)t->data)[off] = x;
}

/* NaN in the same places, finite values within tol * max|ref|. Returns mismatches. */
static int compare(const float *got, const float *ref, int64_t n, double tol, int64_t *nnan)
{
    double mx = 1e-6;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > mx) mx = fabs(ref[i]);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(ref[i]) || isnan(got[i])) {
            bad += isnan(ref[i]) != isnan(got[i]);
            *nnan += isnan(ref[i]) != 0;
        } else if (isinf(ref[i]) || isinf(got[i])) {
            bad += got[i] != ref[i];
        } else {
            bad += fabs((double)got[i] - (double)ref[i]) > tol * mx;
        }
    }
    return bad;
}

/* Runs the SIMD and scalar kernels (pool and calling thread) and the reference with
 * lse and probs; checks they agree; returns the reference (caller releases). */
static void run3(const char *what, const fokus_tensor *q, const fokus_tensor *k, const fokus_tensor *v,
                 fokus_attend_opts o, fokus_tensor *rout, fokus_tensor *rlse, int64_t *nan_rows)
{
    fokus_error err;
    o.want_lse = o.want_probs = true;
    fokus_tensor probs_r = {0};
    CHECK_MSG(fokus_attend_ref(q, k, v, &o, rout, rlse, &probs_r, &err) == FOKUS_OK, "%s: ref: %s", what, err.msg);
    const int64_t nout = fokus_tensor_numel(rout), nlse = fokus_tensor_numel(rlse), np = fokus_tensor_numel(&probs_r);
    *nan_rows = 0;
    for (int64_t i = 0; i < nlse; i++) *nan_rows += isnan(((float *)rlse->data)[i]) != 0;
    for (int variant = FOKUS_ATTN_SIMD; variant <= FOKUS_ATTN_SCALAR; variant++)
        for (int c = 0; c < 2; c++) {
            fokus_tensor out = {0}, lse = {0}, probs = {0};
            fokus_status st = fokus_attend_variant(c ? ctx2 : NULL, q, k, v, &o, &out, &lse, &probs, variant, false, &err);
            CHECK_MSG(st == FOKUS_OK, "%s: %s", what, err.msg);
            if (st) continue;
            int64_t n1 = 0, n2 = 0, n3 = 0;
            int b1 = compare(out.data, rout->data, nout, 2e-5, &n1);
            int b2 = compare(lse.data, rlse->data, nlse, 2e-5, &n2);
            int b3 = compare(probs.data, probs_r.data, np, 2e-5, &n3);
            CHECK_MSG(b1 == 0 && b2 == 0 && b3 == 0,
                      "%s (variant %d, ctx %d): out %d, lse %d, probs %d mismatches (ref NaN: %lld, %lld, %lld)", what,
                      variant, c, b1, b2, b3, (long long)n1, (long long)n2, (long long)n3);
            fokus_tensor_release(&out);
            fokus_tensor_release(&lse);
            fokus_tensor_release(&probs);
        }
    fokus_tensor_release(&probs_r);
}

/* Whether row i of head h (3-d out [H, Nq, dv]) is all NaN / all finite. */
static bool row_nan(const fokus_tensor *out, int64_t h, int64_t i)
{
    const int64_t nq = out->shape[1], dv = out->shape[2];
    const float *o = (const float *)out->data + (h * nq + i) * dv;
    for (int64_t c = 0; c < dv; c++)
        if (!isnan(o[c])) return false;
    return true;
}
static bool row_finite(const fokus_tensor *out, int64_t h, int64_t i)
{
    const int64_t nq = out->shape[1], dv = out->shape[2];
    const float *o = (const float *)out->data + (h * nq + i) * dv;
    for (int64_t c = 0; c < dv; c++)
        if (!isfinite(o[c])) return false;
    return true;
}

/* Shapes: two query blocks and three key tiles; and one above ATTN_INLINE_FLOPS so
 * the K scan and the items run on the pool. */
static const int64_t HQ = 2, NQ = 100, NK = 150, D = 32;

static void test_nan_q(void)
{
    int64_t qs[3] = {HQ, NQ, D}, ks[3] = {HQ, NK, D};
    fokus_tensor q = randt(FOKUS_F32, 3, qs), k = randt(FOKUS_F32, 3, ks), v = randt(FOKUS_F32, 3, ks);
    set3(&q, 1, 37, 5, NAN);
    for (int causal = 0; causal < 2; causal++) {
        fokus_attend_opts o = {0};
        o.causal = causal ? FOKUS_CAUSAL_TOP_LEFT : FOKUS_CAUSAL_NONE;
        fokus_tensor out = {0}, lse = {0};
        int64_t nn;
        run3(causal ? "nan q causal" : "nan q", &q, &k, &v, o, &out, &lse, &nn);
        CHECK(nn == 1 && row_nan(&out, 1, 37) && row_finite(&out, 1, 36) && row_finite(&out, 0, 37));
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
    }
    /* the repro: a 2-query call, the first query NaN */
    set3(&q, 0, 0, 0, NAN);
    fokus_tensor out = {0};
    fokus_error err;
    CHECK(fokus_attend(ctx2, &q, &k, &v, NULL, &out, NULL, NULL, &err) == FOKUS_OK);
    CHECK(row_nan(&out, 0, 0) && row_finite(&out, 0, 1));
    fokus_tensor_release(&out);
    fokus_tensor_release(&q);
    fokus_tensor_release(&k);
    fokus_tensor_release(&v);
}

/* One NaN key (j = 50), visible to some rows and masked for others. */
static void test_nan_k_masked(void)
{
    int64_t qs[3] = {HQ, NQ, D}, ks[3] = {HQ, NK, D};
    fokus_tensor q = randt(FOKUS_F32, 3, qs), k = randt(FOKUS_F32, 3, ks), v = randt(FOKUS_F32, 3, ks);
    set3(&k, 1, 50, 3, NAN);
    int64_t ms[2] = {NQ, NK};
    fokus_tensor mask = {0}, bias = randt(FOKUS_F32, 2, ms);
    fokus_error err;
    CHECK(fokus_tensor_empty(&mask, FOKUS_BOOL, 2, ms, &err) == FOKUS_OK);
    for (int64_t i = 0; i < NQ; i++)
        for (int64_t j = 0; j < NK; j++) {
            ((uint8_t *)mask.data)[i * NK + j] = !(j == 50 && i % 2 == 1) && (j * 7 + i) % 11 != 0;
            if (j == 50 && i % 3 == 0) ((float *)bias.data)[i * NK + j] = -INFINITY;
        }
    {
        /* a NaN in the bias itself: only that row */
        fokus_tensor b2 = randt(FOKUS_F32, 2, ms);
        ((float *)b2.data)[7 * NK + 3] = NAN;
        ((float *)b2.data)[9 * NK + 3] = -INFINITY;
        fokus_attend_opts o = {0};
        o.bias = &b2;
        fokus_tensor out = {0}, lse = {0};
        int64_t nn;
        run3("nan bias", &q, &k, &v, o, &out, &lse, &nn);
        CHECK(row_nan(&out, 0, 7) && row_finite(&out, 0, 9) && row_finite(&out, 0, 8));
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
        fokus_tensor_release(&b2);
    }
    for (int mode = 0; mode < 4; mode++) {
        fokus_attend_opts o = {0};
        const char *what = "nan k";
        if (mode == 1) o.causal = FOKUS_CAUSAL_TOP_LEFT, what = "nan k causal";
        if (mode == 2) o.mask = &mask, what = "nan k bool mask";
        if (mode == 3) o.bias = &bias, what = "nan k -inf bias";
        fokus_tensor out = {0}, lse = {0};
        int64_t nn;
        run3(what, &q, &k, &v, o, &out, &lse, &nn);
        int bad = 0;
        for (int64_t i = 0; i < NQ; i++) {
            bool sees = mode == 0 || (mode == 1 && i >= 50) || (mode == 2 && ((uint8_t *)mask.data)[i * NK + 50]) || (mode == 3 && i % 3 != 0);
            bad += sees ? !row_nan(&out, 1, i) : !row_finite(&out, 1, i);
            bad += !row_finite(&out, 0, i);
        }
        CHECK_MSG(bad == 0, "%s: %d rows with the wrong NaN pattern", what, bad);
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
    }
    fokus_tensor_release(&mask);
    fokus_tensor_release(&bias);
    fokus_tensor_release(&q);
    fokus_tensor_release(&k);
    fokus_tensor_release(&v);
}

/* A mask program hiding the NaN key from odd rows, and a softcap score_mod. */
static void test_nan_mods(void)
{
    int64_t qs[3] = {HQ, NQ, D}, ks[3] = {HQ, NK, D};
    fokus_tensor q = randt(FOKUS_F32, 3, qs), k = randt(FOKUS_F32, 3, ks), v = randt(FOKUS_F32, 3, ks);
    set3(&k, 1, 50, 0, NAN);
    set3(&q, 0, 20, 1, NAN);
    fokus_error err;
    /* mask: k ~= 51 or q % 2 == 0 (1-based: only 0-based odd rows see key 50) */
    fokus_mod_ins mi[9];
    memset(mi, 0, sizeof mi);
    mi[0].op = FOKUS_MOD_K;
    mi[1].op = FOKUS_MOD_CONST, mi[1].k = 51;
    mi[2].op = FOKUS_MOD_NE, mi[2].a = 0, mi[2].b = 1;
    mi[3].op = FOKUS_MOD_Q;
    mi[4].op = FOKUS_MOD_CONST, mi[4].k = 2;
    mi[5].op = FOKUS_MOD_MOD, mi[5].a = 3, mi[5].b = 4;
    mi[6].op = FOKUS_MOD_CONST, mi[6].k = 0;
    mi[7].op = FOKUS_MOD_EQ, mi[7].a = 5, mi[7].b = 6;
    mi[8].op = FOKUS_MOD_OR, mi[8].a = 2, mi[8].b = 7;
    /* softcap: 5 tanh(score / 5) */
    fokus_mod_ins si[5];
    memset(si, 0, sizeof si);
    si[0].op = FOKUS_MOD_SCORE;
    si[1].op = FOKUS_MOD_CONST, si[1].k = 5;
    si[2].op = FOKUS_MOD_DIV, si[2].a = 0, si[2].b = 1;
    si[3].op = FOKUS_MOD_TANH, si[3].a = 2;
    si[4].op = FOKUS_MOD_MUL, si[4].a = 3, si[4].b = 1;
    /* a score_mod that maps NaN to a number: where(score > 0, score, 0) */
    fokus_mod_ins wi[4];
    memset(wi, 0, sizeof wi);
    wi[0].op = FOKUS_MOD_SCORE;
    wi[1].op = FOKUS_MOD_CONST, wi[1].k = 0;
    wi[2].op = FOKUS_MOD_GT, wi[2].a = 0, wi[2].b = 1;
    wi[3].op = FOKUS_MOD_WHERE, wi[3].a = 2, wi[3].b = 0, wi[3].c = 1;
    fokus_mod_program mp = {0}, sp = {0}, wp = {0};
    CHECK(fokus_mod_program_new(&mp, FOKUS_MOD_KIND_MASK, mi, 9, NULL, 0, &err) == FOKUS_OK);
    CHECK(fokus_mod_program_new(&sp, FOKUS_MOD_KIND_SCORE, si, 5, NULL, 0, &err) == FOKUS_OK);
    CHECK(fokus_mod_program_new(&wp, FOKUS_MOD_KIND_SCORE, wi, 4, NULL, 0, &err) == FOKUS_OK);
    for (int mode = 0; mode < 3; mode++) {
        fokus_attend_opts o = {0};
        const char *what = mode == 0 ? "nan mask_mod" : mode == 1 ? "nan softcap" : "nan softcap + mask_mod";
        if (mode != 1) o.mask_mod = &mp;
        if (mode != 0) o.score_mod = &sp;
        fokus_tensor out = {0}, lse = {0};
        int64_t nn;
        run3(what, &q, &k, &v, o, &out, &lse, &nn);
        int bad = 0;
        for (int64_t i = 0; i < NQ; i++) {
            bool sees = mode == 1 || i % 2 == 1;
            bad += sees ? !row_nan(&out, 1, i) : !row_finite(&out, 1, i);
            bad += i == 20 ? !row_nan(&out, 0, i) : !row_finite(&out, 0, i);
        }
        CHECK_MSG(bad == 0, "%s: %d rows with the wrong NaN pattern", what, bad);
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
    }
    {
        fokus_attend_opts o = {0};
        o.score_mod = &wp;
        fokus_tensor out = {0}, lse = {0};
        int64_t nn;
        run3("score_mod where(score > 0, score, 0)", &q, &k, &v, o, &out, &lse, &nn);
        CHECK(nn == 0); /* the program turned every NaN score into 0 */
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
    }
    fokus_mod_program_free(&mp);
    fokus_mod_program_free(&sp);
    fokus_mod_program_free(&wp);
    fokus_tensor_release(&q);
    fokus_tensor_release(&k);
    fokus_tensor_release(&v);
}

/* NaN in v: rows that see the key get NaN; lse stays finite. Inf in q: as the
 * reference (some score +inf: inf - inf = NaN row). */
static void test_nan_v_inf_q(void)
{
    int64_t qs[3] = {HQ, NQ, D}, ks[3] = {HQ, NK, D};
    fokus_tensor q = randt(FOKUS_F32, 3, qs), k = randt(FOKUS_F32, 3, ks), v = randt(FOKUS_F32, 3, ks);
    set3(&v, 1, 60, 2, NAN);
    fokus_error err;
    for (int variant = FOKUS_ATTN_SIMD; variant <= FOKUS_ATTN_SCALAR; variant++) {
        fokus_attend_opts o = {0};
        o.causal = FOKUS_CAUSAL_TOP_LEFT;
        o.want_lse = true;
        fokus_tensor out = {0}, lse = {0};
        CHECK(fokus_attend_variant(ctx2, &q, &k, &v, &o, &out, &lse, NULL, variant, false, &err) == FOKUS_OK);
        int bad = 0;
        for (int64_t i = 0; i < NQ; i++) {
            const float *o1 = (const float *)out.data + (NQ + i) * D;
            if (i >= 60) bad += !isnan(o1[2]);
            bad += !row_finite(&out, 0, i) + !isfinite(((float *)lse.data)[NQ + i]);
        }
        CHECK_MSG(bad == 0, "nan v (variant %d): %d bad", variant, bad);
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
    }
    set3(&v, 1, 60, 2, 0.5f);
    set3(&q, 0, 10, 4, INFINITY);
    set3(&k, 1, 70, 4, -INFINITY);
    fokus_tensor out = {0}, lse = {0};
    int64_t nn;
    run3("inf q and k", &q, &k, &v, (fokus_attend_opts){0}, &out, &lse, &nn);
    CHECK(row_nan(&out, 0, 10) && nn > 1);
    fokus_tensor_release(&out);
    fokus_tensor_release(&lse);
    fokus_tensor_release(&q);
    fokus_tensor_release(&k);
    fokus_tensor_release(&v);
}

/* GQA (4 query heads on 2 kv heads), 4-d, f16 K (copied), strided K, a large call
 * on the pool, and more kv heads than the K-scan's stack flags. */
static void test_nan_layouts(void)
{
    fokus_error err;
    {
        int64_t qs[4] = {2, 4, 70, 16}, ks[4] = {2, 2, 90, 16};
        fokus_tensor q = randt(FOKUS_F32, 4, qs), k = randt(FOKUS_F16, 4, ks), v = randt(FOKUS_F32, 4, ks);
        ((uint16_t *)k.data)[((1 * 2 + 1) * 90 + 33) * 16 + 7] = fokus_f32_to_f16(NAN); /* b 1, kv head 1 */
        fokus_attend_opts o = {0};
        o.causal = FOKUS_CAUSAL_BOTTOM_RIGHT;
        fokus_tensor out = {0}, lse = {0};
        int64_t nn;
        run3("gqa f16 k", &q, &k, &v, o, &out, &lse, &nn);
        /* batch 1, query heads 2 and 3: rows with i + 20 >= 33 see key 33 */
        int bad = 0;
        for (int64_t bh = 0; bh < 8; bh++)
            for (int64_t i = 0; i < 70; i++) {
                bool want = (bh == 6 || bh == 7) && i + 20 >= 33;
                bad += isnan(((float *)lse.data)[bh * 70 + i]) != want;
            }
        CHECK_MSG(bad == 0 && nn == 2 * 57, "gqa: %d bad rows, %lld NaN", bad, (long long)nn);
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
        fokus_tensor_release(&q);
        fokus_tensor_release(&k);
        fokus_tensor_release(&v);
    }
    {
        /* K as [H, N, D] over an [N, H, D] buffer: rows H * D apart */
        int64_t qs[3] = {3, 40, 16}, phys[3] = {50, 3, 16}, vs[3] = {3, 50, 16};
        fokus_tensor q = randt(FOKUS_F32, 3, qs), kb = randt(FOKUS_F32, 3, phys), v = randt(FOKUS_F32, 3, vs);
        fokus_tensor k = kb;
        k.shape[0] = 3, k.shape[1] = 50;
        k.stride[0] = kb.stride[1], k.stride[1] = kb.stride[0];
        set3(&k, 2, 49, 15, NAN);
        fokus_tensor out = {0}, lse = {0};
        int64_t nn;
        run3("strided k", &q, &k, &v, (fokus_attend_opts){0}, &out, &lse, &nn);
        CHECK(nn == 40 && row_nan(&out, 2, 0) && row_finite(&out, 1, 0));
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
        fokus_tensor_release(&q);
        fokus_tensor_release(&kb);
        fokus_tensor_release(&v);
    }
    {
        /* 300 kv heads: the flags come from the heap */
        int64_t qs[3] = {300, 5, 4}, ks[3] = {300, 6, 4};
        fokus_tensor q = randt(FOKUS_F32, 3, qs), k = randt(FOKUS_F32, 3, ks), v = randt(FOKUS_F32, 3, ks);
        set3(&k, 299, 5, 0, NAN);
        fokus_tensor out = {0}, lse = {0};
        int64_t nn;
        run3("300 heads", &q, &k, &v, (fokus_attend_opts){0}, &out, &lse, &nn);
        CHECK(nn == 5 && row_nan(&out, 299, 4) && row_finite(&out, 298, 4));
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
        fokus_tensor_release(&q);
        fokus_tensor_release(&k);
        fokus_tensor_release(&v);
    }
    {
        /* above the inline threshold: scan and items on the pool */
        int64_t qs[3] = {4, 256, 64}, ks[3] = {4, 300, 64};
        fokus_tensor q = randt(FOKUS_F32, 3, qs), k = randt(FOKUS_F32, 3, ks), v = randt(FOKUS_F32, 3, ks);
        set3(&k, 3, 299, 63, NAN);
        set3(&q, 1, 255, 0, NAN);
        fokus_attend_opts o = {0};
        o.causal = FOKUS_CAUSAL_BOTTOM_RIGHT;
        fokus_tensor out = {0}, lse = {0};
        int64_t nn;
        run3("pool", &q, &k, &v, o, &out, &lse, &nn);
        /* bottom-right: only the last row (255 + 44 = 299) sees key 299 */
        CHECK(nn == 2 && row_nan(&out, 3, 255) && row_finite(&out, 3, 254) && row_nan(&out, 1, 255));
        fokus_tensor_release(&out);
        fokus_tensor_release(&lse);
        fokus_tensor_release(&q);
        fokus_tensor_release(&k);
        fokus_tensor_release(&v);
    }
    (void)err;
}

/* Finite inputs stay on the SIMD path: its results differ from the scalar kernel's in
 * the last bits (different summation order), and it must still match the reference. */
static void test_finite_fast_path(void)
{
    if (!fokus_attn_simd_native()) {
        check_skip("SIMD kernel not native");
        return;
    }
    int64_t qs[3] = {HQ, NQ, D}, ks[3] = {HQ, NK, D};
    fokus_tensor q = randt(FOKUS_F32, 3, qs), k = randt(FOKUS_F32, 3, ks), v = randt(FOKUS_F32, 3, ks);
    fokus_error err;
    fokus_tensor a = {0}, b = {0};
    CHECK(fokus_attend_variant(ctx2, &q, &k, &v, NULL, &a, NULL, NULL, FOKUS_ATTN_SIMD, false, &err) == FOKUS_OK);
    CHECK(fokus_attend_variant(ctx2, &q, &k, &v, NULL, &b, NULL, NULL, FOKUS_ATTN_SCALAR, false, &err) == FOKUS_OK);
    CHECK(memcmp(a.data, b.data, sizeof(float) * (size_t)(HQ * NQ * D)) != 0);
    fokus_tensor_release(&a);
    fokus_tensor_release(&b);
    fokus_tensor_release(&q);
    fokus_tensor_release(&k);
    fokus_tensor_release(&v);
}

/* The vector tanh and the programs' exp keep NaN (softcap chains). */
static void test_vector_math_nan(void)
{
    float in[16] = {NAN, -NAN, 0, 1, -1, 9, -9, 20, -20, INFINITY, -INFINITY, 0.5f, -0.5f, 3, -3, 8.4f}, out[16];
    simde_mm512_storeu_ps(out, fokus_v_tanh(simde_mm512_loadu_ps(in)));
    CHECK(isnan(out[0]) && isnan(out[1]));
    int bad = 0;
    for (int l = 2; l < 16; l++) bad += fabs(out[l] - tanh(in[l])) > 5e-7;
    CHECK_MSG(bad == 0, "tanh: %d lanes off", bad);
    /* through the program evaluator: exp(score) and tanh(score) of a NaN score */
    fokus_mod_ins e[2];
    memset(e, 0, sizeof e);
    e[0].op = FOKUS_MOD_SCORE;
    for (int op = 0; op < 2; op++) {
        e[1].op = op ? FOKUS_MOD_EXP : FOKUS_MOD_TANH, e[1].a = 0;
        fokus_mod_program p = {0};
        fokus_error err;
        CHECK(fokus_mod_program_new(&p, FOKUS_MOD_KIND_SCORE, e, 2, NULL, 0, &err) == FOKUS_OK);
        fokus_mod_bound mb;
        memset(&mb, 0, sizeof mb);
        CHECK(fokus_mod_bind(NULL, &p, "t", 1, 1, 16, 16, &mb, &err) == FOKUS_OK);
        float S[16 * 16] __attribute__((aligned(64)));
        for (int j = 0; j < 16; j++)
            for (int l = 0; l < 16; l++) S[j * 16 + l] = (l == 3) ? NAN : 0.25f * (float)(l - 8);
        float *regs = fokus_alloc(sizeof(float) * fokus_mod_scratch_floats(&mb) + 64);
        fokus_mod_uniforms(&mb, 0, 0, regs);
        fokus_mod_apply_tile(&mb, NULL, S, 16, 1, 16, 0, 0, 0, 0, regs, NULL, false);
        int nb = 0;
        for (int j = 0; j < 16; j++)
            for (int l = 0; l < 16; l++) nb += (l == 3) != (isnan(S[j * 16 + l]) != 0);
        CHECK_MSG(nb == 0, "program %s: %d lanes with the wrong NaN pattern", op ? "exp" : "tanh", nb);
        fokus_free(regs);
        fokus_mod_unbind(&mb);
        fokus_mod_program_free(&p);
    }
}

int main(void)
{
    fokus_error err;
    if (fokus_ctx_new(&ctx2, 2, &err)) {
        fprintf(stderr, "context: %s\n", err.msg);
        return 2;
    }
    RUN(test_vector_math_nan);
    RUN(test_nan_q);
    RUN(test_nan_k_masked);
    RUN(test_nan_mods);
    RUN(test_nan_v_inf_q);
    RUN(test_nan_layouts);
    RUN(test_finite_fast_path);
    fokus_ctx_free(ctx2);
    return check_summary("attention_nan");
}
