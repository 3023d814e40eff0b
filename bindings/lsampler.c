/* Samplers, guidance and previews: fokus.sigmas, euler_flow, euler, ddim, ddim_sigma,
 * dpmpp_2m, cfg, denoised, axpby, alphas_cumprod, sigma_to_t, ddim_timesteps,
 * latent_preview, and isatty (for the sampling loop's progress line). Each step returns a
 * new f32 tensor, or writes into opts.out (any strides; a step may write over its own x:
 * `fokus.euler_flow(x, v, s, sn, {out = x})`) and returns it; the checks of values
 * (sigma ranges, NaN, shapes) are the core's, raised with its message. */
#include <string.h>
#include <unistd.h>

#include "lfokus.h"

/* A new f32 tensor shaped like t, pushed on the stack (so it is collected if the step
 * raises); returns the core tensor inside the userdata. */
static fokus_tensor *push_like(lua_State *L, const fokus_tensor *t)
{
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_empty_ctx(lf_ctx(L), &out, FOKUS_F32, t->ndim, t->shape, &err) != FOKUS_OK) lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return lf_totensor(L, -1);
}

static int done(lua_State *L, fokus_status st, const fokus_error *err)
{
    if (st != FOKUS_OK) return lf_raise(L, err);
    return 1;
}

/* A step's result: opts.out (at index `opts`) when given, else a new tensor. */
typedef struct step_out {
    fokus_tensor *dst; /* opts.out, or NULL */
    fokus_tensor res;  /* what the core writes: dst itself when contiguous, else a temporary */
    int opts;
} step_out;

/* The tensor the core writes into, shaped like `like` (f32). With opts.out it is checked
 * (dtype, shape, no broadcast view) but may be an input: the steps are element-wise and
 * the core accepts writing over an input exactly (a strided out goes through a
 * temporary). Without, a new tensor is pushed. Call after every check that can raise. */
static fokus_tensor *out_begin(lua_State *L, int opts, const char *fname, int ndim, const int64_t *shape,
                               fokus_dtype dt, step_out *so)
{
    so->opts = opts;
    so->dst = lf_optout(L, opts, fname);
    fokus_error err;
    if (so->dst) {
        if (fokus_out_begin(lf_ctx(L), fname, so->dst, dt, ndim, shape, NULL, 0, &so->res, &err) != FOKUS_OK)
            lf_raise(L, &err);
        return &so->res;
    }
    fokus_tensor out;
    if (fokus_tensor_empty_ctx(lf_ctx(L), &out, dt, ndim, shape, &err) != FOKUS_OK) lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return lf_totensor(L, -1);
}

static fokus_tensor *out_like(lua_State *L, int opts, const char *fname, const fokus_tensor *like, step_out *so)
{
    return out_begin(L, opts, fname, like->ndim, like->shape, FOKUS_F32, so);
}

/* Raises the core's error, or pushes the result (opts.out, copied into when strided). */
static int out_finish(lua_State *L, fokus_status st, const fokus_error *err, step_out *so)
{
    if (!so->dst) return done(L, st, err);
    if (st != FOKUS_OK) {
        fokus_tensor_release(&so->res);
        return lf_raise(L, err);
    }
    fokus_out_finish(so->dst, &so->res, NULL);
    lf_pushout(L, so->opts);
    return 1;
}

static const char *const out_only[] = {"out", NULL};

static fokus_betas opt_betas(lua_State *L, int arg, const char *fname)
{
    const char *s = lf_optstring(L, arg, fname, "betas", "scaled_linear");
    fokus_betas b;
    if (!fokus_betas_parse(s, &b))
        luaL_error(L, "%s: option 'betas' must be \"scaled_linear\" or \"linear\", got '%s'", fname, s);
    return b;
}

/* fokus.sigmas(steps [, {shift =, schedule =, betas =}]): flow sigmas, or with `betas`
 * those of an ε-prediction model. */
