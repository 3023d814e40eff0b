/* Reductions, softmax, LayerNorm/RMSNorm tensor forms and index_select against naive
 * double-precision references: every op over every dim of ragged shapes (vector
 * bodies and scalar tails), keepdim, strided views (transposed, narrowed, stepped),
 * f16/bf16/i32 inputs, 1 and 2 threads, the 10^7-element sum, NaN/inf rules, ties,
 * destinations and the layout views. */
#include "check.h"

#include "fokus.h"

static fokus_ctx *ctx1, *ctx2;

static void fill_random(fokus_tensor *t, uint64_t seed, double offset)
{
    fokus_rng r;
    fokus_rng_init(&r, seed);
    int64_t n = fokus_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = 4 * fokus_rng_uniform(&r) - 2 + offset;
        if (!fokus_dtype_is_float(t->dtype)) v = floor(v * 10);
        fokus_tensor_set(t, i, v);
    }
}

/* Logical element (o_outer, i, o_inner) of x viewed as [outer, n, inner]. */
static double at(const fokus_tensor *x, int64_t n, int64_t inner, int64_t oo, int64_t i, int64_t oi)
{
    return fokus_tensor_get(x, (oo * n + i) * inner + oi);
}

/* Reference of one output: op over i of x[oo, i, oi]; *pos the 0-based position. */
static double ref_one(fokus_reduce_op op, const fokus_tensor *x, int64_t n, int64_t inner, int64_t oo, int64_t oi,
                      double correction, double p, int64_t *pos, double *abssum)
{
    double s = 0, a = 0, best = 0;
    int64_t bi = -1;
    bool mx = op == FOKUS_REDUCE_MAX || op == FOKUS_REDUCE_ARGMAX;
    for (int64_t i = 0; i < n; i++) {
        double v = at(x, n, inner, oo, i, oi);
        s += v;
        a += fabs(v);
        bool take = bi < 0 || (!isnan(best) && (isnan(v) || (mx ? v > best : v < best)));
        if (take) {
            best = v;
            bi = i;
        }
    }
    *pos = bi;
    *abssum = a;
    switch (op) {
    case FOKUS_REDUCE_SUM: return s;
    case FOKUS_REDUCE_MEAN: return s / n;
    case FOKUS_REDUCE_VAR: {
        double m = s / n, q = 0;
        for (int64_t i = 0; i < n; i++) q += (at(x, n, inner, oo, i, oi) - m) * (at(x, n, inner, oo, i, oi) - m);
        *abssum = q;
        return q / (n - correction);
    }
    case FOKUS_REDUCE_NORM: {
        double q = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = fabs(at(x, n, inner, oo, i, oi));
            if (isinf(p)) q = i == 0 ? v : (p > 0 ? fmax(q, v) : fmin(q, v));
            else q += p == 0 ? (v != 0) : pow(v, p);
        }
        *abssum = q;
        return isinf(p) || p == 0 ? q : pow(q, 1 / p);
    }
    default: return best;
    }
}

/* Checks fokus_reduce(op, x, dim) against the reference; returns the worst error
 * relative to the error scale (sum |x| for sums). */
