/* fokus_gemm_group and fokus_gemm_mlp (gemm_rows.c): bit-identical to the unfused
 * fokus_gemm + fokus_activate path (the contract), close to a double-precision
 * reference, on the 33..96-row path and the general path, with 1 and 2 threads, ragged
 * sizes, row strides, accumulate, f16 weights; argument errors. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "fokus.h"

static uint64_t rng_state = 12345;

static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rnd(int64_t n, float scale)
{
    float *p = fokus_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}

static double act_d(double x, fokus_act act)
{
    switch (act) {
    case FOKUS_ACT_QUICK_GELU: return x / (1.0 + exp(-1.702 * x));
    case FOKUS_ACT_SILU: return x / (1.0 + exp(-x));
    case FOKUS_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case FOKUS_ACT_GELU_TANH: return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    default: return x;
    }
}

/* c (+)= act(A · Wᵀ + b) in double, rounded once */
static void ref_part(int64_t M, int64_t K, const float *A, int64_t lda, const float *W, int64_t ldw, int64_t N,
                     const float *b, fokus_act act, bool acc, float *c, int64_t ldc)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = b ? b[n] : 0.0;
            for (int64_t k = 0; k < K; k++) s += (double)A[m * lda + k] * W[n * ldw + k];
            s = act_d(s, act);
            c[m * ldc + n] = (float)(acc ? c[m * ldc + n] + s : s);
        }
}

static double max_rel(const float *x, const float *y, int64_t M, int64_t N, int64_t ld)
{
    double e = 0, s = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double d = fabs((double)x[m * ld + n] - y[m * ld + n]);
            if (d > e) e = d;
            if (fabs((double)y[m * ld + n]) > s) s = fabs((double)y[m * ld + n]);
        }
    return e / (s > 0 ? s : 1);
}

static bool same_bits(const float *x, const float *y, int64_t M, int64_t N, int64_t ld)
{
    for (int64_t m = 0; m < M; m++)
        if (memcmp(x + m * ld, y + m * ld, (size_t)N * sizeof(float)) != 0) return false;
    return true;
}

