/* blasbase: a bench-only Lua module (build/bench/blasbase.so, built and loaded by
 * `make bench` only; not part of fokus, never installed) so the Lua bench
 * (bench_lua.lua) times its baselines and the machine's FMA peak in its own process,
 * interleaved with the fokus calls it compares them with.
 *
 *   blasbase.info()                    → corename, config of the OpenBLAS that loaded
 *   blasbase.peak(threads [, iters])   → f32 FMA peak in GFLOP/s: bench.h's median of 5,
 *                                        or with iters one short run of that loop (~1 ms
 *                                        at 500000), to sample the peak inside each round
 *   blasbase.sgemm(M, N, K, trans, n, threads)
 *                                      → seconds for n cblas_sgemm calls C = A·op(B),
 *                                        trans: B is [N,K] (else [K,N]); output reused,
 *                                        as a C caller would
 *   blasbase.attend(H, Nq, Nk, d, mode, n, threads)
 *                                      → seconds for n calls of the OpenBLAS attention of
 *                                        blas_attend.h; mode "blocks" or "heads"
 *   blasbase.gemm(M, N, K, trans, n, threads)
 *                                      → seconds for n fokus_gemm calls on the same data
 *                                        into a preallocated C: the C kernel's figure
 *   blasbase.attend_c(H, Nq, Nk, d, n, threads)
 *                                      → seconds for n fokus_attend calls from C
 *   blasbase.sleep(seconds)            lets OpenBLAS's spinning workers go to sleep
 *   blasbase.stream(bytes [, threads [, reps]])
 *                                      → copy, triad: the machine's memory bandwidth in
 *                                        GB/s, STREAM-style (best of reps, default 5) over
 *                                        arrays of `bytes` each, on `threads` workers
 *                                        (default 2): copy c = a moves 2 x bytes, triad
 *                                        a = b + s c moves 3 x bytes; plain stores, as
 *                                        STREAM compiled without non-temporal hints
 *   blasbase.quiesce([max_seconds])    → seconds waited until the process is idle
 *                                        (bench.h's bench_quiesce; default at most 1 s)
 *
 * Operands are filled with fixed pseudo-random values once per shape and kept for the
 * next call with the same shape, so only the products are timed. The module links its
 * own copy of libfokus (hidden symbols) for the thread pool and the peak loop. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "bench.h"
#include "blas_attend.h"

/* per-Lua-state data: a context per thread count and the operand cache */
typedef struct bb_state {
    fokus_ctx *ctx[3];
    fokus_allocator *alloc; /* the operands' memory: as fokus tensors get it (see bb_buf) */
    float *buf[4];
    size_t cap[4];
} bb_state;

static bb_state *bb_get(lua_State *L)
{
    return (bb_state *)lua_touserdata(L, lua_upvalueindex(1));
}

static fokus_ctx *bb_ctx(lua_State *L, int threads)
{
    bb_state *s = bb_get(L);
    if (threads < 1 || threads > 2) luaL_error(L, "blasbase: threads must be 1 or 2, got %d", threads);
    if (!s->ctx[threads]) {
        fokus_error err;
        if (fokus_ctx_new(&s->ctx[threads], threads, &err) != FOKUS_OK) luaL_error(L, "blasbase: %s", err.msg);
    }
    return s->ctx[threads];
}

/* the state's allocator for operands, made on first use */
static fokus_allocator *bb_alloc(lua_State *L)
{
    bb_state *s = bb_get(L);
    fokus_error err;
    if (!s->alloc && fokus_allocator_new(&s->alloc, 0, &err) != FOKUS_OK) luaL_error(L, "blasbase: %s", err.msg);
    return s->alloc;
}

/* buffer i with at least n floats, filled with values in [-0.5, 0.5) when new. From a
 * fokus allocator (no cache), so that the baseline's operands live in the same kind of
 * memory as the tensors of the fokus side (2 MiB and more: transparent huge pages, unless
 * FOKUS_THP=0): OpenBLAS reading 4 KiB pages against fokus reading huge ones measured
 * 10-25% in fokus's favour that had nothing to do with either library. */