static void check_reduce(fokus_ctx *ctx, fokus_reduce_op op, const fokus_tensor *x, int dim, bool keepdim,
                         const char *what)
{
    fokus_reduce_opts o = {keepdim, 1.0, 2.0, NULL, NULL};
    if (op == FOKUS_REDUCE_NORM) o.p = (dim & 1) ? 1.0 : 2.0;
    fokus_tensor v = {0}, ix = {0};
    fokus_error err;
    bool ext = op == FOKUS_REDUCE_MAX || op == FOKUS_REDUCE_MIN || op == FOKUS_REDUCE_ARGMAX || op == FOKUS_REDUCE_ARGMIN;
    fokus_status st = fokus_reduce(ctx, op, x, dim, &o, &v, ext ? &ix : NULL, &err);
    CHECK_MSG(st == FOKUS_OK, "%s: %s", what, err.msg);
    if (st != FOKUS_OK) return;
    const bool all = dim == FOKUS_ALL_DIMS;
    int d = all ? 0 : dim < 0 ? dim + x->ndim : dim;
    int64_t outer = 1, n = all ? fokus_tensor_numel(x) : x->shape[d], inner = 1;
    if (!all) {
        for (int k = 0; k < d; k++) outer *= x->shape[k];
        for (int k = d + 1; k < x->ndim; k++) inner *= x->shape[k];
    }
    const fokus_tensor *shape_of = (op == FOKUS_REDUCE_ARGMAX || op == FOKUS_REDUCE_ARGMIN) ? &ix : &v;
    int want_nd = all ? (keepdim ? x->ndim : 0) : (keepdim ? x->ndim : x->ndim - 1);
    CHECK_MSG(shape_of->ndim == want_nd, "%s: result has %d dims, expected %d", what, shape_of->ndim, want_nd);
    double worst = 0;
    int64_t bad_pos = 0;
    for (int64_t oo = 0; oo < outer; oo++)
        for (int64_t oi = 0; oi < inner; oi++) {
            int64_t pos;
            double scale;
            double r = ref_one(op, x, n, inner, oo, oi, 1.0, o.p, &pos, &scale);
            int64_t flat = oo * inner + oi;
            if (ext) {
                if (fokus_tensor_get_i64(&ix, flat) != pos + 1) bad_pos++;
                if (op == FOKUS_REDUCE_ARGMAX || op == FOKUS_REDUCE_ARGMIN) continue;
                double g = fokus_tensor_get(&v, flat);
                if (!(g == r || (isnan(g) && isnan(r)))) worst = INFINITY;
                continue;
            }
            double g = fokus_tensor_get(&v, flat);
            double e = fabs(g - r);
            /* sums: 1e-6 of sum |x| (f32 rounding of the result included); var and
             * norms: relative */
            double tol = op == FOKUS_REDUCE_MEAN ? 1e-6 * scale / n + 1e-30
                       : op == FOKUS_REDUCE_SUM ? 1e-6 * scale + 1e-30
                       : 2e-6 * fabs(r) + 1e-30;
            if (!(e / tol <= worst)) worst = e / tol;
        }
    CHECK_MSG(worst <= 1 && bad_pos == 0, "%s: error %.3g of tolerance, %lld wrong positions", what, worst,
              (long long)bad_pos);
    fokus_tensor_release(&v);
    fokus_tensor_release(&ix);
}

static const fokus_reduce_op ops[] = {FOKUS_REDUCE_SUM,    FOKUS_REDUCE_MEAN,   FOKUS_REDUCE_MAX,
                                      FOKUS_REDUCE_MIN,    FOKUS_REDUCE_ARGMAX, FOKUS_REDUCE_ARGMIN,
                                      FOKUS_REDUCE_VAR,    FOKUS_REDUCE_NORM};
static const char *op_names[] = {"sum", "mean", "max", "min", "argmax", "argmin", "var", "norm"};

static void test_reduce_shapes(void)
{
    /* ragged sizes: vector bodies, tails, more than one block, column blocks > 256 */
    const int64_t shapes[][3] = {{3, 5, 7}, {2, 33, 17}, {1, 1, 1}, {4, 300, 19}, {5, 2, 4100}, {2, 2049, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        fokus_tensor x;
        fokus_tensor_new(&x, FOKUS_F32, 3, shapes[s], NULL);
        fill_random(&x, 100 + s, 0.5);
        for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
            for (int dim = -1; dim < 3; dim++)
                for (int keep = 0; keep < 2; keep++) {
                    char what[128];
                    snprintf(what, sizeof what, "%s %lldx%lldx%lld dim %d keep %d", op_names[k], (long long)shapes[s][0],
                             (long long)shapes[s][1], (long long)shapes[s][2], dim, keep);
                    if (shapes[s][0] == 1 && ops[k] == FOKUS_REDUCE_VAR) continue; /* n - 1 = 0 */
                    check_reduce(s & 1 ? ctx2 : ctx1, ops[k], &x, dim, keep, what);
                }
        for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
            if (shapes[s][0] * shapes[s][1] * shapes[s][2] == 1 && ops[k] == FOKUS_REDUCE_VAR) continue;
            char what[64];
            snprintf(what, sizeof what, "%s all dims (shape %zu)", op_names[k], s);
            check_reduce(ctx2, ops[k], &x, FOKUS_ALL_DIMS, false, what);
        }
        fokus_tensor_release(&x);
    }
}

/* Views: transposed (no unit stride along the reduced dim), narrowed, stepped, and
 * f16 / bf16 / i32 data. */
