/* Noise schedules and sampler steps (rectified flow and ε-prediction): the scalar
 * parts in double, the element-wise parts as one f32 kernel out = a·x + b·y + c·z
 * (plus the CFG form) that every step reduces to. The kernels are memory-bound: one
 * SIMDe loop each, split over the context's workers only for tensors large enough to
 * pay for a dispatch. Contract: fokus_sampler.h. */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include <simde/x86/avx512.h>

#include "models/fokus_sampler.h"

#define TABLE 1000
/* Elements per task: ~128 KiB of each operand, enough to amortise a dispatch. */
#define GRAIN 32768

/* ---------------------------------------------------------------- schedules */

bool fokus_sigma_schedule_parse(const char *name, fokus_sigma_schedule *out)
{
    if (!name) return false;
    if (strcmp(name, "sd3") == 0 || strcmp(name, "normal") == 0) {
        *out = FOKUS_SCHEDULE_SD3;
        return true;
    }
    if (strcmp(name, "simple") == 0) {
        *out = FOKUS_SCHEDULE_SIMPLE;
        return true;
    }
    return false;
}

bool fokus_betas_parse(const char *name, fokus_betas *out)
{
    if (!name) return false;
    if (strcmp(name, "scaled_linear") == 0) {
        *out = FOKUS_BETAS_SCALED_LINEAR;
        return true;
    }
    if (strcmp(name, "linear") == 0) {
        *out = FOKUS_BETAS_LINEAR;
        return true;
    }
    return false;
}

double fokus_flow_shift(double t, double shift)
{
    return shift * t / (1.0 + (shift - 1.0) * t);
}

void fokus_flow_sigma_table(double *out, double shift)
{
    for (int i = 0; i < TABLE; i++) out[i] = fokus_flow_shift((i + 1) / 1000.0, shift);
}

static fokus_status check_steps(const char *fn, int steps, int max, fokus_error *err)
{
    if (steps < 1 || steps > max)
        return fokus_fail(err, FOKUS_EINVAL, "%s: steps must be in 1..%d, got %d", fn, max, steps);
    return FOKUS_OK;
}

/* numpy's linspace: start + i·step, the last point set to stop exactly. */
static double linspace_at(double start, double stop, int n, int i)
{
    if (n == 1) return start;
    if (i == n - 1) return stop;
    return start + i * ((stop - start) / (n - 1));
}

fokus_status fokus_flow_sigmas(float *out, int steps, double shift, fokus_sigma_schedule schedule,
                               fokus_error *err)
{
    fokus_status st = check_steps("sigmas", steps, 10000, err);
    if (st != FOKUS_OK) return st;
    if (!(isfinite(shift) && shift > 0))
        return fokus_fail(err, FOKUS_EINVAL, "sigmas: shift must be a finite number > 0, got %g", shift);
    double table[TABLE];
    fokus_flow_sigma_table(table, shift);
    for (int x = 0; x < steps; x++) {
        double s;
        if (schedule == FOKUS_SCHEDULE_SIMPLE) {
            /* ComfyUI computes the stride once (len/steps) and truncates x·stride */
            double stride = (double)TABLE / steps;
            s = table[TABLE - 1 - (int)(x * stride)];
        } else {
            double t = linspace_at(1000.0 * table[TABLE - 1], 1000.0 * table[0], steps, x);
            s = fokus_flow_shift(t / 1000.0, shift);
        }
        out[x] = (float)s;
    }
    out[steps] = 0.0f;
    return FOKUS_OK;
}

void fokus_alphas_cumprod(double *out, fokus_betas betas)
{
    double lo = 1e-4, hi = 0.02;
    if (betas == FOKUS_BETAS_SCALED_LINEAR) {
        lo = sqrt(0.00085);
        hi = sqrt(0.012);
    }
    double a = 1.0;
    for (int i = 0; i < TABLE; i++) {
        double b = linspace_at(lo, hi, TABLE, i);
        if (betas == FOKUS_BETAS_SCALED_LINEAR) b *= b;
        a *= 1.0 - b;
        out[i] = a;
    }
}

