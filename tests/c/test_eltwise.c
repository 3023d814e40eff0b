/* Element-wise tensor ops (core/linalg broadcast.c, eltwise.c, compare.c, copy.c,
 * create.c) against double-precision references: every op on ragged sizes (vector
 * body and padded tail), special values, broadcasting over strided views and its
 * error text, f16/bf16/integer inputs, destinations (checks, strided views, in-place
 * aliasing and overlapping views), threads (bit-identical to one thread), creation
 * functions and rand's fixed values. */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

#include "fokus.h"

static fokus_ctx *ctx, *ctx1;

/* |got - ref| in float ulps at ref (subnormal ulp below 2^-126); specials exact */
static double ulps(float got, double ref)
{
    if (isnan(ref)) return isnan(got) ? 0 : 1e30;
    if (isinf((float)ref)) return got == (float)ref ? 0 : 1e30;
    if (isnan(got) || isinf(got)) return 1e30;
    double a = fabs(ref);
    int e;
    frexp(a, &e);
    double u = a < 0x1p-126 ? 0x1p-149 : ldexp(1.0, e - 24);
    return fabs((double)got - ref) / u;
}

static uint64_t rng_state = 88172645463325252ull;
static double urand(void) /* [0, 1) */
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static fokus_tensor vec(int64_t n)
{
    fokus_tensor t;
    fokus_error err;
    fokus_tensor_new(&t, FOKUS_F32, 1, &n, &err);
    return t;
}

static float *F(const fokus_tensor *t) { return (float *)t->data; }

/* values that exercise the special cases of every function, then random ones over
 * many exponents */
static const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1.0f, -1.0f, 0.5f, -0.5f, 2.0f,
                                 1e-45f, -1e-45f, 1e-40f, 1.17549435e-38f, 3.4e38f, -3.4e38f, 88.7f, -88.7f,
                                 89.0f, -104.0f, 20.0f, -20.0f, 0.625f, -0.625f, 3.0f, -3.0f, 0.7f, -0.7f,
                                 1e5f, -1e5f, 65536.0f, 1e30f, 3.14159265f, 1.57079633f, -9.5f, 1e-7f};
#define NSPECIAL ((int)(sizeof specials / sizeof *specials))

static void fill_values(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (i < NSPECIAL) {
            x[i] = specials[i];
        } else {
            double mag = ldexp(1.0, (int)(urand() * 24) - 12); /* 2^-12 .. 2^12 */
            x[i] = (float)((urand() * 2 - 1) * mag * 4);
        }
    }
}

/* ---------------------------------------------------------------- unary */