static void test_reduce_views_dtypes(void)
{
    const int64_t shape[3] = {6, 70, 45};
    fokus_tensor base;
    fokus_tensor_new(&base, FOKUS_F32, 3, shape, NULL);
    fill_random(&base, 7, 0.25);
    fokus_tensor views[6];
    int perm[3] = {2, 0, 1};
    fokus_tensor_permute(&views[0], &base, perm, NULL);
    fokus_tensor_narrow(&views[1], &base, 2, 3, 37, NULL);
    fokus_tensor_slice(&views[2], &base, 1, 1, 70, 3, NULL);
    fokus_tensor_to(&views[3], &base, FOKUS_F16, NULL);
    fokus_tensor_to(&views[4], &base, FOKUS_BF16, NULL);
    fokus_tensor_new(&views[5], FOKUS_I32, 3, shape, NULL);
    fill_random(&views[5], 8, 0);
    const char *names[] = {"permuted", "narrowed", "stepped", "f16", "bf16", "i32"};
    for (int v = 0; v < 6; v++) {
        fokus_tensor tv;
        fokus_tensor_permute(&tv, &views[v], (int[]){1, 0, 2}, NULL); /* a second layout of each */
        for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
            for (int dim = 0; dim < 3; dim++) {
                char what[128];
                snprintf(what, sizeof what, "%s %s dim %d", names[v], op_names[k], dim);
                check_reduce(ctx2, ops[k], &views[v], dim, false, what);
                snprintf(what, sizeof what, "%s transposed %s dim %d", names[v], op_names[k], dim);
                check_reduce(ctx1, ops[k], &tv, dim, dim == 1, what);
            }
        char what[64];
        snprintf(what, sizeof what, "%s sum all", names[v]);
        check_reduce(ctx2, FOKUS_REDUCE_SUM, &views[v], FOKUS_ALL_DIMS, true, what);
        snprintf(what, sizeof what, "%s argmax all", names[v]);
        check_reduce(ctx2, FOKUS_REDUCE_ARGMAX, &tv, FOKUS_ALL_DIMS, false, what);
        fokus_tensor_release(&tv);
        fokus_tensor_release(&views[v]);
    }
    fokus_tensor_release(&base);
}

/* 10^7 values around 1: a plain float loop drifts by ~1e-3 relative here. */
static void test_sum_accuracy(void)
{
    const int64_t n = 10000000;
    fokus_tensor x;
    fokus_tensor_empty(&x, FOKUS_F32, 1, &n, NULL);
    fokus_rng r;
    fokus_rng_init(&r, 3);
    float *p = x.data;
    double ref = 0, naive_f = 0;
    float naive = 0;
    for (int64_t i = 0; i < n; i++) {
        p[i] = (float)(fokus_rng_uniform(&r) + 0.5);
        ref += p[i];
        naive += p[i];
    }
    naive_f = naive;
    for (int t = 0; t < 2; t++) {
        fokus_tensor s = {0}, m = {0};
        fokus_error err;
        CHECK(fokus_reduce(t ? ctx2 : ctx1, FOKUS_REDUCE_SUM, &x, FOKUS_ALL_DIMS, NULL, &s, NULL, &err) == FOKUS_OK);
        CHECK(fokus_reduce(t ? ctx2 : ctx1, FOKUS_REDUCE_MEAN, &x, 0, NULL, &m, NULL, &err) == FOKUS_OK);
        double rel = fabs(fokus_tensor_get(&s, 0) - ref) / ref;
        printf("# sum of 1e7 (%d thread%s): rel. error %.2e (float result rounding %.2e; naive f32 loop %.2e)\n", t + 1,
               t ? "s" : "", rel, fabs((double)(float)ref - ref) / ref, fabs(naive_f - ref) / ref);
        CHECK(s.ndim == 0 && m.ndim == 0);
        CHECK(rel <= 1.2e-7); /* the rounding of the f32 result itself is up to 6e-8 */
        CHECK_NEAR(fokus_tensor_get(&m, 0), ref / n, 1e-7);
        fokus_tensor_release(&s);
        fokus_tensor_release(&m);
    }
    /* a strided 2-d view of the same data: columns accumulate 10^6 rows */
    const int64_t sh[2] = {1000000, 10};
    fokus_tensor x2, s = {0};
    fokus_tensor_reshape(&x2, &x, 2, sh, NULL);
    CHECK(fokus_reduce(ctx2, FOKUS_REDUCE_SUM, &x2, 0, NULL, &s, NULL, NULL) == FOKUS_OK);
    for (int j = 0; j < 10; j++) {
        double rj = 0;
        for (int64_t i = 0; i < sh[0]; i++) rj += p[i * 10 + j];
        CHECK_MSG(fabs(fokus_tensor_get(&s, j) - rj) <= 1.2e-7 * rj, "column %d: %.9g vs %.9g", j,
                  fokus_tensor_get(&s, j), rj);
    }
    fokus_tensor_release(&s);
    fokus_tensor_release(&x2);
    fokus_tensor_release(&x);
}