static int l_sigmas(lua_State *L)
{
    static const char *const known[] = {"shift", "schedule", "betas", "out", NULL};
    lua_Integer steps = luaL_checkinteger(L, 1);
    lf_checkopts(L, 2, "sigmas", known);
    if (steps < 1 || steps > 10000) lf_argerror(L, 1, "steps must be in 1..10000, got %d", (int)steps);
    const char *sname = lf_optstring(L, 2, "sigmas", "schedule", "sd3");
    fokus_sigma_schedule sch;
    if (!fokus_sigma_schedule_parse(sname, &sch))
        luaL_error(L, "sigmas: option 'schedule' must be \"sd3\" or \"simple\", got '%s'", sname);
    bool eps = lua_istable(L, 2) && lua_getfield(L, 2, "betas") != LUA_TNIL;
    if (lua_istable(L, 2)) lua_pop(L, 1);
    fokus_betas betas = FOKUS_BETAS_SCALED_LINEAR;
    double shift = 3.0;
    if (eps) {
        if (lua_getfield(L, 2, "shift") != LUA_TNIL)
            luaL_error(L, "sigmas: option 'shift' is for flow models, not with 'betas'");
        lua_pop(L, 1);
        betas = opt_betas(L, 2, "sigmas");
    } else {
        shift = lf_optnumber(L, 2, "sigmas", "shift", 3.0);
    }
    fokus_error err;
    int64_t n = steps + 1;
    step_out so;
    float *p = out_begin(L, 2, "sigmas", 1, &n, FOKUS_F32, &so)->data;
    fokus_status st = eps ? fokus_eps_sigmas(p, (int)steps, betas, sch, &err)
                          : fokus_flow_sigmas(p, (int)steps, shift, sch, &err);
    return out_finish(L, st, &err, &so);
}

/* fokus.euler_flow(x, v, sigma, sigma_next [, {out =}]) */
static int l_euler_flow(lua_State *L)
{
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *v = lf_checktensor(L, 2, "v");
    double s = luaL_checknumber(L, 3), sn = luaL_checknumber(L, 4);
    lf_checkopts(L, 5, "euler_flow", out_only);
    fokus_error err;
    step_out so;
    fokus_tensor *out = out_like(L, 5, "euler_flow", x, &so);
    return out_finish(L, fokus_euler_flow(lf_ctx(L), x, v, s, sn, out, &err), &err, &so);
}

/* fokus.euler(x, eps, sigma, sigma_next [, {out =}]): ε-prediction in σ space */
static int l_euler(lua_State *L)
{
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *e = lf_checktensor(L, 2, "eps");
    double s = luaL_checknumber(L, 3), sn = luaL_checknumber(L, 4);
    lf_checkopts(L, 5, "euler", out_only);
    fokus_error err;
    step_out so;
    fokus_tensor *out = out_like(L, 5, "euler", x, &so);
    return out_finish(L, fokus_euler(lf_ctx(L), x, e, s, sn, out, &err), &err, &so);
}

/* fokus.ddim(x, eps, t, t_prev [, {eta =, noise =, betas =, out =, out_x0 =}])
 *   -> x_prev, pred_x0 (out_x0: a tensor for pred_x0, as out is for x_prev) */
static int l_ddim(lua_State *L)
{
    static const char *const known[] = {"eta", "noise", "betas", "out", "out_x0", NULL};
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *e = lf_checktensor(L, 2, "eps");
    lua_Integer t = luaL_checkinteger(L, 3), tp = luaL_checkinteger(L, 4);
    lf_checkopts(L, 5, "ddim", known);
    if (t < 0 || t > 999) lf_argerror(L, 3, "t must be in 0..999, got %d", (int)t);
    if (tp < -1000 || tp > 999) lf_argerror(L, 4, "t_prev must be in -1000..999, got %d", (int)tp);
    fokus_ddim_opts o;
    o.eta = lf_optnumber(L, 5, "ddim", "eta", 0.0);
    o.noise = lf_opttensor(L, 5, "ddim", "noise");
    o.betas = opt_betas(L, 5, "ddim");
    fokus_error err;
    step_out so, sx;
    fokus_tensor *out = out_like(L, 5, "ddim", x, &so);
    /* out_x0 read as a second opts.out: the same checks, a different key */
    sx.opts = 5;
    sx.dst = lf_opttensor(L, 5, "ddim", "out_x0");
    fokus_tensor *x0;
    if (sx.dst) {
        if (fokus_out_begin(lf_ctx(L), "ddim", sx.dst, FOKUS_F32, x->ndim, x->shape, NULL, 0, &sx.res, &err) != FOKUS_OK) {
            if (so.dst) fokus_tensor_release(&so.res);
            return lf_raise(L, &err);
        }
        x0 = &sx.res;
    } else {
        x0 = push_like(L, x);
    }
    fokus_status st = fokus_ddim(lf_ctx(L), x, e, (int)t, (int)tp, &o, out, x0, &err);
    if (st != FOKUS_OK) {
        if (so.dst) fokus_tensor_release(&so.res);
        if (sx.dst) fokus_tensor_release(&sx.res);
        return lf_raise(L, &err);
    }
    /* results in order: x_prev, then pred_x0 */
    if (so.dst) {
        fokus_out_finish(so.dst, &so.res, NULL);
        lf_pushout(L, 5);
        if (!sx.dst) lua_insert(L, -2);
    }
    if (sx.dst) {
        fokus_out_finish(sx.dst, &sx.res, NULL);
        lua_getfield(L, 5, "out_x0");
    }
    return 2;
}