void fokus_eps_sigma_table(double *out, fokus_betas betas)
{
    fokus_alphas_cumprod(out, betas);
    for (int i = 0; i < TABLE; i++) out[i] = sqrt((1.0 - out[i]) / out[i]);
}

double fokus_eps_sigma_to_t(double sigma, fokus_betas betas)
{
    if (!(sigma > 0)) return 0.0;
    double ls[TABLE];
    fokus_eps_sigma_table(ls, betas);
    for (int i = 0; i < TABLE; i++) ls[i] = log(ls[i]);
    double l = log(sigma);
    /* the last entry at or below log σ, kept so that [lo, lo + 1] is a table interval */
    int lo = 0;
    while (lo < TABLE - 2 && ls[lo + 1] <= l) lo++;
    double w = (ls[lo] - l) / (ls[lo] - ls[lo + 1]);
    if (w < 0) w = 0;
    if (w > 1) w = 1;
    return (1.0 - w) * lo + w * (lo + 1);
}

double fokus_eps_t_to_sigma(double t, fokus_betas betas)
{
    double s[TABLE];
    fokus_eps_sigma_table(s, betas);
    if (!(t > 0)) return s[0];
    if (t >= TABLE - 1) return s[TABLE - 1];
    int lo = (int)floor(t);
    double w = t - lo;
    return exp((1.0 - w) * log(s[lo]) + w * log(s[lo + 1]));
}

fokus_status fokus_eps_sigmas(float *out, int steps, fokus_betas betas, fokus_sigma_schedule schedule,
                              fokus_error *err)
{
    fokus_status st = check_steps("sigmas", steps, 10000, err);
    if (st != FOKUS_OK) return st;
    double table[TABLE];
    fokus_eps_sigma_table(table, betas);
    for (int x = 0; x < steps; x++) {
        double s;
        if (schedule == FOKUS_SCHEDULE_SIMPLE) {
            double stride = (double)TABLE / steps;
            s = table[TABLE - 1 - (int)(x * stride)];
        } else {
            s = fokus_eps_t_to_sigma(linspace_at(TABLE - 1, 0, steps, x), betas);
        }
        out[x] = (float)s;
    }
    out[steps] = 0.0f;
    return FOKUS_OK;
}

fokus_status fokus_ddim_timesteps(int32_t *out, int steps, fokus_error *err)
{
    fokus_status st = check_steps("ddim_timesteps", steps, TABLE, err);
    if (st != FOKUS_OK) return st;
    int stride = TABLE / steps;
    for (int i = 0; i < steps; i++) out[i] = (int32_t)((steps - 1 - i) * stride + 1);
    return FOKUS_OK;
}

/* ---------------------------------------------------------------- kernels */

enum { LIN1, LIN2, LIN3, CFG };

typedef struct lin_args {
    int mode;
    float *o;
    const float *x, *y, *z;
    float a, b, c;
} lin_args;

/* o may be x, y or z (in-place steps): each 16-wide block is loaded before it is
 * stored, so exact aliasing is safe. (Plain loops would be vectorised behind a
 * run-time overlap test that sends exactly the in-place case down the scalar path.)
 * The scalar tail is also the reference the tests compare the vector body with. */
static inline float lin_one(int mode, float ca, float cb, float cc, float x, float y, float z)
{
    switch (mode) {
    case LIN1: return ca * x;
    case LIN2: return ca * x + cb * y;
    case LIN3: return ca * x + cb * y + cc * z;
    default: return y + ca * (x - y); /* CFG: equal inputs give y exactly */
    }
}