static float *bb_buf(lua_State *L, int i, size_t n)
{
    bb_state *s = bb_get(L);
    if (s->cap[i] < n) {
        fokus_allocator *a = bb_alloc(L);
        fokus_allocator_free(a, s->buf[i], s->cap[i] * sizeof(float));
        s->buf[i] = (float *)fokus_allocator_alloc(a, n * sizeof(float), false);
        if (!s->buf[i]) {
            s->cap[i] = 0;
            luaL_error(L, "blasbase: out of memory for %zu floats", n);
        }
        s->cap[i] = n;
        uint64_t x = 88172645463325252ull + (uint64_t)i;
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s->buf[i][j] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
        }
    }
    return s->buf[i];
}

static int bb_gc(lua_State *L)
{
    bb_state *s = (bb_state *)lua_touserdata(L, 1);
    for (int i = 0; i < 3; i++) fokus_ctx_free(s->ctx[i]), s->ctx[i] = NULL;
    for (int i = 0; i < 4; i++) fokus_allocator_free(s->alloc, s->buf[i], s->cap[i] * sizeof(float)), s->buf[i] = NULL, s->cap[i] = 0;
    fokus_allocator_release(s->alloc);
    s->alloc = NULL;
    return 0;
}

static int bb_info(lua_State *L)
{
    lua_pushstring(L, openblas_get_corename());
    lua_pushstring(L, openblas_get_config());
    return 2;
}

static int bb_peak(lua_State *L)
{
    const int threads = (int)luaL_checkinteger(L, 1);
    fokus_ctx *ctx = bb_ctx(L, threads);
    if (lua_isnoneornil(L, 2)) {
        lua_pushnumber(L, bench_fma_peak(ctx));
        return 1;
    }
    bench_peak_arg a;
    memset(&a, 0, sizeof a);
    a.iters = (long)luaL_checkinteger(L, 2);
    luaL_argcheck(L, a.iters > 0, 2, "iterations must be > 0");
    double t0 = fokus_clock();
    fokus_parallel(ctx, threads, 1, bench_peak_task, &a);
    double t = fokus_clock() - t0;
    lua_pushnumber(L, 2.0 * 16 * 12 * (double)a.iters * threads / t / 1e9);
    return 1;
}

static int bb_sgemm(lua_State *L)
{
    const int M = (int)luaL_checkinteger(L, 1), N = (int)luaL_checkinteger(L, 2), K = (int)luaL_checkinteger(L, 3);
    const int trans = lua_toboolean(L, 4);
    const int n = (int)luaL_checkinteger(L, 5), threads = (int)luaL_optinteger(L, 6, 2);
    luaL_argcheck(L, M > 0 && N > 0 && K > 0 && n > 0, 1, "sizes and count must be > 0");
    float *A = bb_buf(L, 0, (size_t)M * K), *B = bb_buf(L, 1, (size_t)N * K), *C = bb_buf(L, 2, (size_t)M * N);
    openblas_set_num_threads(threads);
    double t0 = fokus_clock();
    for (int i = 0; i < n; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, trans ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, K, B,
                    trans ? K : N, 0.0f, C, N);
    lua_pushnumber(L, fokus_clock() - t0);
    return 1;
}

static int bb_gemm(lua_State *L)
{
    const int64_t M = luaL_checkinteger(L, 1), N = luaL_checkinteger(L, 2), K = luaL_checkinteger(L, 3);
    const bool trans = lua_toboolean(L, 4);
    const int n = (int)luaL_checkinteger(L, 5), threads = (int)luaL_optinteger(L, 6, 2);
    luaL_argcheck(L, M > 0 && N > 0 && K > 0 && n > 0, 1, "sizes and count must be > 0");
    fokus_ctx *ctx = bb_ctx(L, threads);
    float *A = bb_buf(L, 0, (size_t)(M * K)), *B = bb_buf(L, 1, (size_t)(N * K)), *C = bb_buf(L, 2, (size_t)(M * N));
    fokus_error err;
    double t0 = fokus_clock();
    for (int i = 0; i < n; i++)
        if (fokus_gemm(ctx, M, N, K, A, K, B, FOKUS_F32, trans, trans ? K : N, NULL, false, C, N, &err) != FOKUS_OK)
            return luaL_error(L, "blasbase: %s", err.msg);
    lua_pushnumber(L, fokus_clock() - t0);
    return 1;
}