/* three parts (q, k, v-like) into one strided buffer, and one with act + accumulate */
static void group_case(fokus_ctx *ctx, int64_t M, int64_t K, const int64_t *ns, fokus_act act, bool acc)
{
    fokus_error err;
    const int64_t lda = K + 3, ldw = K + 5;
    int64_t ldc = 0;
    for (int i = 0; i < 3; i++) ldc += ns[i];
    ldc += 2;
    float *A = rnd(M * lda, 1.0f), *W[3], *b[3];
    float *C = rnd(M * ldc, 1.0f), *C2 = fokus_alloc((size_t)(M * ldc) * sizeof(float)),
          *C3 = fokus_alloc((size_t)(M * ldc) * sizeof(float));
    memcpy(C2, C, (size_t)(M * ldc) * sizeof(float));
    memcpy(C3, C, (size_t)(M * ldc) * sizeof(float));
    fokus_gemm_part p[3];
    int64_t off = 0;
    for (int i = 0; i < 3; i++) {
        W[i] = rnd(ns[i] * ldw, 1.0f / sqrtf((float)K));
        b[i] = i == 1 ? NULL : rnd(ns[i], 0.5f);
        fokus_gemm_part q = {W[i], FOKUS_F32, ns[i], ldw, b[i], i == 2 ? act : FOKUS_ACT_NONE, i == 2 && acc, C + off, ldc};
        p[i] = q;
        off += ns[i];
    }
    CHECK(fokus_gemm_group(ctx, M, K, A, lda, 3, p, &err) == FOKUS_OK);
    /* unfused: fokus_gemm per part, then the activation (through a temporary when
     * accumulating) */
    off = 0;
    for (int i = 0; i < 3; i++) {
        float *c2 = C2 + off;
        if (p[i].act == FOKUS_ACT_NONE) {
            CHECK(fokus_gemm(ctx, M, ns[i], K, A, lda, W[i], FOKUS_F32, true, ldw, b[i], p[i].accumulate, c2, ldc, &err) ==
                  FOKUS_OK);
        } else {
            float *t = fokus_alloc((size_t)(M * ns[i]) * sizeof(float));
            CHECK(fokus_gemm(ctx, M, ns[i], K, A, lda, W[i], FOKUS_F32, true, ldw, b[i], false, t, ns[i], &err) == FOKUS_OK);
            for (int64_t m = 0; m < M; m++) {
                fokus_activate(NULL, t + m * ns[i], ns[i], act);
                for (int64_t n = 0; n < ns[i]; n++) c2[m * ldc + n] = acc ? c2[m * ldc + n] + t[m * ns[i] + n] : t[m * ns[i] + n];
            }
            fokus_free(t);
        }
        ref_part(M, K, A, lda, W[i], ldw, ns[i], b[i], p[i].act, p[i].accumulate, C3 + off, ldc);
        off += ns[i];
    }
    /* bit-identical when the activation is vectorised in both (row lengths a multiple
     * of 16); the scalar tail of fokus_activate rounds differently */
    if (act == FOKUS_ACT_NONE || ns[2] % 16 == 0)
        CHECK_MSG(same_bits(C, C2, M, ldc, ldc), "group M=%lld K=%lld act %d: differs from the unfused path", (long long)M,
                  (long long)K, (int)act);
    double e = max_rel(C, C3, M, ldc, ldc);
    CHECK_MSG(e < 2e-6, "group M=%lld K=%lld act %d acc %d: rel err %.3g vs double", (long long)M, (long long)K, (int)act,
              (int)acc, e);
    for (int i = 0; i < 3; i++) {
        fokus_free(W[i]);
        fokus_free(b[i]);
    }
    fokus_free(A);
    fokus_free(C);
    fokus_free(C2);
    fokus_free(C3);
}

static void test_group(void)
{
    fokus_ctx *ctx;
    fokus_error err;
    CHECK(fokus_ctx_new(&ctx, 2, &err) == FOKUS_OK);
    const int64_t ns1[3] = {64, 64, 64}, ns2[3] = {37, 5, 130}, ns3[3] = {768, 768, 768};
    fokus_ctx *ctxs[3] = {NULL, ctx, ctx};
    for (int c = 0; c < 3; c++) {
        if (c == 2) fokus_ctx_set_threads(ctx, 1, &err);
        group_case(ctxs[c], 77, 64, ns1, FOKUS_ACT_QUICK_GELU, false);
        group_case(ctxs[c], 33, 19, ns2, FOKUS_ACT_GELU, true);
        group_case(ctxs[c], 96, 40, ns2, FOKUS_ACT_SILU, false);
        group_case(ctxs[c], 20, 40, ns2, FOKUS_ACT_QUICK_GELU, true); /* general path */
        group_case(ctxs[c], 120, 33, ns1, FOKUS_ACT_GELU_TANH, false);
        fokus_ctx_set_threads(ctx, 2, &err);
    }
    group_case(ctx, 77, 96, ns3, FOKUS_ACT_QUICK_GELU, false); /* parallel, guided tasks */
    fokus_ctx_free(ctx);
}