static void lin_range(void *argp, int64_t b, int64_t e, int worker)
{
    (void)worker;
    const lin_args *g = argp;
    float *o = g->o;
    const float *x = g->x, *y = g->y, *z = g->z;
    const simde__m512 va = simde_mm512_set1_ps(g->a), vb = simde_mm512_set1_ps(g->b),
                      vc = simde_mm512_set1_ps(g->c);
    int64_t i = b;
    switch (g->mode) {
    case LIN1:
        for (; i + 16 <= e; i += 16) simde_mm512_storeu_ps(o + i, simde_mm512_mul_ps(va, simde_mm512_loadu_ps(x + i)));
        break;
    case LIN2:
        for (; i + 16 <= e; i += 16) {
            simde__m512 r = simde_mm512_mul_ps(va, simde_mm512_loadu_ps(x + i));
            r = simde_mm512_add_ps(r, simde_mm512_mul_ps(vb, simde_mm512_loadu_ps(y + i)));
            simde_mm512_storeu_ps(o + i, r);
        }
        break;
    case LIN3:
        for (; i + 16 <= e; i += 16) {
            simde__m512 r = simde_mm512_mul_ps(va, simde_mm512_loadu_ps(x + i));
            r = simde_mm512_add_ps(r, simde_mm512_mul_ps(vb, simde_mm512_loadu_ps(y + i)));
            r = simde_mm512_add_ps(r, simde_mm512_mul_ps(vc, simde_mm512_loadu_ps(z + i)));
            simde_mm512_storeu_ps(o + i, r);
        }
        break;
    default:
        for (; i + 16 <= e; i += 16) {
            simde__m512 u = simde_mm512_loadu_ps(y + i);
            simde__m512 d = simde_mm512_sub_ps(simde_mm512_loadu_ps(x + i), u);
            simde_mm512_storeu_ps(o + i, simde_mm512_add_ps(u, simde_mm512_mul_ps(va, d)));
        }
        break;
    }
    for (; i < e; i++) o[i] = lin_one(g->mode, g->a, g->b, g->c, x[i], y ? y[i] : 0.0f, z ? z[i] : 0.0f);
}

typedef struct finite_args {
    const float *p;
    atomic_int bad;
} finite_args;

static void finite_range(void *argp, int64_t b, int64_t e, int worker)
{
    (void)worker;
    finite_args *f = argp;
    const float *p = f->p;
    int bad = 0;
    for (int64_t i = b; i < e; i++) bad |= !(fabsf(p[i]) <= FLT_MAX);
    if (bad) atomic_store_explicit(&f->bad, 1, memory_order_relaxed);
}

/* Index of the first NaN/inf in p[0..n), or -1. */
static int64_t first_nonfinite(fokus_ctx *ctx, const float *p, int64_t n)
{
    finite_args f;
    f.p = p;
    atomic_init(&f.bad, 0);
    fokus_parallel(ctx, n, GRAIN * 4, finite_range, &f);
    if (!atomic_load(&f.bad)) return -1;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i])) return i;
    return -1;
}

/* ---------------------------------------------------------------- operands */

#define MAX_IN 4

typedef struct operands {
    const char *fn;
    fokus_ctx *ctx;
    fokus_tensor *out;
    const fokus_tensor *like;     /* the first input: its shape is the shape of all */
    const char *like_name;
    int n;
    fokus_tensor f32[MAX_IN];     /* retained views or f32 copies */
    const float *p[MAX_IN];
} operands;

static void ops_init(operands *o, const char *fn, fokus_ctx *ctx, fokus_tensor *out)
{
    memset(o, 0, sizeof *o);
    o->fn = fn;
    o->ctx = ctx;
    o->out = out;
}

static void ops_release(operands *o)
{
    for (int i = 0; i < o->n; i++) fokus_tensor_release(&o->f32[i]);
    o->n = 0;
}

/* Checks one tensor input and makes its f32 contiguous form; the first one fixes the
 * shape. On error the operands already loaded are released. */