static double sigmoid_d(double x) { return 1 / (1 + exp(-x)); }
static double silu_d(double x) { return isinf(x) && x < 0 ? -0.0 : x / (1 + exp(-x)); }
static double gelu_d(double x) { return isinf(x) && x < 0 ? -0.0 : x * 0.5 * erfc(-x / sqrt(2.0)); }
static double gelu_tanh_d(double x)
{
    if (isinf(x) && x < 0) return -0.0;
    /* = 0.5 x (1 + tanh(y)), written without the cancellation of 1 + tanh in double */
    return x / (1 + exp(-2 * sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double rsqrt_d(double x) { return 1 / sqrt(x); }
static double relu_d(double x) { return x > 0 || isnan(x) ? x : 0.0; }
static double neg_d(double x) { return -x; }

typedef struct unary_case {
    fokus_ew_unop op;
    double (*ref)(double);
    double bound; /* ulps */
} unary_case;

static void test_unary(void)
{
    const unary_case cases[] = {
        {FOKUS_EW_EXP, exp, 1.5},         {FOKUS_EW_LOG, log, 1.0},
        {FOKUS_EW_SQRT, sqrt, 0.5},       {FOKUS_EW_RSQRT, rsqrt_d, 1.5},
        {FOKUS_EW_ABS, fabs, 0},          {FOKUS_EW_TANH, tanh, 3},
        {FOKUS_EW_SIGMOID, sigmoid_d, 3}, {FOKUS_EW_SILU, silu_d, 3.5},
        {FOKUS_EW_GELU, gelu_d, 4},       {FOKUS_EW_GELU_TANH, gelu_tanh_d, 5},
        {FOKUS_EW_RELU, relu_d, 0},       {FOKUS_EW_SIN, sin, 2},
        {FOKUS_EW_COS, cos, 2},           {FOKUS_EW_FLOOR, floor, 0},
        {FOKUS_EW_NEG, neg_d, 0},
    };
    const int64_t n = 4099; /* a ragged tail after the blocks and vectors */
    fokus_tensor x = vec(n);
    fill_values(F(&x), n);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        fokus_tensor y;
        fokus_error err;
        CHECK(fokus_unary(ctx, cases[c].op, &x, NULL, &y, &err) == FOKUS_OK);
        double worst = 0;
        int64_t at = 0;
        for (int64_t i = 0; i < n; i++) {
            double e = ulps(F(&y)[i], cases[c].ref(F(&x)[i]));
            /* a zero result must carry the reference's sign too (abs(-0), neg(0), ...) */
            if (F(&y)[i] == 0 && cases[c].ref(F(&x)[i]) == 0 && !signbit(F(&y)[i]) != !signbit(cases[c].ref(F(&x)[i])) &&
                cases[c].op != FOKUS_EW_RELU)
                e = 1e30;
            if (e > worst) worst = e, at = i;
        }
        printf("# %-9s %.3f ulp (bound %g) worst at x = %a\n", fokus_ew_unop_name(cases[c].op) , worst, cases[c].bound,
               F(&x)[at]);
        CHECK_MSG(worst <= cases[c].bound, "%s: %.3f ulp at x = %a (got %a)", fokus_ew_unop_name(cases[c].op), worst,
                  F(&x)[at], F(&y)[at]);
        fokus_tensor_release(&y);
    }
    /* clamp: both sides, one side, nan elements, lo > hi */
    fokus_tensor y;
    fokus_error err;
    CHECK(fokus_clamp(ctx, &x, -1.0, 2.0, NULL, &y, &err) == FOKUS_OK);
    bool ok = true;
    for (int64_t i = 0; i < n; i++) {
        float v = F(&x)[i], r = isnan(v) ? v : v < -1 ? -1 : v > 2 ? 2 : v;
        ok = ok && (isnan(r) ? isnan(F(&y)[i]) : F(&y)[i] == r);
    }
    CHECK(ok);
    fokus_tensor_release(&y);
    CHECK(fokus_clamp(ctx, &x, NAN, 0.0, NULL, &y, &err) == FOKUS_OK);
    ok = true;
    for (int64_t i = 0; i < n; i++) ok = ok && (isnan(F(&x)[i]) || F(&y)[i] == (F(&x)[i] > 0 ? 0 : F(&x)[i]));
    CHECK(ok);
    fokus_tensor_release(&y);
    CHECK(fokus_clamp(ctx, &x, 3.0, 1.0, NULL, &y, &err) == FOKUS_OK);
    CHECK(F(&y)[5] == 1.0f && F(&y)[100] == 1.0f);
    fokus_tensor_release(&y);
    /* logical_not gives bool */
    CHECK(fokus_unary(ctx, FOKUS_EW_NOT, &x, NULL, &y, &err) == FOKUS_OK);
    CHECK(y.dtype == FOKUS_BOOL);
    const unsigned char *b = y.data;
    CHECK(b[0] == 1 && b[1] == 1 && b[4] == 0 && b[5] == 0);
    fokus_tensor_release(&y);
    fokus_tensor_release(&x);
}

/* ---------------------------------------------------------------- binary */

static double ref_bin(fokus_ew_binop op, double a, double b)
{
    switch (op) {
    case FOKUS_EW_ADD: return a + b;
    case FOKUS_EW_SUB: return a - b;
    case FOKUS_EW_MUL: return a * b;
    case FOKUS_EW_DIV: return a / b;
    case FOKUS_EW_POW: return pow(a, b);
    case FOKUS_EW_LT: return a < b;
    case FOKUS_EW_LE: return a <= b;
    case FOKUS_EW_GT: return a > b;
    case FOKUS_EW_GE: return a >= b;
    case FOKUS_EW_EQ: return a == b;
    case FOKUS_EW_NE: return a != b;
    case FOKUS_EW_AND: return a != 0 && b != 0;
    case FOKUS_EW_OR: return a != 0 || b != 0;
    default: return NAN;
    }
}

/* value of element i (row-major over `shape`) of t broadcast to shape */
static double bval(const fokus_tensor *t, int nd, const int64_t *shape, int64_t i)
{
    int64_t idx[FOKUS_MAX_DIMS];
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) {
        int j = d + nd - t->ndim;
        off += (t->shape[d] == 1 ? 0 : idx[j]) * t->stride[d];
    }
    const char *p = (const char *)t->data + off * (int64_t)fokus_dtype_size(t->dtype);
    switch (t->dtype) {
    case FOKUS_F32: return *(const float *)p;
    case FOKUS_F16: return fokus_f16_to_f32(*(const uint16_t *)p);
    case FOKUS_BF16: return fokus_bf16_to_f32(*(const uint16_t *)p);
    case FOKUS_I32: return *(const int32_t *)p;
    case FOKUS_I64: return (float)*(const int64_t *)p;
    default: return *(const unsigned char *)p;
    }
}

/* result element i as double, whatever its dtype and strides */
static double rval(const fokus_tensor *t, int64_t i)
{
    return fokus_tensor_get(t, i);
}

/* a op b over broadcast strided views: every element against the double reference
 * (correctly rounded for + - * /, 1 ulp for pow, exact for comparisons) */
static bool check_binary(fokus_ew_binop op, const fokus_tensor *a, const fokus_tensor *b, const char *what)
{
    fokus_tensor r;
    fokus_error err;
    fokus_status st = op >= FOKUS_EW_LT ? fokus_compare(ctx, op, fokus_op_tensor(a), fokus_op_tensor(b), NULL, &r, &err)
                                        : fokus_binary(ctx, op, fokus_op_tensor(a), fokus_op_tensor(b), NULL, &r, &err);
    if (st != FOKUS_OK) {
        CHECK_MSG(0, "%s %s: %s", fokus_ew_binop_name(op), what, err.msg);
        return false;
    }
    int64_t n = fokus_tensor_numel(&r);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; i++) {
        double x = bval(a, r.ndim, r.shape, i), y = bval(b, r.ndim, r.shape, i);
        double want = ref_bin(op, (float)x, (float)y), got = rval(&r, i);
        if (op >= FOKUS_EW_LT)
            ok = got == want;
        else if (op == FOKUS_EW_POW)
            ok = ulps((float)got, want) <= 1.0;
        else
            ok = (isnan(want) && isnan(got)) || (float)want == (float)got;
        if (!ok)
            CHECK_MSG(0, "%s %s: element %lld: %a op %a = %a, want %a", fokus_ew_binop_name(op), what, (long long)i, x, y,
                      got, want);
    }
    CHECK(r.dtype == (op >= FOKUS_EW_LT ? FOKUS_BOOL : FOKUS_F32));
    fokus_tensor_release(&r);
    return ok;
}