static void mlp_case(fokus_ctx *ctx, int64_t M, int64_t K, int64_t I, int64_t N, fokus_act act, bool acc, fokus_dtype dt)
{
    fokus_error err;
    const int64_t lda = K + 1, ldc = N + 3;
    float *A = rnd(M * lda, 1.0f), *W1 = rnd(I * K, 1.0f / sqrtf((float)K)), *b1 = rnd(I, 0.5f),
          *W2 = rnd(N * I, 1.0f / sqrtf((float)I)), *b2 = rnd(N, 0.5f);
    float *C = rnd(M * ldc, 1.0f), *C2 = fokus_alloc((size_t)(M * ldc) * sizeof(float)),
          *C3 = fokus_alloc((size_t)(M * ldc) * sizeof(float)), *H = fokus_alloc((size_t)(M * I) * sizeof(float));
    memcpy(C2, C, (size_t)(M * ldc) * sizeof(float));
    memcpy(C3, C, (size_t)(M * ldc) * sizeof(float));
    fokus_tensor w1t, w2t, w1h, w2h;
    int64_t s1[2] = {I, K}, s2[2] = {N, I};
    fokus_tensor_borrow(&w1t, W1, FOKUS_F32, 2, s1, NULL);
    fokus_tensor_borrow(&w2t, W2, FOKUS_F32, 2, s2, NULL);
    const void *w1 = W1, *w2 = W2;
    if (dt != FOKUS_F32) {
        CHECK(fokus_tensor_to(&w1h, &w1t, dt, &err) == FOKUS_OK);
        CHECK(fokus_tensor_to(&w2h, &w2t, dt, &err) == FOKUS_OK);
        w1 = w1h.data;
        w2 = w2h.data;
        /* the reference uses the rounded weights */
        for (int64_t i = 0; i < I * K; i++) W1[i] = (float)fokus_tensor_get(&w1h, i);
        for (int64_t i = 0; i < N * I; i++) W2[i] = (float)fokus_tensor_get(&w2h, i);
    }
    fokus_gemm_part fc1 = {w1, dt, I, K, b1, act, false, NULL, 0}, fc2 = {w2, dt, N, I, b2, FOKUS_ACT_NONE, acc, C, ldc};
    CHECK(fokus_gemm_mlp(ctx, M, K, A, lda, &fc1, &fc2, &err) == FOKUS_OK);
    /* unfused */
    CHECK(fokus_gemm(ctx, M, I, K, A, lda, w1, dt, true, K, b1, false, H, I, &err) == FOKUS_OK);
    fokus_activate(ctx, H, M * I, act);
    CHECK(fokus_gemm(ctx, M, N, I, H, I, w2, dt, true, I, b2, acc, C2, ldc, &err) == FOKUS_OK);
    if ((M * I) % 16 == 0)
        CHECK_MSG(same_bits(C, C2, M, N, ldc), "mlp M=%lld K=%lld I=%lld N=%lld: differs from the unfused path",
                  (long long)M, (long long)K, (long long)I, (long long)N);
    /* double reference */
    ref_part(M, K, A, lda, W1, K, I, b1, act, false, H, I);
    ref_part(M, I, H, I, W2, I, N, b2, FOKUS_ACT_NONE, acc, C3, ldc);
    double e = max_rel(C, C3, M, N, ldc);
    CHECK_MSG(e < 5e-6, "mlp M=%lld K=%lld I=%lld N=%lld act %d: rel err %.3g vs double", (long long)M, (long long)K,
              (long long)I, (long long)N, (int)act, e);
    /* columns past N untouched */
    bool pad = true;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = N; n < ldc; n++) pad = pad && C[m * ldc + n] == C2[m * ldc + n];
    CHECK(pad);
    if (dt != FOKUS_F32) {
        fokus_tensor_release(&w1h);
        fokus_tensor_release(&w2h);
    }
    fokus_free(A); fokus_free(W1); fokus_free(b1); fokus_free(W2); fokus_free(b2);
    fokus_free(C); fokus_free(C2); fokus_free(C3); fokus_free(H);
}