static fokus_status ops_add(operands *o, const char *name, const fokus_tensor *t, fokus_error *err)
{
    fokus_status st = FOKUS_OK;
    char a[96], b[96];
    if (!t) {
        st = fokus_fail(err, FOKUS_EINVAL, "%s: %s is missing", o->fn, name);
        goto fail;
    }
    if (!fokus_dtype_is_float(t->dtype)) {
        st = fokus_fail(err, FOKUS_EINVAL, "%s: %s must be a float tensor, got %s", o->fn, name,
                        fokus_dtype_name(t->dtype));
        goto fail;
    }
    if (!o->like) {
        o->like = t;
        o->like_name = name;
    } else if (!fokus_tensor_same_shape(t, o->like)) {
        st = fokus_fail(err, FOKUS_EINVAL, "%s: %s has shape %s, %s has %s", o->fn, name,
                        fokus_shape_str(t, a, sizeof a), o->like_name, fokus_shape_str(o->like, b, sizeof b));
        goto fail;
    }
    fokus_tensor *f = &o->f32[o->n];
    st = fokus_tensor_f32(f, t, err);
    if (st != FOKUS_OK) goto fail;
    o->p[o->n] = f->data;
    o->n++;
    int64_t n = fokus_tensor_numel(t);
    int64_t bad = first_nonfinite(o->ctx, f->data, n);
    if (bad >= 0) {
        float v = ((const float *)f->data)[bad];
        st = fokus_fail(err, FOKUS_EINVAL, "%s: %s has %s at element %lld of %lld", o->fn, name,
                        isnan(v) ? "NaN" : "inf", (long long)bad + 1, (long long)n);
        goto fail;
    }
    return FOKUS_OK;
fail:
    ops_release(o);
    return st;
}

/* Checks `out` against the inputs: f32, contiguous, their shape, and either the same
 * memory as an input or disjoint from it. */
static fokus_status ops_check_out(operands *o, fokus_error *err)
{
    char a[96], b[96];
    const fokus_tensor *out = o->out;
    fokus_status st = FOKUS_OK;
    if (!out || (!out->data && fokus_tensor_numel(o->like) > 0)) {
        st = fokus_fail(err, FOKUS_EINVAL, "%s: out is missing", o->fn);
    } else if (out->dtype != FOKUS_F32 || !fokus_tensor_is_contiguous(out) ||
               !fokus_tensor_same_shape(out, o->like)) {
        st = fokus_fail(err, FOKUS_EINVAL, "%s: out must be a contiguous f32 tensor of shape %s, got %s %s%s",
                        o->fn, fokus_shape_str(o->like, a, sizeof a), fokus_dtype_name(out->dtype),
                        fokus_shape_str(out, b, sizeof b), fokus_tensor_is_contiguous(out) ? "" : " (strided)");
    } else {
        size_t bytes = (size_t)fokus_tensor_numel(out) * sizeof(float);
        const char *ob = out->data;
        for (int i = 0; i < o->n && st == FOKUS_OK; i++) {
            const char *ib = (const char *)o->p[i];
            if (ib != ob && ib < ob + bytes && ob < ib + bytes)
                st = fokus_fail(err, FOKUS_EINVAL, "%s: out partially overlaps an input", o->fn);
        }
    }
    if (st != FOKUS_OK) ops_release(o);
    return st;
}

static void ops_run(operands *o, int mode, double a, double b, double c)
{
    lin_args g;
    g.mode = mode;
    g.o = o->out->data;
    g.x = o->p[0];
    g.y = o->n > 1 ? o->p[1] : NULL;
    g.z = o->n > 2 ? o->p[2] : NULL;
    g.a = (float)a;
    g.b = (float)b;
    g.c = (float)c;
    fokus_parallel(o->ctx, fokus_tensor_numel(o->like), GRAIN, lin_range, &g);
    ops_release(o);
}

static fokus_status check_scalar(const char *fn, const char *name, double v, double lo, double hi,
                                 fokus_error *err)
{
    if (!(v >= lo && v <= hi)) {
        if (isinf(hi))
            return fokus_fail(err, FOKUS_EINVAL, "%s: %s must be a finite number >= %g, got %g", fn, name, lo, v);
        if (isinf(lo))
            return fokus_fail(err, FOKUS_EINVAL, "%s: %s must be a finite number, got %g", fn, name, v);
        return fokus_fail(err, FOKUS_EINVAL, "%s: %s must be in [%g, %g], got %g", fn, name, lo, hi, v);
    }
    if (!isfinite(v)) return fokus_fail(err, FOKUS_EINVAL, "%s: %s must be finite, got %g", fn, name, v);
    return FOKUS_OK;
}