/* fokus.ddim_sigma(x, eps, sigma, sigma_next [, {eta =, noise =}]) (ext.) */
static int l_ddim_sigma(lua_State *L)
{
    static const char *const known[] = {"eta", "noise", "out", NULL};
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *e = lf_checktensor(L, 2, "eps");
    double s = luaL_checknumber(L, 3), sn = luaL_checknumber(L, 4);
    lf_checkopts(L, 5, "ddim_sigma", known);
    double eta = lf_optnumber(L, 5, "ddim_sigma", "eta", 0.0);
    fokus_tensor *noise = lf_opttensor(L, 5, "ddim_sigma", "noise");
    fokus_error err;
    step_out so;
    fokus_tensor *out = out_like(L, 5, "ddim_sigma", x, &so);
    return out_finish(L, fokus_ddim_sigma(lf_ctx(L), x, e, s, sn, eta, noise, out, &err), &err, &so);
}

/* fokus.dpmpp_2m(x, denoised, sigma, sigma_next [, {old_denoised =, sigma_prev =}]) */
static int l_dpmpp_2m(lua_State *L)
{
    static const char *const known[] = {"old_denoised", "sigma_prev", "out", NULL};
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *d = lf_checktensor(L, 2, "denoised");
    double s = luaL_checknumber(L, 3), sn = luaL_checknumber(L, 4);
    lf_checkopts(L, 5, "dpmpp_2m", known);
    fokus_tensor *old = lf_opttensor(L, 5, "dpmpp_2m", "old_denoised");
    double sp = lf_optnumber(L, 5, "dpmpp_2m", "sigma_prev", -1.0);
    if (old && sp == -1.0) luaL_error(L, "dpmpp_2m: option 'old_denoised' needs 'sigma_prev'");
    if (!old && sp != -1.0) luaL_error(L, "dpmpp_2m: option 'sigma_prev' needs 'old_denoised'");
    fokus_error err;
    step_out so;
    fokus_tensor *out = out_like(L, 5, "dpmpp_2m", x, &so);
    return out_finish(L, fokus_dpmpp_2m(lf_ctx(L), x, d, s, sn, old, sp, out, &err), &err, &so);
}

/* fokus.cfg(cond, uncond, scale [, {out =}]) -> uncond + scale·(cond − uncond) */
static int l_cfg(lua_State *L)
{
    fokus_tensor *c = lf_checktensor(L, 1, "cond"), *u = lf_checktensor(L, 2, "uncond");
    double g = luaL_checknumber(L, 3);
    lf_checkopts(L, 4, "cfg", out_only);
    fokus_error err;
    step_out so;
    fokus_tensor *out = out_like(L, 4, "cfg", c, &so);
    return out_finish(L, fokus_cfg(lf_ctx(L), c, u, g, out, &err), &err, &so);
}

/* fokus.denoised(x, pred, sigma [, {out =}]) -> x − sigma·pred (ext.) */
static int l_denoised(lua_State *L)
{
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *p = lf_checktensor(L, 2, "pred");
    double s = luaL_checknumber(L, 3);
    lf_checkopts(L, 4, "denoised", out_only);
    fokus_error err;
    step_out so;
    fokus_tensor *out = out_like(L, 4, "denoised", x, &so);
    return out_finish(L, fokus_denoised(lf_ctx(L), x, p, s, out, &err), &err, &so);
}

/* fokus.axpby(a, x [, b, y] [, {out =}]) -> a·x + b·y (ext.) */
static int l_axpby(lua_State *L)
{
    double a = luaL_checknumber(L, 1);
    fokus_tensor *x = lf_checktensor(L, 2, "x");
    double b = 0;
    fokus_tensor *y = NULL;
    int opts = 5;
    if (lua_istable(L, 3) && !lf_totensor(L, 3)) {
        opts = 3;
    } else if (!lua_isnoneornil(L, 3) || !lua_isnoneornil(L, 4)) {
        b = luaL_checknumber(L, 3);
        y = lf_checktensor(L, 4, "y");
    }
    lf_checkopts(L, opts, "axpby", out_only);
    fokus_error err;
    step_out so;
    fokus_tensor *out = out_like(L, opts, "axpby", x, &so);
    return out_finish(L, fokus_axpby(lf_ctx(L), a, x, b, y, out, &err), &err, &so);
}

/* fokus.alphas_cumprod([{betas =}]) -> f32 [1000] (ext.) */
static int l_alphas_cumprod(lua_State *L)
{
    static const char *const known[] = {"betas", "out", NULL};
    lf_checkopts(L, 1, "alphas_cumprod", known);
    double ac[1000];
    fokus_alphas_cumprod(ac, opt_betas(L, 1, "alphas_cumprod"));
    fokus_error err;
    int64_t n = 1000;
    step_out so;
    float *p = out_begin(L, 1, "alphas_cumprod", 1, &n, FOKUS_F32, &so)->data;
    for (int i = 0; i < 1000; i++) p[i] = (float)ac[i];
    return out_finish(L, FOKUS_OK, &err, &so);
}