static void test_binary_broadcast(void)
{
    fokus_error err;
    /* a: [3, 1, 37] as a transposed view of [37, 1, 3]; b: [5, 37] narrowed from [5, 40] */
    int64_t sa[3] = {37, 1, 3}, sb[2] = {5, 40};
    fokus_tensor ab, bb, a, b;
    fokus_tensor_new(&ab, FOKUS_F32, 3, sa, &err);
    fokus_tensor_new(&bb, FOKUS_F32, 2, sb, &err);
    fill_values(F(&ab), 111);
    fill_values(F(&bb), 200);
    int perm[3] = {2, 1, 0};
    CHECK(fokus_tensor_permute(&a, &ab, perm, &err) == FOKUS_OK);
    CHECK(fokus_tensor_narrow(&b, &bb, 1, 2, 37, &err) == FOKUS_OK);
    for (int op = 0; op < FOKUS_EW_NBINOPS; op++) {
        check_binary((fokus_ew_binop)op, &a, &b, "[3,1,37]^T x [5,37] narrow");
        check_binary((fokus_ew_binop)op, &b, &a, "[5,37] narrow x [3,1,37]^T");
    }
    /* f16, bf16, i32 and u8 inputs (read as f32), broadcasting a row */
    int64_t s2[2] = {4, 19}, s1[1] = {19};
    const fokus_dtype dts[] = {FOKUS_F16, FOKUS_BF16, FOKUS_I32, FOKUS_U8, FOKUS_BOOL, FOKUS_I64};
    fokus_tensor base;
    fokus_tensor_new(&base, FOKUS_F32, 2, s2, &err);
    for (int i = 0; i < 76; i++) F(&base)[i] = (float)((int)(urand() * 200) - 100) * 0.75f;
    for (size_t k = 0; k < sizeof dts / sizeof *dts; k++) {
        fokus_tensor x, y;
        fokus_tensor absb;
        fokus_unary(ctx, FOKUS_EW_ABS, &base, NULL, &absb, &err);
        /* integer dtypes: whole non-negative values */
        for (int i = 0; i < 76; i++) F(&absb)[i] = floorf(F(&absb)[i]);
        if (dts[k] == FOKUS_BOOL)
            for (int i = 0; i < 76; i++) F(&absb)[i] = F(&absb)[i] > 10;
        CHECK(fokus_tensor_to(&x, fokus_dtype_is_float(dts[k]) ? &base : &absb, dts[k], &err) == FOKUS_OK);
        fokus_tensor row;
        fokus_tensor_select(&row, &base, 0, 1, &err);
        CHECK(row.ndim == 1 && row.shape[0] == s1[0]);
        char what[64];
        snprintf(what, sizeof what, "%s [4,19] x f32 row", fokus_dtype_name(dts[k]));
        check_binary(FOKUS_EW_MUL, &x, &row, what);
        check_binary(FOKUS_EW_SUB, &row, &x, what);
        check_binary(FOKUS_EW_LE, &x, &row, what);
        /* the same in place: y = x converted to f32, then y = y * row into y */
        CHECK(fokus_tensor_to(&y, &x, FOKUS_F32, &err) == FOKUS_OK);
        fokus_tensor yc;
        fokus_tensor_clone(&yc, &y, &err);
        CHECK(fokus_binary(ctx, FOKUS_EW_MUL, fokus_op_tensor(&y), fokus_op_tensor(&row), &y, NULL, &err) == FOKUS_OK);
        bool ok = true;
        for (int i = 0; i < 76; i++) ok = ok && F(&y)[i] == F(&yc)[i] * F(&base)[19 + i % 19];
        CHECK_MSG(ok, "%s: in-place mul", fokus_dtype_name(dts[k]));
        fokus_tensor_release(&x), fokus_tensor_release(&y), fokus_tensor_release(&yc);
        fokus_tensor_release(&row), fokus_tensor_release(&absb);
    }
    fokus_tensor_release(&base);
    fokus_tensor_release(&a), fokus_tensor_release(&b), fokus_tensor_release(&ab), fokus_tensor_release(&bb);
}