static void test_mlp(void)
{
    fokus_ctx *ctx;
    fokus_error err;
    CHECK(fokus_ctx_new(&ctx, 2, &err) == FOKUS_OK);
    for (int th = 2; th >= 0; th--) {
        fokus_ctx *c = th ? ctx : NULL;
        if (th) fokus_ctx_set_threads(ctx, th, &err);
        mlp_case(c, 77, 64, 256, 64, FOKUS_ACT_QUICK_GELU, true, FOKUS_F32);
        mlp_case(c, 77, 48, 80, 48, FOKUS_ACT_GELU, false, FOKUS_F32);
        mlp_case(c, 33, 17, 29, 13, FOKUS_ACT_SILU, true, FOKUS_F32);
        mlp_case(c, 96, 32, 64, 40, FOKUS_ACT_GELU_TANH, false, FOKUS_F32);
        mlp_case(c, 77, 64, 128, 64, FOKUS_ACT_QUICK_GELU, true, FOKUS_F16); /* general path */
        mlp_case(c, 12, 64, 128, 64, FOKUS_ACT_QUICK_GELU, true, FOKUS_F32); /* general path */
        mlp_case(c, 100, 64, 128, 64, FOKUS_ACT_NONE, false, FOKUS_F32);     /* general path */
    }
    fokus_ctx_set_threads(ctx, 2, &err);
    mlp_case(ctx, 77, 128, 3072, 96, FOKUS_ACT_QUICK_GELU, true, FOKUS_F32); /* CLIP-like hidden width */
    fokus_ctx_free(ctx);
}

static void test_errors(void)
{
    fokus_error err;
    float A[4 * 40] = {0}, W[8 * 40] = {0}, C[4 * 8] = {0};
    fokus_gemm_part p = {W, FOKUS_F32, 8, 40, NULL, FOKUS_ACT_NONE, false, C, 8};
    CHECK(fokus_gemm_group(NULL, 4, 40, A, 40, 0, &p, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "1..4 parts") != NULL);
    CHECK(fokus_gemm_group(NULL, 4, 40, A, 40, 5, &p, &err) == FOKUS_EINVAL);
    fokus_gemm_part q = p;
    q.ldc = 4;
    fokus_gemm_part two[2] = {p, q};
    CHECK(fokus_gemm_group(NULL, 4, 40, A, 40, 2, two, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "gemm_group: part 2: c must be non-NULL with ldc >= n = 8, got ldc 4");
    q = p;
    q.dtype = FOKUS_I32;
    CHECK(fokus_gemm_group(NULL, 4, 40, A, 40, 1, &q, &err) == FOKUS_EINVAL);
    q = p;
    q.ldw = 39;
    CHECK(fokus_gemm_group(NULL, 4, 40, A, 40, 1, &q, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "ldw >= K = 40") != NULL);
    q = p;
    q.act = (fokus_act)99;
    CHECK(fokus_gemm_group(NULL, 4, 40, A, 40, 1, &q, &err) == FOKUS_EINVAL);
    CHECK(fokus_gemm_group(NULL, 4, 40, A, 39, 1, &p, &err) == FOKUS_EINVAL);
    /* mlp: fc2's K is fc1's n */
    fokus_gemm_part f1 = {W, FOKUS_F32, 8, 40, NULL, FOKUS_ACT_GELU, false, NULL, 0};
    fokus_gemm_part f2 = {W, FOKUS_F32, 4, 4, NULL, FOKUS_ACT_NONE, false, C, 8};
    CHECK(fokus_gemm_mlp(NULL, 4, 40, A, 40, &f1, &f2, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "gemm_mlp: part 2: w must be non-NULL with ldw >= K = 8, got ldw 4");
    CHECK(fokus_gemm_mlp(NULL, 4, 40, A, 40, NULL, &f2, &err) == FOKUS_EINVAL);
    f2.ldw = 8;
    CHECK(fokus_gemm_mlp(NULL, 4, 40, A, 40, &f1, &f2, &err) == FOKUS_OK);
    /* empty sizes touch nothing */
    CHECK(fokus_gemm_mlp(NULL, 0, 40, NULL, 40, &f1, &f2, &err) == FOKUS_OK);
}

int main(void)
{
    RUN(test_group);
    RUN(test_mlp);
    RUN(test_errors);
    return check_summary("gemm_group");
}