/* The common tail of every step: load the inputs, check out, run. */
static fokus_status step(const char *fn, fokus_ctx *ctx, fokus_tensor *out, int mode, const char *const *names,
                         const fokus_tensor *const *ts, int n, double a, double b, double c, fokus_error *err)
{
    operands o;
    ops_init(&o, fn, ctx, out);
    for (int i = 0; i < n; i++) {
        fokus_status st = ops_add(&o, names[i], ts[i], err);
        if (st != FOKUS_OK) return st;
    }
    fokus_status st = ops_check_out(&o, err);
    if (st != FOKUS_OK) return st;
    ops_run(&o, mode, a, b, c);
    return FOKUS_OK;
}

/* ---------------------------------------------------------------- steps */

fokus_status fokus_axpby(fokus_ctx *ctx, double a, const fokus_tensor *x, double b, const fokus_tensor *y,
                         fokus_tensor *out, fokus_error *err)
{
    fokus_status st = check_scalar("axpby", "a", a, -INFINITY, INFINITY, err);
    if (st == FOKUS_OK) st = check_scalar("axpby", "b", b, -INFINITY, INFINITY, err);
    if (st != FOKUS_OK) return st;
    const char *names[] = {"x", "y"};
    const fokus_tensor *ts[] = {x, y};
    return step("axpby", ctx, out, y ? LIN2 : LIN1, names, ts, y ? 2 : 1, a, b, 0, err);
}

fokus_status fokus_cfg(fokus_ctx *ctx, const fokus_tensor *cond, const fokus_tensor *uncond, double scale,
                       fokus_tensor *out, fokus_error *err)
{
    fokus_status st = check_scalar("cfg", "scale", scale, -INFINITY, INFINITY, err);
    if (st != FOKUS_OK) return st;
    const char *names[] = {"cond", "uncond"};
    const fokus_tensor *ts[] = {cond, uncond};
    return step("cfg", ctx, out, CFG, names, ts, 2, scale, 0, 0, err);
}

fokus_status fokus_denoised(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *pred, double sigma,
                            fokus_tensor *out, fokus_error *err)
{
    fokus_status st = check_scalar("denoised", "sigma", sigma, 0, INFINITY, err);
    if (st != FOKUS_OK) return st;
    const char *names[] = {"x", "pred"};
    const fokus_tensor *ts[] = {x, pred};
    return step("denoised", ctx, out, LIN2, names, ts, 2, 1.0, -sigma, 0, err);
}

fokus_status fokus_euler_flow(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *v, double sigma,
                              double sigma_next, fokus_tensor *out, fokus_error *err)
{
    fokus_status st = check_scalar("euler_flow", "sigma", sigma, 0, 1, err);
    if (st == FOKUS_OK) st = check_scalar("euler_flow", "sigma_next", sigma_next, 0, 1, err);
    if (st != FOKUS_OK) return st;
    const char *names[] = {"x", "v"};
    const fokus_tensor *ts[] = {x, v};
    return step("euler_flow", ctx, out, LIN2, names, ts, 2, 1.0, sigma_next - sigma, 0, err);
}

fokus_status fokus_euler(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *eps, double sigma,
                         double sigma_next, fokus_tensor *out, fokus_error *err)
{
    fokus_status st = check_scalar("euler", "sigma", sigma, 0, INFINITY, err);
    if (st == FOKUS_OK) st = check_scalar("euler", "sigma_next", sigma_next, 0, INFINITY, err);
    if (st != FOKUS_OK) return st;
    const char *names[] = {"x", "eps"};
    const fokus_tensor *ts[] = {x, eps};
    return step("euler", ctx, out, LIN2, names, ts, 2, 1.0, sigma_next - sigma, 0, err);
}