static void test_nan_inf_ties(void)
{
    float d[] = {1, 3, 3, NAN, 5, NAN, -INFINITY, 2};
    fokus_tensor x;
    int64_t n = 8;
    fokus_tensor_borrow(&x, d, FOKUS_F32, 1, &n, NULL);
    fokus_tensor v = {0}, i = {0};
    fokus_reduce(ctx1, FOKUS_REDUCE_MAX, &x, 0, NULL, &v, &i, NULL);
    CHECK(isnan(fokus_tensor_get(&v, 0)) && fokus_tensor_get_i64(&i, 0) == 4);
    fokus_tensor_release(&v);
    fokus_tensor_release(&i);
    fokus_reduce(ctx1, FOKUS_REDUCE_SUM, &x, 0, NULL, &v, NULL, NULL);
    CHECK(isnan(fokus_tensor_get(&v, 0)));
    fokus_tensor_release(&v);
    /* ties: the first position, also across SIMD lanes and segments */
    const int64_t big = 300000;
    fokus_tensor y;
    fokus_tensor_new(&y, FOKUS_F32, 1, &big, NULL);
    float *p = y.data;
    for (int64_t k = 0; k < big; k++) p[k] = (float)(k % 1000);
    fokus_reduce(ctx2, FOKUS_REDUCE_ARGMAX, &y, FOKUS_ALL_DIMS, NULL, NULL, &i, NULL);
    CHECK_EQ_INT(fokus_tensor_get_i64(&i, 0), 1000);
    fokus_tensor_release(&i);
    fokus_reduce(ctx2, FOKUS_REDUCE_ARGMIN, &y, 0, NULL, NULL, &i, NULL);
    CHECK_EQ_INT(fokus_tensor_get_i64(&i, 0), 1);
    fokus_tensor_release(&i);
    for (int64_t k = 0; k < big; k++) p[k] = -INFINITY;
    p[big - 5] = NAN;
    p[big - 2] = NAN;
    fokus_reduce(ctx2, FOKUS_REDUCE_MIN, &y, 0, NULL, &v, &i, NULL);
    CHECK(isnan(fokus_tensor_get(&v, 0)) && fokus_tensor_get_i64(&i, 0) == big - 4);
    fokus_tensor_release(&v);
    fokus_tensor_release(&i);
    p[big - 5] = p[big - 2] = -INFINITY;
    fokus_reduce(ctx2, FOKUS_REDUCE_MAX, &y, 0, NULL, &v, &i, NULL);
    CHECK(fokus_tensor_get(&v, 0) == -INFINITY && fokus_tensor_get_i64(&i, 0) == 1);
    fokus_tensor_release(&v);
    fokus_tensor_release(&i);
    fokus_tensor_release(&y);
    /* empty: sum 0, mean nan, max an error */
    int64_t sh[2] = {3, 0};
    fokus_tensor e;
    fokus_tensor_new(&e, FOKUS_F32, 2, sh, NULL);
    fokus_error err;
    CHECK(fokus_reduce(ctx1, FOKUS_REDUCE_SUM, &e, 1, NULL, &v, NULL, &err) == FOKUS_OK);
    CHECK(v.ndim == 1 && v.shape[0] == 3 && fokus_tensor_get(&v, 2) == 0);
    fokus_tensor_release(&v);
    CHECK(fokus_reduce(ctx1, FOKUS_REDUCE_MEAN, &e, FOKUS_ALL_DIMS, NULL, &v, NULL, &err) == FOKUS_OK);
    CHECK(isnan(fokus_tensor_get(&v, 0)));
    fokus_tensor_release(&v);
    CHECK(fokus_reduce(ctx1, FOKUS_REDUCE_MAX, &e, 1, NULL, &v, &i, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "max: cannot reduce an empty dimension");
    CHECK(fokus_reduce(ctx1, FOKUS_REDUCE_SUM, &e, 2, NULL, &v, NULL, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "sum: dim 3 out of range for a 2-d tensor");
    fokus_tensor_release(&e);
}

/* Destinations: contiguous and strided, and the errors. */
static void test_reduce_out(void)
{
    int64_t sh[2] = {5, 40};
    fokus_tensor x, buf, view, i64buf;
    fokus_tensor_new(&x, FOKUS_F32, 2, sh, NULL);
    fill_random(&x, 11, 0);
    int64_t bs[2] = {2, 5};
    fokus_tensor_new(&buf, FOKUS_F32, 2, bs, NULL);
    fokus_tensor_new(&i64buf, FOKUS_I64, 1, &sh[0], NULL);
    fokus_tensor_select(&view, &buf, 0, 1, NULL);
    fokus_reduce_opts o = {false, 1, 2, &view, &i64buf};
    fokus_error err;
    CHECK(fokus_reduce(ctx2, FOKUS_REDUCE_MAX, &x, 1, &o, NULL, NULL, &err) == FOKUS_OK);
    for (int r = 0; r < 5; r++) {
        double best = -INFINITY;
        int64_t bi = 0;
        for (int c = 0; c < 40; c++)
            if (fokus_tensor_get(&x, r * 40 + c) > best) {
                best = fokus_tensor_get(&x, r * 40 + c);
                bi = c;
            }
        CHECK(fokus_tensor_get(&buf, 5 + r) == best && fokus_tensor_get(&buf, r) == 0);
        CHECK_EQ_INT(fokus_tensor_get_i64(&i64buf, r), bi + 1);
    }
    /* strided (transposed) destination */
    fokus_tensor bt;
    fokus_tensor_permute(&bt, &buf, (int[]){1, 0}, NULL);
    fokus_reduce_opts o2 = {true, 1, 2, NULL, NULL};
    int64_t s2[2] = {5, 2};
    fokus_tensor x2, sub;
    fokus_tensor_narrow(&sub, &x, 1, 0, 2, NULL);
    (void)s2;
    o2.keepdim = false;
    fokus_tensor xt;
    fokus_tensor_permute(&xt, &x, (int[]){1, 0}, NULL);
    fokus_tensor_narrow(&x2, &xt, 0, 0, 40, NULL);
    o2.out_values = &view;
    CHECK(fokus_reduce(ctx1, FOKUS_REDUCE_SUM, &xt, 0, &o2, NULL, NULL, &err) == FOKUS_OK);
    for (int r = 0; r < 5; r++) {
        double s = 0;
        for (int c = 0; c < 40; c++) s += fokus_tensor_get(&x, r * 40 + c);
        CHECK_NEAR(fokus_tensor_get(&buf, 5 + r), s, 1e-5);
    }
    /* errors: wrong shape, wrong dtype, overlap, broadcast */
    o2.out_values = &bt;
    CHECK(fokus_reduce(ctx1, FOKUS_REDUCE_SUM, &x, 1, &o2, NULL, NULL, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "sum: out must be f32 5, got f32 5x2");
    o2.out_values = &i64buf;
    CHECK(fokus_reduce(ctx1, FOKUS_REDUCE_SUM, &x, 1, &o2, NULL, NULL, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "sum: out must be f32 5, got i64 5");
    fokus_tensor row0;
    fokus_tensor_select(&row0, &sub, 1, 0, NULL);
    o2.out_values = &row0;
    CHECK(fokus_reduce(ctx1, FOKUS_REDUCE_SUM, &x, 1, &o2, NULL, NULL, &err) == FOKUS_EINVAL);
    CHECK(strstr(err.msg, "overlaps input") != NULL);
    fokus_tensor_release(&row0);
    fokus_tensor_release(&sub);
    fokus_tensor_release(&x2);
    fokus_tensor_release(&xt);
    fokus_tensor_release(&bt);
    fokus_tensor_release(&view);
    fokus_tensor_release(&buf);
    fokus_tensor_release(&i64buf);
    fokus_tensor_release(&x);
}

static void softmax_ref(const fokus_tensor *x, int dim, bool lg, double *y)
{
    int64_t outer = 1, n = x->shape[dim], inner = 1;
    for (int k = 0; k < dim; k++) outer *= x->shape[k];
    for (int k = dim + 1; k < x->ndim; k++) inner *= x->shape[k];
    for (int64_t oo = 0; oo < outer; oo++)
        for (int64_t oi = 0; oi < inner; oi++) {
            double m = -INFINITY, s = 0;
            for (int64_t i = 0; i < n; i++) m = fmax(m, at(x, n, inner, oo, i, oi));
            for (int64_t i = 0; i < n; i++) s += exp(at(x, n, inner, oo, i, oi) - m);
            for (int64_t i = 0; i < n; i++) {
                double v = at(x, n, inner, oo, i, oi) - m;
                y[(oo * n + i) * inner + oi] = lg ? v - log(s) : exp(v) / s;
            }
        }
}

static void check_softmax(fokus_ctx *ctx, const fokus_tensor *x, int dim, bool lg, const char *what)
{
    fokus_tensor y = {0};
    fokus_error err;
    fokus_status st = fokus_softmax(ctx, x, dim, lg, NULL, &y, &err);
    CHECK_MSG(st == FOKUS_OK, "%s: %s", what, err.msg);
    if (st != FOKUS_OK) return;
    int64_t n = fokus_tensor_numel(x);
    double *ref = malloc((size_t)n * sizeof *ref);
    softmax_ref(x, dim < 0 ? dim + x->ndim : dim, lg, ref);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = fokus_tensor_get(&y, i), r = ref[i];
        /* x - max is rounded to f32 (as in any f32 softmax): half an ulp of |x - max|,
         * which is at most |log r|, on top of a few ulp of the exp and the sum */
        double tol = lg ? 1e-6 * (1 + fabs(r)) : r * (5e-7 + 1.2e-7 * fabs(log(r))) + 1e-38;
        double e = (isnan(g) && isnan(r)) || g == r ? 0 : fabs(g - r) / tol;
        if (!(e <= worst)) worst = e;
    }
    CHECK_MSG(worst <= 1, "%s: error %.3g of tolerance", what, worst);
    free(ref);
    fokus_tensor_release(&y);
}

static void test_softmax(void)
{
    const int64_t shapes[][3] = {{3, 5, 7}, {2, 3, 300}, {4, 17, 33}, {1, 5000, 1}, {2, 2, 70000}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        fokus_tensor x;
        fokus_tensor_new(&x, FOKUS_F32, 3, shapes[s], NULL);
        fill_random(&x, 40 + s, 0);
        /* spread: exp arguments from about -60 to 0 */
        int64_t n = fokus_tensor_numel(&x);
        for (int64_t i = 0; i < n; i++) fokus_tensor_set(&x, i, fokus_tensor_get(&x, i) * 15);
        for (int dim = -1; dim < 3; dim++)
            for (int lg = 0; lg < 2; lg++) {
                char what[96];
                snprintf(what, sizeof what, "%s shape %zu dim %d", lg ? "log_softmax" : "softmax", s, dim);
                check_softmax(s & 1 ? ctx2 : ctx1, &x, dim, lg, what);
            }
        fokus_tensor xt, xh;
        fokus_tensor_permute(&xt, &x, (int[]){2, 1, 0}, NULL);
        fokus_tensor_to(&xh, &x, FOKUS_BF16, NULL);
        check_softmax(ctx2, &xt, 2, false, "softmax transposed");
        check_softmax(ctx2, &xt, 0, true, "log_softmax transposed");
        check_softmax(ctx2, &xh, 2, false, "softmax bf16");
        fokus_tensor_release(&xt);
        fokus_tensor_release(&xh);
        fokus_tensor_release(&x);
    }
    /* outputs beyond 8 MiB are written with streaming stores: odd row lengths put
     * row starts off the 64-byte lines, so heads and tails take the cached path */
    {
        const int64_t big[2] = {70, 33333};
        fokus_tensor x;
        fokus_tensor_new(&x, FOKUS_F32, 2, big, NULL);
        fill_random(&x, 77, 0);
        check_softmax(ctx2, &x, 1, false, "softmax streamed");
        check_softmax(ctx2, &x, -1, true, "log_softmax streamed");
        fokus_tensor_release(&x);
    }
    /* -inf rows give NaN (torch), partly masked rows give exact zeros, large values */
    float d[4][5] = {{-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
                     {1, -INFINITY, 2, -INFINITY, 3},
                     {1e30f, 1e30f, -1e30f, 0, 1e30f},
                     {1, NAN, 2, 3, 4}};
    int64_t sh[2] = {4, 5};
    fokus_tensor x, y = {0}, ly = {0};
    fokus_tensor_borrow(&x, d, FOKUS_F32, 2, sh, NULL);
    CHECK(fokus_softmax(ctx1, &x, 1, false, NULL, &y, NULL) == FOKUS_OK);
    CHECK(fokus_softmax(ctx1, &x, -1, true, NULL, &ly, NULL) == FOKUS_OK);
    const float *p = y.data, *lp = ly.data;
    for (int j = 0; j < 5; j++) CHECK(isnan(p[j]) && isnan(lp[j]) && isnan(p[15 + j]));
    CHECK(p[6] == 0 && p[8] == 0 && lp[6] == -INFINITY);
    CHECK_NEAR(p[5], exp(-2) / (1 + exp(-1) + exp(-2)), 1e-7);
    CHECK_NEAR(p[10], 1.0 / 3, 1e-7);
    CHECK(p[12] == 0 && p[13] == 0);
    CHECK_NEAR(lp[10], -log(3.0), 1e-6);
    /* the same rows as columns (the online column pass): identical values */
    {
        fokus_tensor xt, yt = {0}, lyt = {0};
        float big[40][5];
        for (int i = 0; i < 40; i++)
            for (int j = 0; j < 5; j++) big[i][j] = i < 20 ? -INFINITY : d[j % 4][i % 5];
        int64_t bs[2] = {40, 5};
        fokus_tensor_borrow(&xt, big, FOKUS_F32, 2, bs, NULL);
        CHECK(fokus_softmax(ctx1, &xt, 0, false, NULL, &yt, NULL) == FOKUS_OK);
        CHECK(fokus_softmax(ctx1, &xt, 0, true, NULL, &lyt, NULL) == FOKUS_OK);
        const float *q = yt.data, *lq = lyt.data;
        /* column j holds 20 -inf then row (j % 4) of d four times: a quarter of its softmax */
        CHECK(isnan(q[20 * 5 + 0]) && isnan(lq[39 * 5 + 0]) && isnan(q[25 * 5 + 3]));
        CHECK(q[0 * 5 + 1] == 0 && lq[5 * 5 + 1] == -INFINITY);
        CHECK_NEAR(q[20 * 5 + 1], p[5] / 4, 1e-7);
        CHECK_NEAR(q[25 * 5 + 1], p[5] / 4, 1e-7);
        CHECK_NEAR(q[21 * 5 + 2], p[11] / 4, 1e-7);
        CHECK(q[22 * 5 + 2] == 0 && q[20 * 5 + 2] == q[24 * 5 + 2]);
        CHECK_NEAR(lq[20 * 5 + 1], log(p[5] / 4), 1e-6);
        fokus_tensor_release(&yt);
        fokus_tensor_release(&lyt);
    }
    fokus_tensor_release(&y);
    fokus_tensor_release(&ly);
    /* the exp itself: softmax of {x, 0} is 1 / (1 + e^-x), for x over [-86, 0] */
    double worst = 0;
    for (int k = 0; k <= 8600; k++) {
        float pair[2] = {-(float)k / 100, 0};
        int64_t two = 2;
        fokus_tensor t2, r2 = {0};
        fokus_tensor_borrow(&t2, pair, FOKUS_F32, 1, &two, NULL);
        fokus_softmax(NULL, &t2, 0, false, NULL, &r2, NULL);
        double ex = exp((double)pair[0]);
        double ref = ex / (1 + ex), got = fokus_tensor_get(&r2, 0);
        double e = fabs(got - ref) / ref;
        if (e > worst) worst = e;
        fokus_tensor_release(&r2);
    }
    printf("# softmax exp: max rel. error %.2e over [-86, 0]\n", worst);
    CHECK(worst < 3.6e-7); /* 3 ulp: exp within 2, the division 0.5 */
}

static void test_norms_index(void)
{
    int64_t sh[3] = {3, 4, 77};
    fokus_tensor x, w, b, y = {0}, yr = {0};
    fokus_tensor_new(&x, FOKUS_F32, 3, sh, NULL);
    fill_random(&x, 5, 3);
    fokus_tensor_new(&w, FOKUS_F16, 1, &sh[2], NULL);
    fokus_tensor_new(&b, FOKUS_F32, 1, &sh[2], NULL);
    fill_random(&w, 6, 0);
    fill_random(&b, 7, 0);
    fokus_tensor xt;
    fokus_tensor_permute(&xt, &x, (int[]){1, 0, 2}, NULL); /* rows not evenly spaced: copied */
    for (int v = 0; v < 2; v++) {
        const fokus_tensor *in = v ? &xt : &x;
        CHECK(fokus_layer_norm(ctx2, in, &w, &b, 1e-5, NULL, &y, NULL) == FOKUS_OK);
        CHECK(fokus_rms_norm(ctx2, in, &w, 1e-6, NULL, &yr, NULL) == FOKUS_OK);
        double worst = 0;
        for (int64_t r = 0; r < 12; r++) {
            double m = 0, q = 0, ms = 0;
            for (int j = 0; j < 77; j++) m += fokus_tensor_get(in, r * 77 + j);
            m /= 77;
            for (int j = 0; j < 77; j++) {
                double d = fokus_tensor_get(in, r * 77 + j) - m;
                q += d * d;
                ms += fokus_tensor_get(in, r * 77 + j) * fokus_tensor_get(in, r * 77 + j);
            }
            double inv = 1 / sqrt(q / 77 + 1e-5), rinv = 1 / sqrt(ms / 77 + 1e-6);
            for (int j = 0; j < 77; j++) {
                double xv = fokus_tensor_get(in, r * 77 + j);
                double ref = (xv - m) * inv * fokus_tensor_get(&w, j) + fokus_tensor_get(&b, j);
                double rref = xv * rinv * fokus_tensor_get(&w, j);
                worst = fmax(worst, fabs(fokus_tensor_get(&y, r * 77 + j) - ref));
                worst = fmax(worst, fabs(fokus_tensor_get(&yr, r * 77 + j) - rref));
            }
        }
        CHECK_MSG(worst < 1e-5, "norms (view %d): %.3g", v, worst);
        fokus_tensor_release(&y);
        fokus_tensor_release(&yr);
    }
    fokus_error err;
    CHECK(fokus_layer_norm(ctx2, &x, &x, NULL, 1e-5, NULL, &y, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "layer_norm: weight must be a float tensor [77], got f32 3x4x77");
    /* index_select: repeats, reversed, strided source, bounds */
    int64_t idx[4] = {2, 0, 2, 1};
    fokus_tensor s = {0};
    CHECK(fokus_index_select(ctx1, &xt, 1, idx, 4, NULL, &s, &err) == FOKUS_OK);
    CHECK(s.ndim == 3 && s.shape[0] == 4 && s.shape[1] == 4 && s.shape[2] == 77);
    bool same = true;
    for (int a = 0; a < 4; a++)
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 77; j++)
                same = same && fokus_tensor_get(&s, (a * 4 + k) * 77 + j) == fokus_tensor_get(&xt, (a * 3 + idx[k]) * 77 + j);
    CHECK(same);
    fokus_tensor_release(&s);
    idx[2] = 3;
    CHECK(fokus_index_select(ctx1, &xt, 1, idx, 4, NULL, &s, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "index_select: index 4 (entry 3) out of range 1..3 for dim 2");
    fokus_tensor_release(&xt);
    fokus_tensor_release(&x);
    fokus_tensor_release(&w);
    fokus_tensor_release(&b);
}

static void test_views(void)
{
    int64_t sh[3] = {2, 1, 6};
    fokus_tensor x, v;
    fokus_tensor_new(&x, FOKUS_F32, 3, sh, NULL);
    for (int i = 0; i < 12; i++) fokus_tensor_set(&x, i, i);
    fokus_error err;
    CHECK(fokus_tensor_squeeze(&v, &x, 0, true, &err) == FOKUS_OK && v.ndim == 2 && v.data == x.data);
    CHECK(fokus_tensor_is_contiguous(&v));
    fokus_tensor_release(&v);
    CHECK(fokus_tensor_squeeze(&v, &x, 0, false, &err) == FOKUS_OK && v.ndim == 3); /* size 2: unchanged */
    fokus_tensor_release(&v);
    CHECK(fokus_tensor_squeeze(&v, &x, -2, false, &err) == FOKUS_OK && v.ndim == 2 && v.shape[1] == 6);
    fokus_tensor_release(&v);
    CHECK(fokus_tensor_unsqueeze(&v, &x, -1, &err) == FOKUS_OK && v.ndim == 4 && v.shape[3] == 1);
    CHECK(fokus_tensor_is_contiguous(&v));
    fokus_tensor_release(&v);
    CHECK(fokus_tensor_unsqueeze(&v, &x, 4, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "unsqueeze: dim 5 out of range for a 4-d tensor");
    CHECK(fokus_tensor_slice(&v, &x, 2, 1, 6, 2, &err) == FOKUS_OK && v.shape[2] == 3 && v.stride[2] == 2);
    CHECK(fokus_tensor_get(&v, 0) == 1 && fokus_tensor_get(&v, 2) == 5 && fokus_tensor_get(&v, 3) == 7);
    fokus_tensor_set(&v, 1, 100); /* writes through to the base */
    CHECK(fokus_tensor_get(&x, 3) == 100);
    fokus_tensor_release(&v);
    CHECK(fokus_tensor_slice(&v, &x, 2, 4, 7, 1, &err) == FOKUS_EINVAL);
    /* stack along a new middle dim, cat into a strided destination */
    const fokus_tensor *two[2] = {&x, &x};
    fokus_tensor st = {0};
    CHECK(fokus_tensor_stack_ctx(ctx1, two, 2, 1, NULL, &st, &err) == FOKUS_OK);
    CHECK(st.ndim == 4 && st.shape[1] == 2 && fokus_tensor_get(&st, 6) == 0 && fokus_tensor_get(&st, 12) == 6);
    fokus_tensor_release(&st);
    int64_t bs[3] = {6, 1, 4};
    fokus_tensor buf, bt;
    fokus_tensor_new(&buf, FOKUS_F32, 3, bs, NULL);
    fokus_tensor_permute(&bt, &buf, (int[]){2, 1, 0}, NULL); /* 4x1x6, strided */
    CHECK(fokus_tensor_cat_ctx(ctx1, two, 2, 0, &bt, &st, &err) == FOKUS_OK);
    CHECK(fokus_tensor_get(&bt, 13) == fokus_tensor_get(&x, 1) && fokus_tensor_get(&buf, 1) == 6);
    CHECK(fokus_tensor_cat_ctx(ctx1, two, 2, 1, &bt, &st, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "cat: out must be f32 2x2x6, got f32 4x1x6");
    const fokus_tensor *bad[2] = {&x, &bt};
    CHECK(fokus_tensor_stack_ctx(ctx1, bad, 2, 0, NULL, &st, &err) == FOKUS_EINVAL);
    CHECK_STR(err.msg, "stack: tensor 2 is 4x1x6, tensor 1 is 2x1x6 (shapes must match)");
    fokus_tensor_release(&bt);
    fokus_tensor_release(&buf);
    fokus_tensor_release(&x);
}

int main(void)
{
    fokus_ctx_new(&ctx1, 1, NULL);
    fokus_ctx_new(&ctx2, 2, NULL);
    RUN(test_reduce_shapes);
    RUN(test_reduce_views_dtypes);
    RUN(test_sum_accuracy);
    RUN(test_nan_inf_ties);
    RUN(test_reduce_out);
    RUN(test_softmax);
    RUN(test_norms_index);
    RUN(test_views);
    fokus_ctx_free(ctx1);
    fokus_ctx_free(ctx2);
    return check_summary("test_reduce");
}
