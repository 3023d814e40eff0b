/* Samplers, guidance and previews: fokus.sigmas, euler_flow, euler, ddim, ddim_sigma,
 * dpmpp_2m, cfg, denoised, axpby, alphas_cumprod, sigma_to_t, ddim_timesteps,
 * latent_preview, and isatty (for the sampling loop's progress line). Each step returns a new f32 tensor; the checks of values (sigma
 * ranges, NaN, shapes) are the core's, raised with its message. */
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
    static const char *const known[] = {"shift", "schedule", "betas", NULL};
    lua_Integer steps = luaL_checkinteger(L, 1);
    lf_checkopts(L, 2, "sigmas", known);
    if (steps < 1 || steps > 10000) lf_argerror(L, 1, "steps must be in 1..10000, got %d", (int)steps);
    const char *sname = lf_optstring(L, 2, "sigmas", "schedule", "sd3");
    fokus_sigma_schedule sch;
    if (!fokus_sigma_schedule_parse(sname, &sch))
        luaL_error(L, "sigmas: option 'schedule' must be \"sd3\" or \"simple\", got '%s'", sname);
    bool eps = lua_istable(L, 2) && lua_getfield(L, 2, "betas") != LUA_TNIL;
    if (lua_istable(L, 2)) lua_pop(L, 1);
    fokus_tensor out;
    fokus_error err;
    int64_t n = steps + 1;
    if (fokus_tensor_empty_ctx(lf_ctx(L), &out, FOKUS_F32, 1, &n, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    float *p = lf_totensor(L, -1)->data;
    fokus_status st;
    if (eps) {
        if (lua_getfield(L, 2, "shift") != LUA_TNIL)
            luaL_error(L, "sigmas: option 'shift' is for flow models, not with 'betas'");
        lua_pop(L, 1);
        st = fokus_eps_sigmas(p, (int)steps, opt_betas(L, 2, "sigmas"), sch, &err);
    } else {
        st = fokus_flow_sigmas(p, (int)steps, lf_optnumber(L, 2, "sigmas", "shift", 3.0), sch, &err);
    }
    return done(L, st, &err);
}

/* fokus.euler_flow(x, v, sigma, sigma_next) */
static int l_euler_flow(lua_State *L)
{
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *v = lf_checktensor(L, 2, "v");
    double s = luaL_checknumber(L, 3), sn = luaL_checknumber(L, 4);
    fokus_error err;
    fokus_tensor *out = push_like(L, x);
    return done(L, fokus_euler_flow(lf_ctx(L), x, v, s, sn, out, &err), &err);
}

/* fokus.euler(x, eps, sigma, sigma_next): ε-prediction in σ space */
static int l_euler(lua_State *L)
{
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *e = lf_checktensor(L, 2, "eps");
    double s = luaL_checknumber(L, 3), sn = luaL_checknumber(L, 4);
    fokus_error err;
    fokus_tensor *out = push_like(L, x);
    return done(L, fokus_euler(lf_ctx(L), x, e, s, sn, out, &err), &err);
}

/* fokus.ddim(x, eps, t, t_prev [, {eta =, noise =, betas =}]) -> x_prev, pred_x0 */
static int l_ddim(lua_State *L)
{
    static const char *const known[] = {"eta", "noise", "betas", NULL};
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
    fokus_tensor *out = push_like(L, x);
    fokus_tensor *x0 = push_like(L, x);
    fokus_status st = fokus_ddim(lf_ctx(L), x, e, (int)t, (int)tp, &o, out, x0, &err);
    if (st != FOKUS_OK) return lf_raise(L, &err);
    return 2;
}

/* fokus.ddim_sigma(x, eps, sigma, sigma_next [, {eta =, noise =}]) (ext.) */
static int l_ddim_sigma(lua_State *L)
{
    static const char *const known[] = {"eta", "noise", NULL};
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *e = lf_checktensor(L, 2, "eps");
    double s = luaL_checknumber(L, 3), sn = luaL_checknumber(L, 4);
    lf_checkopts(L, 5, "ddim_sigma", known);
    double eta = lf_optnumber(L, 5, "ddim_sigma", "eta", 0.0);
    fokus_tensor *noise = lf_opttensor(L, 5, "ddim_sigma", "noise");
    fokus_error err;
    fokus_tensor *out = push_like(L, x);
    return done(L, fokus_ddim_sigma(lf_ctx(L), x, e, s, sn, eta, noise, out, &err), &err);
}

/* fokus.dpmpp_2m(x, denoised, sigma, sigma_next [, {old_denoised =, sigma_prev =}]) */
static int l_dpmpp_2m(lua_State *L)
{
    static const char *const known[] = {"old_denoised", "sigma_prev", NULL};
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *d = lf_checktensor(L, 2, "denoised");
    double s = luaL_checknumber(L, 3), sn = luaL_checknumber(L, 4);
    lf_checkopts(L, 5, "dpmpp_2m", known);
    fokus_tensor *old = lf_opttensor(L, 5, "dpmpp_2m", "old_denoised");
    double sp = lf_optnumber(L, 5, "dpmpp_2m", "sigma_prev", -1.0);
    if (old && sp == -1.0) luaL_error(L, "dpmpp_2m: option 'old_denoised' needs 'sigma_prev'");
    if (!old && sp != -1.0) luaL_error(L, "dpmpp_2m: option 'sigma_prev' needs 'old_denoised'");
    fokus_error err;
    fokus_tensor *out = push_like(L, x);
    return done(L, fokus_dpmpp_2m(lf_ctx(L), x, d, s, sn, old, sp, out, &err), &err);
}

/* fokus.cfg(cond, uncond, scale) -> uncond + scale·(cond − uncond) */
static int l_cfg(lua_State *L)
{
    fokus_tensor *c = lf_checktensor(L, 1, "cond"), *u = lf_checktensor(L, 2, "uncond");
    double g = luaL_checknumber(L, 3);
    fokus_error err;
    fokus_tensor *out = push_like(L, c);
    return done(L, fokus_cfg(lf_ctx(L), c, u, g, out, &err), &err);
}

/* fokus.denoised(x, pred, sigma) -> x − sigma·pred (ext.) */
static int l_denoised(lua_State *L)
{
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *p = lf_checktensor(L, 2, "pred");
    double s = luaL_checknumber(L, 3);
    fokus_error err;
    fokus_tensor *out = push_like(L, x);
    return done(L, fokus_denoised(lf_ctx(L), x, p, s, out, &err), &err);
}

/* fokus.axpby(a, x [, b, y]) -> a·x + b·y (ext.) */
static int l_axpby(lua_State *L)
{
    double a = luaL_checknumber(L, 1);
    fokus_tensor *x = lf_checktensor(L, 2, "x");
    double b = 0;
    fokus_tensor *y = NULL;
    if (!lua_isnoneornil(L, 3) || !lua_isnoneornil(L, 4)) {
        b = luaL_checknumber(L, 3);
        y = lf_checktensor(L, 4, "y");
    }
    fokus_error err;
    fokus_tensor *out = push_like(L, x);
    return done(L, fokus_axpby(lf_ctx(L), a, x, b, y, out, &err), &err);
}

/* fokus.alphas_cumprod([{betas =}]) -> f32 [1000] (ext.) */
static int l_alphas_cumprod(lua_State *L)
{
    static const char *const known[] = {"betas", NULL};
    lf_checkopts(L, 1, "alphas_cumprod", known);
    double ac[1000];
    fokus_alphas_cumprod(ac, opt_betas(L, 1, "alphas_cumprod"));
    fokus_tensor out;
    fokus_error err;
    int64_t n = 1000;
    if (fokus_tensor_empty_ctx(lf_ctx(L), &out, FOKUS_F32, 1, &n, &err) != FOKUS_OK) return lf_raise(L, &err);
    for (int i = 0; i < 1000; i++) ((float *)out.data)[i] = (float)ac[i];
    lf_pushtensor(L, &out);
    return 1;
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

/* fokus.ddim_timesteps(steps) -> i32 [steps] (ext.) */
static int l_ddim_timesteps(lua_State *L)
{
    lua_Integer steps = luaL_checkinteger(L, 1);
    if (steps < 1 || steps > 1000) lf_argerror(L, 1, "steps must be in 1..1000, got %d", (int)steps);
    fokus_tensor out;
    fokus_error err;
    int64_t n = steps;
    if (fokus_tensor_empty_ctx(lf_ctx(L), &out, FOKUS_I32, 1, &n, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return done(L, fokus_ddim_timesteps(lf_totensor(L, -1)->data, (int)steps, &err), &err);
}

/* fokus.latent_preview(latent [, {family =, scale =}]) -> u8 [H, W, 3] */
static int l_latent_preview(lua_State *L)
{
    static const char *const known[] = {"family", "scale", NULL};
    fokus_tensor *z = lf_checktensor(L, 1, "latent");
    lf_checkopts(L, 2, "latent_preview", known);
    const char *fs = lf_optstring(L, 2, "latent_preview", "family", "auto");
    fokus_latent_family fam;
    if (!fokus_latent_family_parse(fs, &fam))
        luaL_error(L, "latent_preview: option 'family' must be \"sd3\", \"sd1\" or \"sdxl\", got '%s'", fs);
    lua_Integer scale = lf_optinteger(L, 2, "latent_preview", "scale", 1);
    if (scale < 1 || scale > 64) luaL_error(L, "latent_preview: option 'scale' must be in 1..64, got %d", (int)scale);
    fokus_tensor img;
    fokus_error err;
    if (fokus_latent_preview(z, fam, (int)scale, &img, &err) != FOKUS_OK) return lf_raise(L, &err);
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