static int bb_attend_c(lua_State *L)
{
    const int64_t H = luaL_checkinteger(L, 1), Nq = luaL_checkinteger(L, 2), Nk = luaL_checkinteger(L, 3),
                  d = luaL_checkinteger(L, 4);
    const int n = (int)luaL_checkinteger(L, 5), threads = (int)luaL_optinteger(L, 6, 2);
    luaL_argcheck(L, H > 0 && Nq > 0 && Nk > 0 && d > 0 && n > 0, 1, "sizes and count must be > 0");
    fokus_ctx *ctx = bb_ctx(L, threads);
    int64_t qs[3] = {H, Nq, d}, ks[3] = {H, Nk, d};
    fokus_tensor q = {0}, k = {0}, v = {0}, out = {0};
    fokus_error err;
    if (fokus_tensor_empty(&q, FOKUS_F32, 3, qs, &err) || fokus_tensor_empty(&k, FOKUS_F32, 3, ks, &err) ||
        fokus_tensor_empty(&v, FOKUS_F32, 3, ks, &err)) {
        fokus_tensor_release(&q), fokus_tensor_release(&k);
        return luaL_error(L, "blasbase: %s", err.msg);
    }
    memcpy(q.data, bb_buf(L, 0, (size_t)(H * Nq * d)), sizeof(float) * (size_t)(H * Nq * d));
    memcpy(k.data, bb_buf(L, 1, (size_t)(H * Nk * d)), sizeof(float) * (size_t)(H * Nk * d));
    memcpy(v.data, bb_buf(L, 2, (size_t)(H * Nk * d)), sizeof(float) * (size_t)(H * Nk * d));
    fokus_status st = FOKUS_OK;
    double t0 = fokus_clock();
    for (int i = 0; i < n && st == FOKUS_OK; i++) {
        st = fokus_attend(ctx, &q, &k, &v, NULL, &out, NULL, NULL, &err);
        fokus_tensor_release(&out);
    }
    double t = fokus_clock() - t0;
    fokus_tensor_release(&q), fokus_tensor_release(&k), fokus_tensor_release(&v);
    if (st != FOKUS_OK) return luaL_error(L, "blasbase: %s", err.msg);
    lua_pushnumber(L, t);
    return 1;
}

static int bb_attend(lua_State *L)
{
    static const char *const modes[] = {"blocks", "heads", NULL};
    blas_att a;
    memset(&a, 0, sizeof a);
    a.H = (int)luaL_checkinteger(L, 1), a.Nq = (int)luaL_checkinteger(L, 2);
    a.Nk = (int)luaL_checkinteger(L, 3), a.d = (int)luaL_checkinteger(L, 4);
    const int mode = luaL_checkoption(L, 5, NULL, modes) == 1 ? BLAS_ATT_HEADS : BLAS_ATT_BLOCKS;
    const int n = (int)luaL_checkinteger(L, 6), threads = (int)luaL_optinteger(L, 7, 2);
    luaL_argcheck(L, a.H > 0 && a.Nq > 0 && a.Nk > 0 && a.d > 0 && n > 0, 1, "sizes and count must be > 0");
    fokus_ctx *ctx = bb_ctx(L, threads);
    a.q = bb_buf(L, 0, (size_t)a.H * a.Nq * a.d);
    a.k = bb_buf(L, 1, (size_t)a.H * a.Nk * a.d);
    a.v = bb_buf(L, 2, (size_t)a.H * a.Nk * a.d);
    a.out = bb_buf(L, 3, (size_t)a.H * a.Nq * a.d);
    if (!blas_att_init(&a, threads)) {
        blas_att_free(&a);
        return luaL_error(L, "blasbase: out of memory for scores");
    }
    double t0 = fokus_clock();
    for (int i = 0; i < n; i++) blas_att_run(&a, mode, ctx, threads);
    double t = fokus_clock() - t0;
    blas_att_free(&a);
    lua_pushnumber(L, t);
    return 1;
}