/* fokus.sigma_to_t(sigma [, {betas =}]) -> fractional timestep of an ε model (ext.) */
static int l_sigma_to_t(lua_State *L)
{
    static const char *const known[] = {"betas", NULL};
    double s = luaL_checknumber(L, 1);
    lf_checkopts(L, 2, "sigma_to_t", known);
    if (!(s >= 0 && s <= 1e30)) lf_argerror(L, 1, "sigma must be a finite number >= 0, got %f", s);
    lua_pushnumber(L, fokus_eps_sigma_to_t(s, opt_betas(L, 2, "sigma_to_t")));
    return 1;
}

/* fokus.ddim_timesteps(steps [, {out =}]) -> i32 [steps] (ext.) */
static int l_ddim_timesteps(lua_State *L)
{
    lua_Integer steps = luaL_checkinteger(L, 1);
    if (steps < 1 || steps > 1000) lf_argerror(L, 1, "steps must be in 1..1000, got %d", (int)steps);
    lf_checkopts(L, 2, "ddim_timesteps", out_only);
    fokus_error err;
    int64_t n = steps;
    step_out so;
    int32_t *p = out_begin(L, 2, "ddim_timesteps", 1, &n, FOKUS_I32, &so)->data;
    return out_finish(L, fokus_ddim_timesteps(p, (int)steps, &err), &err, &so);
}

/* fokus.latent_preview(latent [, {family =, scale =}]) -> u8 [H, W, 3] */
static int l_latent_preview(lua_State *L)
{
    static const char *const known[] = {"family", "scale", "out", NULL};
    fokus_tensor *z = lf_checktensor(L, 1, "latent");
    lf_checkopts(L, 2, "latent_preview", known);
    const char *fs = lf_optstring(L, 2, "latent_preview", "family", "auto");
    fokus_latent_family fam;
    if (!fokus_latent_family_parse(fs, &fam))
        luaL_error(L, "latent_preview: option 'family' must be \"sd3\", \"sd1\" or \"sdxl\", got '%s'", fs);
    lua_Integer scale = lf_optinteger(L, 2, "latent_preview", "scale", 1);
    if (scale < 1 || scale > 64) luaL_error(L, "latent_preview: option 'scale' must be in 1..64, got %d", (int)scale);
    fokus_tensor *dst = lf_optout(L, 2, "latent_preview");
    fokus_tensor img;
    fokus_error err;
    if (fokus_latent_preview(z, fam, (int)scale, &img, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        /* the picture is small next to the latent's work: made, then copied */
        const fokus_tensor *in[1] = {z};
        fokus_status st = fokus_out_check("latent_preview", dst, FOKUS_U8, img.ndim, img.shape, in, 1, &err);
        if (st == FOKUS_OK) st = fokus_tensor_copy(dst, &img, &err);
        fokus_tensor_release(&img);
        if (st != FOKUS_OK) return lf_raise(L, &err);
        lf_pushout(L, 2);
        return 1;
    }
    lf_pushtensor(L, &img);
    return 1;
}

/* fokus.isatty(fd | file) -> whether it is a terminal (ext.) */
static int l_isatty(lua_State *L)
{
    int fd;
    int closed;
    FILE *f = lc_tofile(L, 1, &closed);
    if (f || closed) {
        if (closed) lf_argerror(L, 1, "file is closed");
        fd = fileno(f);
    } else if (lua_isinteger(L, 1)) {
        lua_Integer n = lua_tointeger(L, 1);
        if (n < 0 || n > 65535) lf_argerror(L, 1, "expected a file descriptor 0..65535, got %d", (int)n);
        fd = (int)n;
    } else {
        return lf_argerror(L, 1, "expected a file descriptor or an io file, got %s", luaL_typename(L, 1));
    }
    lua_pushboolean(L, fd >= 0 && isatty(fd));
    return 1;
}

void lf_open_sampler(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"sigmas", l_sigmas},
        {"euler_flow", l_euler_flow},
        {"euler", l_euler},
        {"ddim", l_ddim},
        {"ddim_sigma", l_ddim_sigma},
        {"dpmpp_2m", l_dpmpp_2m},
        {"cfg", l_cfg},
        {"denoised", l_denoised},
        {"axpby", l_axpby},
        {"alphas_cumprod", l_alphas_cumprod},
        {"sigma_to_t", l_sigma_to_t},
        {"ddim_timesteps", l_ddim_timesteps},
        {"latent_preview", l_latent_preview},
        {"isatty", l_isatty},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
}