/* σ_η of DDIM for ᾱ a → a'. */
static double ddim_sigma_eta(double eta, double a, double ap)
{
    if (eta == 0) return 0;
    double v = (1.0 - ap) / (1.0 - a) * (1.0 - a / ap);
    return v > 0 ? eta * sqrt(v) : 0.0;
}

fokus_status fokus_ddim(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *eps, int t, int t_prev,
                        const fokus_ddim_opts *opts, fokus_tensor *out, fokus_tensor *pred_x0, fokus_error *err)
{
    fokus_ddim_opts o = {0, NULL, FOKUS_BETAS_SCALED_LINEAR};
    if (opts) o = *opts;
    if (t < 0 || t > TABLE - 1)
        return fokus_fail(err, FOKUS_EINVAL, "ddim: t must be in 0..999, got %d", t);
    if (t_prev > TABLE - 1)
        return fokus_fail(err, FOKUS_EINVAL, "ddim: t_prev must be <= 999, got %d", t_prev);
    fokus_status st = check_scalar("ddim", "eta", o.eta, 0, 1, err);
    if (st != FOKUS_OK) return st;
    if (o.eta > 0 && t_prev >= t)
        return fokus_fail(err, FOKUS_EINVAL, "ddim: eta > 0 needs t_prev < t, got t %d, t_prev %d", t, t_prev);
    double ac[TABLE];
    fokus_alphas_cumprod(ac, o.betas);
    double a = ac[t], ap = t_prev >= 0 ? ac[t_prev] : ac[0];
    double se = ddim_sigma_eta(o.eta, a, ap);
    double dir = 1.0 - ap - se * se;
    dir = dir > 0 ? sqrt(dir) : 0.0;
    /* x0 = (x − √(1−a)·ε)/√a, folded into one pass: out = cx·x + ce·ε (+ cn·noise) */
    double sa = sqrt(a), sap = sqrt(ap);
    double cx = sap / sa, ce = dir - sap * sqrt(1.0 - a) / sa;
    const char *names[] = {"x", "eps", "noise"};
    const fokus_tensor *ts[] = {x, eps, o.noise};
    bool noisy = se > 0;
    if (noisy && !o.noise) return fokus_fail(err, FOKUS_EINVAL, "ddim: eta %g needs noise", o.eta);
    operands ops;
    ops_init(&ops, "ddim", ctx, out);
    for (int i = 0; i < (noisy ? 3 : 2); i++) {
        st = ops_add(&ops, names[i], ts[i], err);
        if (st != FOKUS_OK) return st;
    }
    st = ops_check_out(&ops, err);
    if (st != FOKUS_OK) return st;
    if (pred_x0) {
        /* pred_x0 is written before the step reads its inputs: it must be apart from
         * all of them and from out */
        operands px;
        ops_init(&px, "ddim", ctx, pred_x0);
        st = ops_add(&px, "x", x, err);
        if (st == FOKUS_OK) st = ops_add(&px, "eps", eps, err);
        if (st == FOKUS_OK) st = ops_check_out(&px, err);
        if (st == FOKUS_OK) {
            size_t bytes = (size_t)fokus_tensor_numel(x) * sizeof(float);
            const char *pb = pred_x0->data;
            for (int i = 0; i <= ops.n; i++) {
                const char *ib = i < ops.n ? (const char *)ops.p[i] : (const char *)out->data;
                if (bytes && ib < pb + bytes && pb < ib + bytes) {
                    st = fokus_fail(err, FOKUS_EINVAL, "ddim: pred_x0 must not overlap out or an input");
                    ops_release(&px);
                    break;
                }
            }
        }
        if (st != FOKUS_OK) {
            ops_release(&ops);
            return st;
        }
        ops_run(&px, LIN2, 1.0 / sa, -sqrt(1.0 - a) / sa, 0);
    }
    ops_run(&ops, noisy ? LIN3 : LIN2, cx, ce, se);
    return FOKUS_OK;
}