typedef struct bb_stream_arg {
    float *a, *b, *c;
    int kind; /* 0 first touch, 1 copy, 2 triad */
} bb_stream_arg;

static void bb_stream_task(void *argp, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    bb_stream_arg *s = (bb_stream_arg *)argp;
    float *restrict a = s->a, *restrict b = s->b, *restrict c = s->c;
    if (s->kind == 0) {
        for (int64_t i = begin; i < end; i++) a[i] = 1.0f, b[i] = 2.0f, c[i] = 0.5f;
    } else if (s->kind == 1) {
        for (int64_t i = begin; i < end; i++) c[i] = a[i];
    } else {
        for (int64_t i = begin; i < end; i++) a[i] = b[i] + 3.0f * c[i];
    }
}

static int bb_stream(lua_State *L)
{
    const double bytes = luaL_checknumber(L, 1);
    const int threads = (int)luaL_optinteger(L, 2, 2);
    const int reps = (int)luaL_optinteger(L, 3, 5);
    luaL_argcheck(L, bytes >= 4096 && bytes <= 4e9, 1, "bytes must be in [4096, 4e9]");
    fokus_ctx *ctx = bb_ctx(L, threads);
    const int64_t n = (int64_t)(bytes / sizeof(float));
    /* the arrays in the memory fokus tensors get (see bb_buf): the bandwidth the ops
     * rows are compared with is measured on the same kind of pages they read */
    fokus_allocator *al = bb_alloc(L);
    const size_t nb = (size_t)n * 4;
    bb_stream_arg s = {(float *)fokus_allocator_alloc(al, nb, false), (float *)fokus_allocator_alloc(al, nb, false),
                       (float *)fokus_allocator_alloc(al, nb, false), 0};
    if (!s.a || !s.b || !s.c) {
        fokus_allocator_free(al, s.a, nb), fokus_allocator_free(al, s.b, nb), fokus_allocator_free(al, s.c, nb);
        return luaL_error(L, "blasbase: out of memory for 3 x %.0f bytes", bytes);
    }
    const int64_t grain = (n + 4 * threads - 1) / (4 * threads);
    fokus_parallel(ctx, n, grain, bb_stream_task, &s); /* first touch by the workers */
    double best[3] = {1e30, 1e30, 1e30};
    for (int r = 0; r < reps; r++)
        for (int k = 1; k <= 2; k++) {
            s.kind = k;
            double t0 = fokus_clock();
            fokus_parallel(ctx, n, grain, bb_stream_task, &s);
            double t = fokus_clock() - t0;
            if (t < best[k]) best[k] = t;
        }
    fokus_allocator_free(al, s.a, nb), fokus_allocator_free(al, s.b, nb), fokus_allocator_free(al, s.c, nb);
    lua_pushnumber(L, 2.0 * (double)n * 4 / best[1] / 1e9);
    lua_pushnumber(L, 3.0 * (double)n * 4 / best[2] / 1e9);
    return 2;
}

static int bb_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
    return 0;
}

static int bb_quiesce(lua_State *L)
{
    lua_pushnumber(L, bench_quiesce(luaL_optnumber(L, 1, 1.0)));
    return 1;
}

__attribute__((visibility("default"))) int luaopen_blasbase(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"info", bb_info},     {"peak", bb_peak},   {"sgemm", bb_sgemm},
                                     {"attend", bb_attend}, {"sleep", bb_sleep}, {"gemm", bb_gemm},
                                     {"attend_c", bb_attend_c}, {"stream", bb_stream},
                                     {"quiesce", bb_quiesce}, {NULL, NULL}};
    lua_newtable(L);
    bb_state *s = (bb_state *)lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    lua_newtable(L);
    lua_pushcfunction(L, bb_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    luaL_setfuncs(L, funcs, 1);
    return 1;
}