static void test_scalars_and_errors(void)
{
    fokus_error err;
    int64_t s23[2] = {2, 3}, s43[2] = {4, 3};
    fokus_tensor a, b, r;
    fokus_tensor_new(&a, FOKUS_F32, 2, s23, &err);
    fokus_tensor_new(&b, FOKUS_F32, 2, s43, &err);
    for (int i = 0; i < 6; i++) F(&a)[i] = (float)i + 1;
    CHECK(fokus_binary(ctx, FOKUS_EW_ADD, fokus_op_tensor(&a), fokus_op_tensor(&b), NULL, &r, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "add: shapes 2x3 and 4x3 do not broadcast (dim 1: 2 vs 4)");
    int64_t s3[1] = {3}, s2[1] = {2};
    fokus_tensor c, d;
    fokus_tensor_new(&c, FOKUS_F32, 1, s3, &err);
    fokus_tensor_new(&d, FOKUS_F32, 1, s2, &err);
    CHECK(fokus_where(ctx, fokus_op_tensor(&a), fokus_op_tensor(&c), fokus_op_tensor(&d), NULL, &r, &err) ==
          FOKUS_EINVAL);
    CHECK_STR(err.msg, "where: shapes 2x3, 3 and 2 do not broadcast (dim 2: 3 vs 2)");
    CHECK(fokus_compare(ctx, FOKUS_EW_LT, fokus_op_tensor(&d), fokus_op_tensor(&a), NULL, &r, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "lt: shapes 2 and 2x3 do not broadcast (dim 2: 2 vs 3)");
    /* scalar on either side */
    CHECK(fokus_binary(ctx, FOKUS_EW_SUB, fokus_op_scalar(10), fokus_op_tensor(&a), NULL, &r, &err) == FOKUS_OK);
    CHECK(F(&r)[0] == 9 && F(&r)[5] == 4 && r.ndim == 2);
    fokus_tensor_release(&r);
    CHECK(fokus_binary(ctx, FOKUS_EW_POW, fokus_op_scalar(2), fokus_op_tensor(&a), NULL, &r, &err) == FOKUS_OK);
    CHECK(F(&r)[0] == 2 && F(&r)[5] == 64);
    fokus_tensor_release(&r);
    CHECK(fokus_binary(ctx, FOKUS_EW_POW, fokus_op_tensor(&a), fokus_op_scalar(2), NULL, &r, &err) == FOKUS_OK);
    CHECK(F(&r)[2] == 9 && F(&r)[5] == 36);
    fokus_tensor_release(&r);
    CHECK(fokus_binary(ctx, FOKUS_EW_DIV, fokus_op_scalar(1), fokus_op_scalar(4), NULL, &r, &err) == FOKUS_OK);
    CHECK(r.ndim == 0 && F(&r)[0] == 0.25f);
    fokus_tensor_release(&r);
    /* where with scalars, and a nan condition counts as true */
    F(&a)[1] = 0;
    F(&a)[2] = NAN;
    CHECK(fokus_where(ctx, fokus_op_tensor(&a), fokus_op_scalar(1), fokus_op_scalar(-1), NULL, &r, &err) == FOKUS_OK);
    CHECK(F(&r)[0] == 1 && F(&r)[1] == -1 && F(&r)[2] == 1);
    fokus_tensor_release(&r);
    /* comparisons with nan: false except ne */
    CHECK(fokus_compare(ctx, FOKUS_EW_EQ, fokus_op_tensor(&a), fokus_op_tensor(&a), NULL, &r, &err) == FOKUS_OK);
    CHECK(((unsigned char *)r.data)[2] == 0 && ((unsigned char *)r.data)[0] == 1);
    fokus_tensor_release(&r);
    CHECK(fokus_compare(ctx, FOKUS_EW_NE, fokus_op_tensor(&a), fokus_op_tensor(&a), NULL, &r, &err) == FOKUS_OK);
    CHECK(((unsigned char *)r.data)[2] == 1 && ((unsigned char *)r.data)[0] == 0);
    fokus_tensor_release(&r);
    /* wrong op families */
    CHECK(fokus_binary(ctx, FOKUS_EW_LT, fokus_op_tensor(&a), fokus_op_tensor(&a), NULL, &r, &err) == FOKUS_EINVAL);
    CHECK(fokus_compare(ctx, FOKUS_EW_ADD, fokus_op_tensor(&a), fokus_op_tensor(&a), NULL, &r, &err) == FOKUS_EINVAL);
    fokus_tensor_release(&a), fokus_tensor_release(&b), fokus_tensor_release(&c), fokus_tensor_release(&d);
}

/* ---------------------------------------------------------------- destinations */

static void test_out(void)
{
    fokus_error err;
    int64_t s[2] = {64, 48};
    fokus_tensor a, b, r, o;
    fokus_tensor_new(&a, FOKUS_F32, 2, s, &err);
    fokus_tensor_new(&b, FOKUS_F32, 2, s, &err);
    fill_values(F(&a), 64 * 48);
    for (int i = 0; i < 64 * 48; i++) F(&b)[i] = (float)(i % 7) - 3;
    CHECK(fokus_binary(ctx, FOKUS_EW_ADD, fokus_op_tensor(&a), fokus_op_tensor(&b), NULL, &r, &err) == FOKUS_OK);
    /* a strided destination: the transpose of a [48, 64] buffer */
    int64_t st[2] = {48, 64};
    fokus_tensor buf, tv;
    fokus_tensor_new(&buf, FOKUS_F32, 2, st, &err);
    int perm[2] = {1, 0};
    fokus_tensor_permute(&tv, &buf, perm, &err);
    CHECK(fokus_binary(ctx, FOKUS_EW_ADD, fokus_op_tensor(&a), fokus_op_tensor(&b), &tv, NULL, &err) == FOKUS_OK);
    bool ok = true;
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 48; j++) {
            float g = F(&buf)[j * 64 + i], w = F(&r)[i * 48 + j];
            ok = ok && (g == w || (isnan(g) && isnan(w)));
        }
    CHECK_MSG(ok, "strided out");
    /* wrong shape, wrong dtype, broadcast (stride 0) out */
    CHECK(fokus_binary(ctx, FOKUS_EW_ADD, fokus_op_tensor(&a), fokus_op_tensor(&b), &buf, NULL, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "add: out must be f32 64x48, got f32 48x64");
    fokus_tensor bo;
    fokus_tensor_new(&bo, FOKUS_BOOL, 2, s, &err);
    CHECK(fokus_binary(ctx, FOKUS_EW_ADD, fokus_op_tensor(&a), fokus_op_tensor(&b), &bo, NULL, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "add: out must be f32 64x48, got bool 64x48");
    CHECK(fokus_compare(ctx, FOKUS_EW_GT, fokus_op_tensor(&a), fokus_op_scalar(0), &bo, NULL, &err) == FOKUS_OK);
    CHECK(((unsigned char *)bo.data)[5] == 1 && ((unsigned char *)bo.data)[6] == 0);
    int64_t one[2] = {1, 48};
    fokus_tensor row, ex;
    fokus_tensor_new(&row, FOKUS_F32, 2, one, &err);
    fokus_tensor_expand(&ex, &row, 2, s, &err);
    CHECK(fokus_unary(ctx, FOKUS_EW_EXP, &a, &ex, NULL, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "distinct elements") != NULL);
    /* in place: out is the input itself */
    fokus_tensor a2;
    fokus_tensor_clone(&a2, &a, &err);
    CHECK(fokus_binary(ctx, FOKUS_EW_ADD, fokus_op_tensor(&a2), fokus_op_tensor(&b), &a2, NULL, &err) == FOKUS_OK);
    ok = true;
    for (int i = 0; i < 64 * 48; i++) ok = ok && (F(&a2)[i] == F(&r)[i] || (isnan(F(&r)[i]) && isnan(F(&a2)[i])));
    CHECK_MSG(ok, "in-place add");
    /* an overlapping, shifted view of the input: x[1:] = x[:-1] * 2 must read the old
     * values (as if computed first) */
    int64_t n = 5000;
    fokus_tensor x = vec(n), lo, hi, want;
    for (int64_t i = 0; i < n; i++) F(&x)[i] = (float)i;
    fokus_tensor_narrow(&lo, &x, 0, 0, n - 1, &err);
    fokus_tensor_narrow(&hi, &x, 0, 1, n - 1, &err);
    CHECK(fokus_binary(ctx, FOKUS_EW_MUL, fokus_op_tensor(&lo), fokus_op_scalar(2), &hi, NULL, &err) == FOKUS_OK);
    ok = F(&x)[0] == 0;
    for (int64_t i = 1; i < n; i++) ok = ok && F(&x)[i] == 2.0f * (float)(i - 1);
    CHECK_MSG(ok, "overlapping out");
    /* in place through a transposed view of itself (overlap, not the same view) */
    int64_t sq[2] = {33, 33};
    fokus_tensor m, mt;
    fokus_tensor_new(&m, FOKUS_F32, 2, sq, &err);
    for (int i = 0; i < 33 * 33; i++) F(&m)[i] = (float)i;
    fokus_tensor_permute(&mt, &m, perm, &err);
    fokus_tensor_clone(&want, &mt, &err); /* contiguous transpose */
    CHECK(fokus_binary(ctx, FOKUS_EW_ADD, fokus_op_tensor(&mt), fokus_op_scalar(0), &m, NULL, &err) == FOKUS_OK);
    ok = true;
    for (int i = 0; i < 33 * 33; i++) ok = ok && F(&m)[i] == F(&want)[i];
    CHECK_MSG(ok, "transpose in place");
    fokus_tensor_release(&m), fokus_tensor_release(&mt), fokus_tensor_release(&want);
    fokus_tensor_release(&x), fokus_tensor_release(&lo), fokus_tensor_release(&hi);
    fokus_tensor_release(&a2), fokus_tensor_release(&row), fokus_tensor_release(&ex), fokus_tensor_release(&bo);
    fokus_tensor_release(&buf), fokus_tensor_release(&tv), fokus_tensor_release(&r);
    fokus_tensor_release(&a), fokus_tensor_release(&b);
    (void)o;
}

/* ---------------------------------------------------------------- threads */

static void test_threads(void)
{
    /* past the parallel grain, with a broadcast operand: the split must not change a bit */
    fokus_error err;
    int64_t s[2] = {700, 1001}, sr[1] = {1001};
    fokus_tensor a, row, r2, r1;
    fokus_tensor_new(&a, FOKUS_F32, 2, s, &err);
    fokus_tensor_new(&row, FOKUS_F32, 1, sr, &err);
    fill_values(F(&a), 700 * 1001);
    fill_values(F(&row), 1001);
    const fokus_ew_unop ops[] = {FOKUS_EW_GELU, FOKUS_EW_EXP, FOKUS_EW_SIN};
    for (size_t k = 0; k < 3; k++) {
        CHECK(fokus_unary(ctx, ops[k], &a, NULL, &r2, &err) == FOKUS_OK);
        CHECK(fokus_unary(ctx1, ops[k], &a, NULL, &r1, &err) == FOKUS_OK);
        CHECK(memcmp(r1.data, r2.data, 700 * 1001 * 4) == 0);
        fokus_tensor_release(&r1), fokus_tensor_release(&r2);
    }
    CHECK(fokus_binary(ctx, FOKUS_EW_DIV, fokus_op_tensor(&a), fokus_op_tensor(&row), NULL, &r2, &err) == FOKUS_OK);
    CHECK(fokus_binary(ctx1, FOKUS_EW_DIV, fokus_op_tensor(&a), fokus_op_tensor(&row), NULL, &r1, &err) == FOKUS_OK);
    CHECK(memcmp(r1.data, r2.data, 700 * 1001 * 4) == 0);
    bool ok = true;
    for (int64_t i = 0; i < 700 * 1001 && ok; i++) {
        float w = F(&a)[i] / F(&row)[i % 1001];
        ok = F(&r2)[i] == w || (isnan(w) && isnan(F(&r2)[i]));
    }
    CHECK(ok);
    fokus_tensor_release(&r1), fokus_tensor_release(&r2), fokus_tensor_release(&a), fokus_tensor_release(&row);
    /* past the non-temporal store threshold (32 MiB): new result, and in place */
    int64_t big = 9 * 1024 * 1024 + 5;
    fokus_tensor x = vec(big), y;
    for (int64_t i = 0; i < big; i++) F(&x)[i] = (float)(i % 1000) * 0.01f - 5;
    CHECK(fokus_binary(ctx, FOKUS_EW_MUL, fokus_op_tensor(&x), fokus_op_scalar(3), NULL, &y, &err) == FOKUS_OK);
    CHECK(fokus_binary(ctx, FOKUS_EW_MUL, fokus_op_tensor(&x), fokus_op_scalar(3), &x, NULL, &err) == FOKUS_OK);
    ok = memcmp(x.data, y.data, (size_t)big * 4) == 0;
    for (int64_t i = 0; i < big && ok; i += 997) ok = F(&y)[i] == ((float)(i % 1000) * 0.01f - 5) * 3;
    CHECK_MSG(ok, "large results (streamed stores)");
    fokus_tensor_release(&x), fokus_tensor_release(&y);
}

/* ---------------------------------------------------------------- copy, creation */

static void test_copy(void)
{
    fokus_error err;
    int64_t s[3] = {3, 4, 5}, sr[2] = {1, 5};
    fokus_tensor d, src, h;
    fokus_tensor_new(&d, FOKUS_F32, 3, s, &err);
    fokus_tensor_new(&src, FOKUS_F32, 2, sr, &err);
    for (int i = 0; i < 5; i++) F(&src)[i] = (float)i + 0.5f;
    CHECK(fokus_copy(ctx, &d, fokus_op_tensor(&src), &err) == FOKUS_OK);
    CHECK(F(&d)[0] == 0.5f && F(&d)[59] == 4.5f && F(&d)[22] == 2.5f);
    CHECK(fokus_copy(ctx, &src, fokus_op_tensor(&d), &err) == FOKUS_EINVAL);
    CHECK(fokus_copy(ctx, &d, fokus_op_scalar(7), &err) == FOKUS_OK && F(&d)[33] == 7);
    /* into f16 (rounded), from f16, into integers (exact / range-checked) */
    fokus_tensor_new(&h, FOKUS_F16, 3, s, &err);
    F(&src)[0] = 1.0f / 3;
    CHECK(fokus_copy(ctx, &h, fokus_op_tensor(&src), &err) == FOKUS_OK);
    CHECK(fokus_f16_to_f32(((uint16_t *)h.data)[5]) == fokus_f16_to_f32(fokus_f32_to_f16(1.0f / 3)));
    CHECK(fokus_copy(ctx, &d, fokus_op_tensor(&h), &err) == FOKUS_OK && F(&d)[10] == fokus_f16_to_f32(fokus_f32_to_f16(1.0f / 3)));
    fokus_tensor i64;
    fokus_tensor_new(&i64, FOKUS_I64, 3, s, &err);
    CHECK(fokus_copy(ctx, &i64, fokus_op_tensor(&d), &err) == FOKUS_OK);
    F(&d)[3] = NAN;
    CHECK(fokus_copy(ctx, &i64, fokus_op_tensor(&d), &err) == FOKUS_ERANGE);
    fokus_tensor big;
    int64_t one = 1;
    fokus_tensor_new(&big, FOKUS_I64, 1, &one, &err);
    ((int64_t *)big.data)[0] = 9007199254740993LL;
    CHECK(fokus_copy(ctx, &i64, fokus_op_tensor(&big), &err) == FOKUS_OK && ((int64_t *)i64.data)[59] == 9007199254740993LL);
    fokus_tensor_release(&big), fokus_tensor_release(&i64), fokus_tensor_release(&h);
    fokus_tensor_release(&d), fokus_tensor_release(&src);
}

static void test_create(void)
{
    fokus_error err;
    fokus_tensor t;
    CHECK(fokus_arange(ctx, 0, 1, 0.1, FOKUS_F32, NULL, &t, &err) == FOKUS_OK);
    CHECK(t.shape[0] == 10 && F(&t)[3] == (float)(0.0 + 3 * 0.1) && F(&t)[9] == (float)(9 * 0.1));
    fokus_tensor_release(&t);
    CHECK(fokus_arange(ctx, 5, -3, -2, FOKUS_I64, NULL, &t, &err) == FOKUS_OK);
    CHECK(t.shape[0] == 4 && ((int64_t *)t.data)[0] == 5 && ((int64_t *)t.data)[3] == -1);
    fokus_tensor_release(&t);
    CHECK(fokus_arange(ctx, 3, 3, 1, FOKUS_I64, NULL, &t, &err) == FOKUS_OK && t.shape[0] == 0);
    fokus_tensor_release(&t);
    CHECK(fokus_arange(ctx, 0, 1, 0, FOKUS_F32, NULL, &t, &err) == FOKUS_EINVAL);
    CHECK(fokus_arange(ctx, 0, 300, 1, FOKUS_U8, NULL, &t, &err) == FOKUS_ERANGE);
    CHECK(fokus_linspace(ctx, -1, 1, 7, NULL, &t, &err) == FOKUS_OK);
    CHECK(t.shape[0] == 7 && F(&t)[0] == -1 && F(&t)[6] == 1 && F(&t)[3] == 0 && F(&t)[1] == (float)(-1 + 2.0 / 6));
    fokus_tensor_release(&t);
    CHECK(fokus_linspace(ctx, 2, 5, 1, NULL, &t, &err) == FOKUS_OK && t.shape[0] == 1 && F(&t)[0] == 2);
    fokus_tensor_release(&t);
    int64_t s[2] = {3, 2};
    CHECK(fokus_full(ctx, 2, s, 2.5, FOKUS_F32, NULL, &t, &err) == FOKUS_OK && F(&t)[5] == 2.5f);
    fokus_tensor_release(&t);
    CHECK(fokus_full(ctx, 2, s, 2.5, FOKUS_I32, NULL, &t, &err) == FOKUS_ERANGE);
    /* rand: fixed values for seed 1 (24-bit multiples of 2^-24), the same for any thread
     * count and any offset */
    int64_t n = 300000;
    fokus_tensor r1, r2;
    CHECK(fokus_rand(ctx, 1, &n, 1, FOKUS_F32, NULL, &r2, &err) == FOKUS_OK);
    CHECK(fokus_rand(ctx1, 1, &n, 1, FOKUS_F32, NULL, &r1, &err) == FOKUS_OK);
    CHECK(memcmp(r1.data, r2.data, (size_t)n * 4) == 0);
    printf("# rand seed 1: %.9g %.9g %.9g %.9g\n", F(&r1)[0], F(&r1)[1], F(&r1)[2], F(&r1)[3]);
    CHECK(F(&r1)[0] == 0.890259147f && F(&r1)[1] == 0.894684672f && F(&r1)[2] == 0.585725904f &&
          F(&r1)[3] == 0.711268067f);
    double mean = 0, lo = 1, hi = 0;
    bool grid = true;
    for (int64_t i = 0; i < n; i++) {
        float v = F(&r1)[i];
        mean += v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        grid = grid && v * 16777216.0f == floorf(v * 16777216.0f);
    }
    mean /= (double)n;
    CHECK(lo >= 0 && hi < 1 && fabs(mean - 0.5) < 0.005 && grid);
    fokus_tensor_release(&r1), fokus_tensor_release(&r2);
    CHECK(fokus_rand(ctx, 1, &n, 1, FOKUS_I32, NULL, &r1, &err) == FOKUS_EINVAL);
    CHECK(fokus_rand(ctx, 1, &n, 2, FOKUS_F16, NULL, &r1, &err) == FOKUS_OK);
    bool below1 = true;
    for (int64_t i = 0; i < n; i++) below1 = below1 && fokus_f16_to_f32(((uint16_t *)r1.data)[i]) < 1.0f;
    CHECK(below1);
    fokus_tensor_release(&r1);
}

int main(void)
{
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK || fokus_ctx_new(&ctx1, 1, &err) != FOKUS_OK) return 1;
    RUN(test_unary);
    RUN(test_binary_broadcast);
    RUN(test_scalars_and_errors);
    RUN(test_out);
    RUN(test_threads);
    RUN(test_copy);
    RUN(test_create);
    fokus_ctx_free(ctx);
    fokus_ctx_free(ctx1);
    return check_summary("test_eltwise");
}