fokus_status fokus_ddim_sigma(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *eps, double sigma,
                              double sigma_next, double eta, const fokus_tensor *noise, fokus_tensor *out,
                              fokus_error *err)
{
    fokus_status st = check_scalar("ddim_sigma", "sigma", sigma, 0, INFINITY, err);
    if (st == FOKUS_OK) st = check_scalar("ddim_sigma", "sigma_next", sigma_next, 0, INFINITY, err);
    if (st == FOKUS_OK) st = check_scalar("ddim_sigma", "eta", eta, 0, 1, err);
    if (st != FOKUS_OK) return st;
    if (eta > 0 && !(sigma_next < sigma))
        return fokus_fail(err, FOKUS_EINVAL, "ddim_sigma: eta > 0 needs sigma_next < sigma, got %g and %g",
                          sigma, sigma_next);
    double a = 1.0 / (1.0 + sigma * sigma), ap = 1.0 / (1.0 + sigma_next * sigma_next);
    double se = ddim_sigma_eta(eta, a, ap);
    if (se > 0 && !noise) return fokus_fail(err, FOKUS_EINVAL, "ddim_sigma: eta %g needs noise", eta);
    double dir = 1.0 - ap - se * se;
    dir = dir > 0 ? sqrt(dir) : 0.0;
    /* out = x0 + ce'·ε + cn·noise with x0 = x − σ·ε */
    double ce = dir / sqrt(ap) - sigma, cn = se / sqrt(ap);
    const char *names[] = {"x", "eps", "noise"};
    const fokus_tensor *ts[] = {x, eps, noise};
    bool noisy = se > 0;
    return step("ddim_sigma", ctx, out, noisy ? LIN3 : LIN2, names, ts, noisy ? 3 : 2, 1.0, ce, cn, err);
}

fokus_status fokus_dpmpp_2m(fokus_ctx *ctx, const fokus_tensor *x, const fokus_tensor *denoised, double sigma,
                            double sigma_next, const fokus_tensor *old_denoised, double sigma_prev,
                            fokus_tensor *out, fokus_error *err)
{
    const char *fn = "dpmpp_2m";
    fokus_status st = check_scalar(fn, "sigma", sigma, 0, INFINITY, err);
    if (st == FOKUS_OK) st = check_scalar(fn, "sigma_next", sigma_next, 0, INFINITY, err);
    if (st != FOKUS_OK) return st;
    if (!(sigma > 0)) return fokus_fail(err, FOKUS_EINVAL, "%s: sigma must be > 0, got %g", fn, sigma);
    if (!(sigma_next < sigma))
        return fokus_fail(err, FOKUS_EINVAL, "%s: sigma_next must be < sigma, got sigma %g, sigma_next %g", fn,
                          sigma, sigma_next);
    if (old_denoised) {
        st = check_scalar(fn, "sigma_prev", sigma_prev, 0, INFINITY, err);
        if (st != FOKUS_OK) return st;
        if (!(sigma_prev > sigma))
            return fokus_fail(err, FOKUS_EINVAL, "%s: sigma_prev must be > sigma, got sigma_prev %g, sigma %g", fn,
                              sigma_prev, sigma);
    }
    const char *names[] = {"x", "denoised", "old_denoised"};
    const fokus_tensor *ts[] = {x, denoised, old_denoised};
    if (sigma_next == 0) {
        /* λ' = +∞: e^{−h} = 0 and −expm1(−h) = 1, so the step lands on D itself */
        return step(fn, ctx, out, LIN2, names, ts, old_denoised ? 3 : 2, 0.0, 1.0, 0.0, err);
    }
    double h = log(sigma) - log(sigma_next); /* λ' − λ with λ = −log σ */
    double ratio = sigma_next / sigma;       /* e^{−h} */
    double w = -expm1(-h);                   /* 1 − e^{−h} */
    if (!old_denoised) return step(fn, ctx, out, LIN2, names, ts, 2, ratio, w, 0.0, err);
    double h_last = log(sigma_prev) - log(sigma);
    double r = h_last / h;
    double k = 1.0 / (2.0 * r);
    return step(fn, ctx, out, LIN3, names, ts, 3, ratio, w * (1.0 + k), -w * k, err);
}
