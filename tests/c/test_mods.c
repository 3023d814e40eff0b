/* Score / mask programs: the vector evaluator against the double reference on seeded
 * random programs over every op and every captured dtype; attention with programs
 * (SIMD and scalar kernels, 1 and 2 threads, block masks of several tile sizes)
 * against fokus_attend_ref; exact block-mask classes; validation errors. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "fokus.h"
#include "check.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}
static int irand(int lo, int hi)
{
    return lo + (int)(urand() * (hi - lo + 1));
}
static double nrand(void)
{
    double u = urand() + 1e-300, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static fokus_ctx *ctx2;

/* ---- a tiny program builder ------------------------------------------------------ */

typedef struct prog {
    fokus_mod_ins ins[FOKUS_MOD_MAX_INS];
    int n;
    int type[FOKUS_MOD_MAX_INS]; /* 0 float, 1 int, 2 bool (the generator's view) */
} prog;

static int emit(prog *p, int op, int a, int b, int c, double k, int type)
{
    fokus_mod_ins *x = &p->ins[p->n];
    memset(x, 0, sizeof *x);
    x->op = op, x->a = a, x->b = b, x->c = c, x->k = k;
    p->type[p->n] = type;
    return p->n++;
}
static int K_(prog *p, double k) { return emit(p, FOKUS_MOD_CONST, 0, 0, 0, k, k == floor(k) ? 1 : 0); }
static int V_(prog *p, int op) { return emit(p, op, 0, 0, 0, 0, op == FOKUS_MOD_SCORE ? 0 : 1); }
static int U_(prog *p, int op, int a) { return emit(p, op, a, 0, 0, 0, op == FOKUS_MOD_NOT ? 2 : (op == FOKUS_MOD_NEG || op == FOKUS_MOD_ABS) ? p->type[a] : 0); }
static int B_(prog *p, int op, int a, int b)
{
    int t = op >= FOKUS_MOD_LT ? 2 : (op == FOKUS_MOD_DIV || op == FOKUS_MOD_POW) ? 0 : (p->type[a] == 1 && p->type[b] == 1) ? 1 : 0;
    return emit(p, op, a, b, 0, 0, t);
}
static int W_(prog *p, int c, int a, int b)
{
    return emit(p, FOKUS_MOD_WHERE, c, a, b, 0, p->type[a] == 2 ? 2 : (p->type[a] == 1 && p->type[b] == 1) ? 1 : 0);
}
static int G_(prog *p, int t, int type, int nidx, const int *idx)
{
    int i = emit(p, FOKUS_MOD_GATHER, 0, 0, 0, 0, type);
    p->ins[i].tensor = t;
    p->ins[i].nidx = nidx;
    for (int d = 0; d < nidx; d++) p->ins[i].idx[d] = idx[d];
    return i;
}

/* ---- captured tensors of every dtype --------------------------------------------- */

#define NT 6
static fokus_tensor caps[NT];
static int cap_type[NT];

static void make_caps(void)
{
    /* 1: f32 [5] (h-indexed), 2: f16 [3, 48], 3: bf16 [2, 3, 4, 5] (computed indices,
     * clamped), 4: i64 [48] values 0..3, 5: i32 [2, 48], 6: bool [40, 48] */
    const fokus_dtype dts[NT] = {FOKUS_F32, FOKUS_F16, FOKUS_BF16, FOKUS_I64, FOKUS_I32, FOKUS_BOOL};
    const int64_t shapes[NT][4] = {{5}, {3, 48}, {2, 3, 4, 5}, {48}, {2, 48}, {40, 48}};
    const int nds[NT] = {1, 2, 4, 1, 2, 2};
    fokus_error e;
    for (int t = 0; t < NT; t++) {
        fokus_tensor_empty(&caps[t], dts[t], nds[t], shapes[t], &e);
        int64_t n = fokus_tensor_numel(&caps[t]);
        for (int64_t i = 0; i < n; i++) {
            double x = nrand();
            switch (dts[t]) {
            case FOKUS_F32: ((float *)caps[t].data)[i] = (float)x; break;
            case FOKUS_F16: ((uint16_t *)caps[t].data)[i] = fokus_f32_to_f16((float)x); break;
            case FOKUS_BF16: ((uint16_t *)caps[t].data)[i] = fokus_f32_to_bf16((float)x); break;
            case FOKUS_I64: ((int64_t *)caps[t].data)[i] = irand(0, 3); break;
            case FOKUS_I32: ((int32_t *)caps[t].data)[i] = irand(-5, 5); break;
            default: ((uint8_t *)caps[t].data)[i] = urand() < 0.5; break;
            }
        }
        cap_type[t] = dts[t] == FOKUS_BOOL ? 2 : fokus_dtype_is_float(dts[t]) ? 0 : 1;
    }
}

/* ---- random programs -------------------------------------------------------------- */

static int gen(prog *p, int want, int depth, bool score);

static int gen_int(prog *p, int depth)
{
    static const int vars[4] = {FOKUS_MOD_B, FOKUS_MOD_H, FOKUS_MOD_Q, FOKUS_MOD_K};
    if (depth <= 0 || urand() < 0.3) return urand() < 0.75 ? V_(p, vars[irand(0, 3)]) : K_(p, irand(-6, 6));
    switch (irand(0, 7)) {
    case 0: return B_(p, FOKUS_MOD_ADD, gen_int(p, depth - 1), gen_int(p, depth - 1));
    case 1: return B_(p, FOKUS_MOD_SUB, gen_int(p, depth - 1), gen_int(p, depth - 1));
    case 2: return B_(p, FOKUS_MOD_MUL, gen_int(p, depth - 1), K_(p, irand(-3, 3)));
    case 3: { /* floored modulo by a nonzero constant of either sign */
        int c = irand(1, 7) * (urand() < 0.3 ? -1 : 1);
        return B_(p, FOKUS_MOD_MOD, gen_int(p, depth - 1), K_(p, c));
    }
    case 4: return B_(p, urand() < 0.5 ? FOKUS_MOD_MIN : FOKUS_MOD_MAX, gen_int(p, depth - 1), gen_int(p, depth - 1));
    case 5: return U_(p, urand() < 0.5 ? FOKUS_MOD_NEG : FOKUS_MOD_ABS, gen_int(p, depth - 1));
    case 6: return W_(p, gen(p, 2, depth - 1, false), gen_int(p, depth - 1), gen_int(p, depth - 1));
    default: { /* integer tensors */
        int t = urand() < 0.5 ? 3 : 4, idx[2];
        if (t == 3) {
            idx[0] = gen_int(p, depth - 1);
            return G_(p, t, 1, 1, idx);
        }
        idx[0] = V_(p, FOKUS_MOD_B);
        idx[1] = gen_int(p, depth - 1);
        return G_(p, t, 1, 2, idx);
    }
    }
}

/* A float value of moderate size (so float32 and double agree to ~1e-5 relative). */
static int gen_float(prog *p, int depth, bool score)
{
    if (depth <= 0 || urand() < 0.2) {
        double r = urand();
        if (score && r < 0.5) return V_(p, FOKUS_MOD_SCORE);
        if (r < 0.75) return K_(p, floor(nrand() * 8) / 4 + 0.5);
        int idx[4];
        idx[0] = V_(p, FOKUS_MOD_H);
        return G_(p, 0, 0, 1, idx);
    }
    int a;
    switch (irand(0, 12)) {
    case 0: return B_(p, FOKUS_MOD_ADD, gen_float(p, depth - 1, score), gen(p, urand() < 0.5 ? 0 : 1, depth - 1, score));
    case 1: return B_(p, FOKUS_MOD_SUB, gen_float(p, depth - 1, score), gen_float(p, depth - 1, score));
    case 2: return U_(p, FOKUS_MOD_TANH, B_(p, FOKUS_MOD_MUL, gen_float(p, depth - 1, score), gen_float(p, depth - 1, score)));
    case 3: /* x / (1 + |y|) */
        a = U_(p, FOKUS_MOD_ABS, gen(p, urand() < 0.5 ? 0 : 1, depth - 1, score));
        return B_(p, FOKUS_MOD_DIV, gen_float(p, depth - 1, score), B_(p, FOKUS_MOD_ADD, a, K_(p, 1)));
    case 4: return U_(p, FOKUS_MOD_EXP, U_(p, FOKUS_MOD_TANH, gen_float(p, depth - 1, score)));
    case 5: return U_(p, FOKUS_MOD_LOG, B_(p, FOKUS_MOD_ADD, U_(p, FOKUS_MOD_ABS, gen_float(p, depth - 1, score)), K_(p, 0.5)));
    case 6: return U_(p, FOKUS_MOD_SQRT, U_(p, FOKUS_MOD_ABS, gen_float(p, depth - 1, score)));
    case 7: /* (|x| + 0.25) ^ c */
        a = B_(p, FOKUS_MOD_ADD, U_(p, FOKUS_MOD_ABS, U_(p, FOKUS_MOD_TANH, gen_float(p, depth - 1, score))), K_(p, 0.25));
        return B_(p, FOKUS_MOD_POW, a, K_(p, floor(nrand() * 4) / 2 + 0.5));
    case 8: return W_(p, gen(p, 2, depth - 1, score), gen_float(p, depth - 1, score), gen_float(p, depth - 1, score));
    case 9: return B_(p, urand() < 0.5 ? FOKUS_MOD_MIN : FOKUS_MOD_MAX, gen_float(p, depth - 1, score), gen_float(p, depth - 1, score));
    case 10: return U_(p, FOKUS_MOD_NEG, gen_float(p, depth - 1, score));
    case 11: { /* f16 [3, 48] with (h, k) */
        int idx[2] = {V_(p, FOKUS_MOD_H), V_(p, FOKUS_MOD_K)};
        return G_(p, 1, 0, 2, idx);
    }
    default: { /* bf16 [2, 3, 4, 5] with computed, clamped indices */
        /* (+ 0 so that the bind-time range check, which looks at bare b/h/q/k, leaves
         * them to the clamp) */
        int idx[4] = {V_(p, FOKUS_MOD_B), B_(p, FOKUS_MOD_MOD, V_(p, FOKUS_MOD_Q), K_(p, 3)),
                      B_(p, FOKUS_MOD_ADD, gen_int(p, 1), K_(p, 0)), B_(p, FOKUS_MOD_ADD, gen_int(p, 1), K_(p, 0))};
        idx[1] = B_(p, FOKUS_MOD_ADD, idx[1], K_(p, 1));
        return G_(p, 2, 0, 4, idx);
    }
    }
}

static int gen_bool(prog *p, int depth, bool score)
{
    if (depth <= 0 || urand() < 0.2) {
        if (urand() < 0.2) return emit(p, FOKUS_MOD_BCONST, 0, 0, 0, urand() < 0.5, 2);
        int idx[2] = {V_(p, FOKUS_MOD_Q), V_(p, FOKUS_MOD_K)};
        return G_(p, 5, 2, 2, idx);
    }
    switch (irand(0, 4)) {
    case 0: case 1: { /* comparisons of integers (exact) or floats */
        int op = FOKUS_MOD_LT + irand(0, 5);
        if (urand() < 0.6) return B_(p, op, gen_int(p, depth - 1), gen_int(p, depth - 1));
        return B_(p, op, gen_float(p, depth - 1, score), gen_float(p, depth - 1, score));
    }
    case 2: return B_(p, FOKUS_MOD_AND, gen_bool(p, depth - 1, score), gen_bool(p, depth - 1, score));
    case 3: return B_(p, FOKUS_MOD_OR, gen_bool(p, depth - 1, score), gen_bool(p, depth - 1, score));
    default: return U_(p, FOKUS_MOD_NOT, gen_bool(p, depth - 1, score));
    }
}

static int gen(prog *p, int want, int depth, bool score)
{
    if (p->n > FOKUS_MOD_MAX_INS - 64) return K_(p, 1); /* stay inside the limit */
    return want == 2 ? gen_bool(p, depth, score) : want == 1 ? gen_int(p, depth) : gen_float(p, depth, score);
}

/* Compares the vector evaluator (through a bound program and fokus_mod_eval_rows) with
 * the double reference on an (Nq x Nk) grid for b = 2, h = 3. */
static int compare_program(const fokus_mod_program *mp, double *worst)
{
    fokus_mod_bound mb;
    fokus_error err;
    const int Nq = 37, Nk = 45; /* ragged: padded lanes and short row blocks */
    if (fokus_mod_bind(NULL, mp, "test", 2, 3, Nq, Nk, &mb, &err) != FOKUS_OK) {
        fprintf(stderr, "bind: %s\n", err.msg);
        return 1;
    }
    const int R = 3, ld = 48;
    static float S[64 * 64] __attribute__((aligned(64)));
    static float regs[1 << 20] __attribute__((aligned(64)));
    if (fokus_mod_scratch_floats(&mb) > sizeof regs / sizeof regs[0]) return 1;
    for (int j = 0; j < Nk; j++)
        for (int i = 0; i < ld; i++) S[j * ld + i] = (float)(nrand() * 3 * 1.4426950408889634);
    int bad = 0;
    fokus_mod_uniforms(&mb, 1, 2, regs);
    for (int j0 = 0; j0 < Nk; j0 += FOKUS_MOD_ROWS) {
        int rows = Nk - j0 < FOKUS_MOD_ROWS ? Nk - j0 : FOKUS_MOD_ROWS;
        const float *res = fokus_mod_eval_rows(&mb, S + j0 * ld, ld, R, rows, 1, 2, 0, j0, regs);
        for (int t = 0; t < rows; t++)
            for (int i = 0; i < Nq; i++) {
                float s = S[(j0 + t) * ld + i] * 0.693147180559945309f; /* what SCORE reads */
                double want = fokus_mod_eval_ref(mp, (double)s, 2, 3, i + 1, j0 + t + 1);
                double got = res[(t * R + i / 16) * 16 + i % 16];
                double d = fabs(got - want);
                bool ok = (isnan(want) && isnan(got)) || got == want || d <= 2e-4 * (1 + fabs(want));
                if (!ok && bad++ < 3)
                    fprintf(stderr, "  q %d k %d: got %.9g want %.9g\n", i + 1, j0 + t + 1, got, want);
                if (isfinite(want) && d / (1 + fabs(want)) > *worst) *worst = d / (1 + fabs(want));
            }
    }
    fokus_mod_unbind(&mb);
    return bad;
}

static void test_random_programs(void)
{
    fokus_error err;
    double worst = 0;
    int ops_seen[FOKUS_MOD_NOPS] = {0};
    for (int trial = 0; trial < 300; trial++) {
        static prog p;
        p.n = 0;
        const bool score = trial % 3 != 0;
        int r = gen(&p, score ? 0 : 2, irand(2, 5), score);
        (void)r;
        for (int i = 0; i < p.n; i++) {
            ops_seen[p.ins[i].op]++;
            /* fields an op does not use may hold anything (the binding leaves -1) */
            const int na = fokus_mod_arity(p.ins[i].op);
            if (na < 3) p.ins[i].c = 99999;
            if (na < 2) p.ins[i].b = -7;
            if (na < 1) p.ins[i].a = -1;
        }
        fokus_mod_program mp;
        fokus_status st = fokus_mod_program_new(&mp, score ? FOKUS_MOD_KIND_SCORE : FOKUS_MOD_KIND_MASK, p.ins, p.n,
                                                caps, NT, &err);
        CHECK_MSG(st == FOKUS_OK, "trial %d: %s", trial, err.msg);
        if (st) continue;
        int bad = compare_program(&mp, &worst);
        CHECK_MSG(bad == 0, "trial %d (%d instructions, %d registers): %d mismatches", trial, mp.n, mp.nreg, bad);
        fokus_mod_program_free(&mp);
    }
    for (int op = 0; op < FOKUS_MOD_NOPS; op++) CHECK_MSG(ops_seen[op] > 0, "op %d never generated", op);
    printf("# random programs: worst relative difference vector vs double %.3g\n", worst);
}

/* ---- attention with programs vs the double reference ----------------------------- */

static double rel_err(const fokus_tensor *got, const fokus_tensor *ref)
{
    int64_t n = fokus_tensor_numel(ref);
    const float *g = got->data, *r = ref->data;
    double mx = 0, md = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isinf(r[i]) || isinf(g[i])) {
            if (g[i] != r[i]) return INFINITY;
            continue;
        }
        if (isnan(g[i]) || isnan(r[i])) return INFINITY;
        double d = fabs((double)g[i] - r[i]);
        if (d > md) md = d;
        if (fabs(r[i]) > mx) mx = fabs(r[i]);
    }
    return md / (mx > 1e-6 ? mx : 1e-6);
}

static fokus_tensor randt(int nd, const int64_t *shape)
{
    fokus_tensor t = {0};
    fokus_error e;
    fokus_tensor_empty(&t, FOKUS_F32, nd, shape, &e);
    int64_t n = fokus_tensor_numel(&t);
    for (int64_t i = 0; i < n; i++) ((float *)t.data)[i] = (float)nrand();
    return t;
}

static fokus_mod_program make(fokus_mod_kind kind, const prog *p, const fokus_tensor *t, int nt)
{
    fokus_mod_program mp;
    fokus_error err;
    if (fokus_mod_program_new(&mp, kind, p->ins, p->n, t, nt, &err) != FOKUS_OK) {
        fprintf(stderr, "make: %s\n", err.msg);
        exit(2);
    }
    return mp;
}

/* one attention configuration, every kernel variant, against the reference */
static void check_attn(const char *name, int B, int H, int Hkv, int Nq, int Nk, const fokus_attend_opts *o0,
                       const fokus_block_mask *bm)
{
    int64_t qs[4] = {B, H, Nq, 32}, ks[4] = {B, Hkv, Nk, 32}, vs[4] = {B, Hkv, Nk, 24};
    fokus_tensor q = randt(4, qs), k = randt(4, ks), v = randt(4, vs);
    fokus_attend_opts o = *o0;
    o.want_lse = true;
    o.want_probs = true;
    o.block_mask = bm;
    fokus_error err;
    fokus_tensor ro = {0}, rl = {0}, rp = {0};
    CHECK_MSG(fokus_attend_ref(&q, &k, &v, &o, &ro, &rl, &rp, &err) == FOKUS_OK, "%s ref: %s", name, err.msg);
    for (int variant = FOKUS_ATTN_SIMD; variant <= FOKUS_ATTN_SCALAR; variant++)
        for (int th = 0; th < 2; th++) {
            fokus_tensor go = {0}, gl = {0}, gp = {0};
            fokus_status st = fokus_attend_variant(th ? ctx2 : NULL, &q, &k, &v, &o, &go, &gl, &gp, variant, false, &err);
            CHECK_MSG(st == FOKUS_OK, "%s: %s", name, err.msg);
            if (st) continue;
            double eo = rel_err(&go, &ro), el = rel_err(&gl, &rl), ep = rel_err(&gp, &rp);
            CHECK_MSG(eo < 3e-5 && el < 3e-5 && ep < 3e-5, "%s variant %d threads %d: out %.3g lse %.3g probs %.3g",
                      name, variant, th + 1, eo, el, ep);
            fokus_tensor_release(&go);
            fokus_tensor_release(&gl);
            fokus_tensor_release(&gp);
        }
    fokus_tensor_release(&ro);
    fokus_tensor_release(&rl);
    fokus_tensor_release(&rp);
    fokus_tensor_release(&q);
    fokus_tensor_release(&k);
    fokus_tensor_release(&v);
}

static void test_attention_mods(void)
{
    fokus_error err;
    /* softcap 30 tanh(s / 30) */
    prog sc = {.n = 0};
    B_(&sc, FOKUS_MOD_MUL, K_(&sc, 30), U_(&sc, FOKUS_MOD_TANH, B_(&sc, FOKUS_MOD_DIV, V_(&sc, FOKUS_MOD_SCORE), K_(&sc, 30))));
    fokus_mod_program softcap = make(FOKUS_MOD_KIND_SCORE, &sc, NULL, 0);
    /* alibi: score + slopes[h] (k - q) */
    int64_t hs[1] = {4};
    fokus_tensor slopes = randt(1, hs);
    prog al = {.n = 0};
    {
        int s = V_(&al, FOKUS_MOD_SCORE), idx[1] = {V_(&al, FOKUS_MOD_H)};
        int g = G_(&al, 0, 0, 1, idx);
        B_(&al, FOKUS_MOD_ADD, s, B_(&al, FOKUS_MOD_MUL, g, B_(&al, FOKUS_MOD_SUB, V_(&al, FOKUS_MOD_K), V_(&al, FOKUS_MOD_Q))));
    }
    fokus_mod_program alibi = make(FOKUS_MOD_KIND_SCORE, &al, &slopes, 1);
    /* sliding window 20 with causal; fully masked first rows: k <= q - 3 */
    prog sw = {.n = 0};
    {
        int q = V_(&sw, FOKUS_MOD_Q), k = V_(&sw, FOKUS_MOD_K);
        B_(&sw, FOKUS_MOD_AND, B_(&sw, FOKUS_MOD_LE, k, q), B_(&sw, FOKUS_MOD_LT, B_(&sw, FOKUS_MOD_SUB, q, k), K_(&sw, 20)));
    }
    fokus_mod_program window = make(FOKUS_MOD_KIND_MASK, &sw, NULL, 0);
    prog fm = {.n = 0};
    B_(&fm, FOKUS_MOD_LE, V_(&fm, FOKUS_MOD_K), B_(&fm, FOKUS_MOD_SUB, V_(&fm, FOKUS_MOD_Q), K_(&fm, 3)));
    fokus_mod_program late = make(FOKUS_MOD_KIND_MASK, &fm, NULL, 0);
    /* document mask from an i64 [B, N] tensor */
    int64_t ds[2] = {2, 90};
    fokus_tensor doc = {0};
    fokus_tensor_empty(&doc, FOKUS_I64, 2, ds, &err);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 90; i++) ((int64_t *)doc.data)[b * 90 + i] = (i * (b + 2)) / 37;
    prog dc = {.n = 0};
    {
        int b = V_(&dc, FOKUS_MOD_B);
        int i1[2] = {b, V_(&dc, FOKUS_MOD_Q)}, i2[2] = {b, V_(&dc, FOKUS_MOD_K)};
        B_(&dc, FOKUS_MOD_EQ, G_(&dc, 0, 1, 2, i1), G_(&dc, 0, 1, 2, i2));
    }
    fokus_mod_program document = make(FOKUS_MOD_KIND_MASK, &dc, &doc, 1);

    fokus_attend_opts o = {0};
    o.score_mod = &softcap;
    check_attn("softcap", 2, 4, 2, 77, 130, &o, NULL);
    o.score_mod = &alibi;
    o.causal = FOKUS_CAUSAL_TOP_LEFT;
    check_attn("alibi causal", 1, 4, 4, 70, 70, &o, NULL);
    o.causal = FOKUS_CAUSAL_BOTTOM_RIGHT;
    check_attn("alibi causal bottom-right", 2, 4, 1, 33, 90, &o, NULL);
    memset(&o, 0, sizeof o);
    o.mask_mod = &window;
    check_attn("window (own block mask)", 2, 4, 2, 90, 90, &o, NULL);
    o.score_mod = &softcap;
    o.mask_mod = &late;
    check_attn("softcap + fully masked rows", 1, 2, 2, 50, 61, &o, NULL);
    /* a bias with -inf and a boolean mask under a score program: masked stays masked */
    {
        int64_t bs[2] = {50, 61};
        fokus_tensor bias = randt(2, bs), mask = {0};
        for (int i = 0; i < 50 * 61; i++)
            if (i % 7 == 0) ((float *)bias.data)[i] = -INFINITY;
        fokus_tensor_new(&mask, FOKUS_BOOL, 2, bs, &err);
        for (int i = 0; i < 50 * 61; i++) ((uint8_t *)mask.data)[i] = i % 5 != 0;
        o.mask_mod = NULL;
        o.bias = &bias;
        o.mask = &mask;
        check_attn("softcap + bias -inf + mask", 2, 2, 2, 50, 61, &o, NULL);
        fokus_tensor_release(&bias);
        fokus_tensor_release(&mask);
        o.bias = NULL;
        o.mask = NULL;
    }
    memset(&o, 0, sizeof o);
    o.mask_mod = &document;
    check_attn("document", 2, 2, 2, 90, 90, &o, NULL);
    /* explicit block masks of several tile sizes (the kernel takes their tiling) */
    const int sizes[3][2] = {{16, 16}, {32, 64}, {48, 16}};
    for (int s = 0; s < 3; s++) {
        fokus_block_mask bm;
        CHECK(fokus_block_mask_build(ctx2, &window, 2, 4, 90, 90, sizes[s][0], sizes[s][1], &bm, &err) == FOKUS_OK);
        memset(&o, 0, sizeof o);
        o.score_mod = &alibi;
        check_attn("window block mask + alibi", 2, 4, 2, 90, 90, &o, &bm);
        o.mask_mod = &window; /* the same program: accepted */
        check_attn("window block mask + same mask_mod", 2, 4, 2, 90, 90, &o, &bm);
        fokus_block_mask_free(&bm);
    }
    /* chains (one pass per vector in the kernel, constant factors folded at both ends):
     * every chain op, uniforms on either side of -, /, min and max */
    {
        prog ch = {.n = 0};
        int v = B_(&ch, FOKUS_MOD_DIV, V_(&ch, FOKUS_MOD_SCORE), K_(&ch, 7));
        v = B_(&ch, FOKUS_MOD_MUL, K_(&ch, 0.5), v);
        v = U_(&ch, FOKUS_MOD_TANH, v);
        v = B_(&ch, FOKUS_MOD_ADD, B_(&ch, FOKUS_MOD_MUL, v, K_(&ch, 3)), K_(&ch, 4)); /* in [1, 7] */
        v = B_(&ch, FOKUS_MOD_SUB, K_(&ch, 2), B_(&ch, FOKUS_MOD_DIV, K_(&ch, 0.5), v));
        v = B_(&ch, FOKUS_MOD_MAX, K_(&ch, 1.8), B_(&ch, FOKUS_MOD_MIN, v, K_(&ch, 1.95)));
        v = U_(&ch, FOKUS_MOD_SQRT, U_(&ch, FOKUS_MOD_ABS, U_(&ch, FOKUS_MOD_NEG, v)));
        v = U_(&ch, FOKUS_MOD_LOG, U_(&ch, FOKUS_MOD_EXP, B_(&ch, FOKUS_MOD_SUB, v, K_(&ch, 0.25))));
        B_(&ch, FOKUS_MOD_DIV, B_(&ch, FOKUS_MOD_MUL, K_(&ch, 6), v), K_(&ch, 1.5));
        fokus_mod_program chain = make(FOKUS_MOD_KIND_SCORE, &ch, NULL, 0);
        memset(&o, 0, sizeof o);
        o.score_mod = &chain;
        check_attn("chain", 2, 2, 2, 45, 70, &o, NULL);
        o.mask_mod = &late;
        check_attn("chain + fully masked rows", 1, 2, 2, 50, 61, &o, NULL);
        fokus_mod_program_free(&chain);
        /* not a chain: the score twice */
        prog sq = {.n = 0};
        int s0 = V_(&sq, FOKUS_MOD_SCORE);
        B_(&sq, FOKUS_MOD_MUL, U_(&sq, FOKUS_MOD_TANH, s0), s0);
        fokus_mod_program twice = make(FOKUS_MOD_KIND_SCORE, &sq, NULL, 0);
        memset(&o, 0, sizeof o);
        o.score_mod = &twice;
        check_attn("tanh(s) s", 1, 2, 2, 40, 50, &o, NULL);
        fokus_mod_program_free(&twice);
    }
    /* distance biases counted per row: (q - k) u, u on the right; k - q also used by
     * another term (then the block evaluator runs) */
    {
        prog d1 = {.n = 0};
        int s0 = V_(&d1, FOKUS_MOD_SCORE);
        B_(&d1, FOKUS_MOD_ADD, s0, B_(&d1, FOKUS_MOD_MUL, B_(&d1, FOKUS_MOD_SUB, V_(&d1, FOKUS_MOD_Q), V_(&d1, FOKUS_MOD_K)),
                                      K_(&d1, 0.0625)));
        fokus_mod_program qk = make(FOKUS_MOD_KIND_SCORE, &d1, NULL, 0);
        memset(&o, 0, sizeof o);
        o.score_mod = &qk;
        o.causal = FOKUS_CAUSAL_BOTTOM_RIGHT;
        check_attn("(q - k) u causal", 2, 2, 1, 40, 75, &o, NULL);
        fokus_mod_program_free(&qk);
        prog d2 = {.n = 0};
        s0 = V_(&d2, FOKUS_MOD_SCORE);
        int d = B_(&d2, FOKUS_MOD_SUB, V_(&d2, FOKUS_MOD_K), V_(&d2, FOKUS_MOD_Q));
        int w = B_(&d2, FOKUS_MOD_MUL, K_(&d2, -0.03), B_(&d2, FOKUS_MOD_ADD, d, U_(&d2, FOKUS_MOD_ABS, d)));
        B_(&d2, FOKUS_MOD_ADD, s0, w);
        fokus_mod_program kq2 = make(FOKUS_MOD_KIND_SCORE, &d2, NULL, 0);
        o.score_mod = &kq2;
        check_attn("u (d + |d|)", 1, 2, 2, 40, 75, &o, NULL);
        fokus_mod_program_free(&kq2);
    }
    fokus_mod_program_free(&softcap);
    fokus_mod_program_free(&alibi);
    fokus_mod_program_free(&window);
    fokus_mod_program_free(&late);
    fokus_mod_program_free(&document);
    fokus_tensor_release(&slopes);
    fokus_tensor_release(&doc);
}

/* ---- block mask classes ----------------------------------------------------------- */

static void test_block_classes(void)
{
    fokus_error err;
    prog pl = {.n = 0}; /* prefix-LM with 40 + per-head shift: k <= 40 or k <= q + h */
    B_(&pl, FOKUS_MOD_OR, B_(&pl, FOKUS_MOD_LE, V_(&pl, FOKUS_MOD_K), K_(&pl, 40)),
       B_(&pl, FOKUS_MOD_LE, V_(&pl, FOKUS_MOD_K), B_(&pl, FOKUS_MOD_ADD, V_(&pl, FOKUS_MOD_Q), V_(&pl, FOKUS_MOD_H))));
    fokus_mod_program m = make(FOKUS_MOD_KIND_MASK, &pl, NULL, 0);
    const int B = 2, H = 3, Nq = 150, Nk = 170, bq = 32, bk = 48;
    fokus_block_mask bm;
    CHECK(fokus_block_mask_build(ctx2, &m, B, H, Nq, Nk, bq, bk, &bm, &err) == FOKUS_OK);
    CHECK_EQ_INT(bm.Bm, 1); /* does not read b */
    CHECK_EQ_INT(bm.Hm, H);
    int bad = 0;
    for (int h = 0; h < H; h++)
        for (int qb = 0; qb < bm.nqb; qb++)
            for (int kb = 0; kb < bm.nkb; kb++) {
                bool any_t = false, any_f = false;
                for (int i = qb * bq; i < Nq && i < (qb + 1) * bq; i++)
                    for (int j = kb * bk; j < Nk && j < (kb + 1) * bk; j++) {
                        bool on = fokus_mod_eval_ref(&m, 0, 1, h + 1, i + 1, j + 1) != 0;
                        any_t |= on;
                        any_f |= !on;
                    }
                int want = any_t && any_f ? FOKUS_BLOCK_PARTIAL : any_t ? FOKUS_BLOCK_FULL : FOKUS_BLOCK_EMPTY;
                bad += fokus_block_class(&bm, 1, h, qb, kb) != want;
            }
    CHECK_EQ_INT(bad, 0);
    CHECK(bm.counts[0] > 0 && bm.counts[1] > 0 && bm.counts[2] > 0);
    fokus_block_mask_free(&bm);
    fokus_block_mask_free(&bm); /* idempotent */
    fokus_mod_program_free(&m);
}

/* ---- validation ------------------------------------------------------------------- */

static void expect_err(fokus_mod_kind kind, const prog *p, const fokus_tensor *t, int nt, const char *needle)
{
    fokus_mod_program mp;
    fokus_error err;
    err.msg[0] = 0;
    fokus_status st = fokus_mod_program_new(&mp, kind, p->ins, p->n, t, nt, &err);
    CHECK_MSG(st == FOKUS_EINVAL && strstr(err.msg, needle), "expected '%s', got status %d '%s'", needle, (int)st,
              err.msg);
    if (st == FOKUS_OK) fokus_mod_program_free(&mp);
}

static void test_validation(void)
{
    fokus_error err;
    prog p;
    p.n = 0; /* forward reference */
    emit(&p, FOKUS_MOD_ADD, 0, 1, 0, 0, 0);
    expect_err(FOKUS_MOD_KIND_SCORE, &p, NULL, 0, "not an earlier instruction");
    p.n = 0; /* arithmetic on a boolean */
    B_(&p, FOKUS_MOD_ADD, B_(&p, FOKUS_MOD_LT, V_(&p, FOKUS_MOD_Q), V_(&p, FOKUS_MOD_K)), K_(&p, 1));
    expect_err(FOKUS_MOD_KIND_SCORE, &p, NULL, 0, "expected numbers, got a boolean");
    p.n = 0; /* logic on numbers */
    B_(&p, FOKUS_MOD_AND, V_(&p, FOKUS_MOD_Q), V_(&p, FOKUS_MOD_K));
    expect_err(FOKUS_MOD_KIND_MASK, &p, NULL, 0, "expected booleans");
    p.n = 0; /* division by a constant 0 */
    B_(&p, FOKUS_MOD_DIV, V_(&p, FOKUS_MOD_SCORE), K_(&p, 0));
    expect_err(FOKUS_MOD_KIND_SCORE, &p, NULL, 0, "division by the constant 0");
    p.n = 0;
    B_(&p, FOKUS_MOD_MOD, V_(&p, FOKUS_MOD_Q), K_(&p, 0));
    expect_err(FOKUS_MOD_KIND_SCORE, &p, NULL, 0, "modulo by the constant 0");
    p.n = 0; /* mask gives a number; score gives a boolean; mask reads the score */
    V_(&p, FOKUS_MOD_Q);
    expect_err(FOKUS_MOD_KIND_MASK, &p, NULL, 0, "must give a boolean");
    p.n = 0;
    B_(&p, FOKUS_MOD_LT, V_(&p, FOKUS_MOD_Q), V_(&p, FOKUS_MOD_K));
    expect_err(FOKUS_MOD_KIND_SCORE, &p, NULL, 0, "must give a number");
    p.n = 0;
    B_(&p, FOKUS_MOD_GT, V_(&p, FOKUS_MOD_SCORE), K_(&p, 0));
    expect_err(FOKUS_MOD_KIND_MASK, &p, NULL, 0, "cannot read the score");
    p.n = 0; /* where: condition and branch kinds */
    W_(&p, V_(&p, FOKUS_MOD_Q), K_(&p, 1), K_(&p, 2));
    expect_err(FOKUS_MOD_KIND_SCORE, &p, NULL, 0, "condition must be a boolean");
    /* gathers: rank, index kind, tensor range */
    int64_t s2[2] = {4, 4};
    fokus_tensor t2 = randt(2, s2);
    p.n = 0;
    {
        int idx[1] = {V_(&p, FOKUS_MOD_H)};
        G_(&p, 0, 0, 1, idx);
    }
    expect_err(FOKUS_MOD_KIND_SCORE, &p, &t2, 1, "is 2-d, indexed with 1 index");
    p.n = 0;
    {
        int idx[2] = {V_(&p, FOKUS_MOD_H), B_(&p, FOKUS_MOD_DIV, V_(&p, FOKUS_MOD_Q), K_(&p, 2))};
        G_(&p, 0, 0, 2, idx);
    }
    expect_err(FOKUS_MOD_KIND_SCORE, &p, &t2, 1, "expected an integer");
    p.n = 0;
    {
        int idx[2] = {V_(&p, FOKUS_MOD_H), V_(&p, FOKUS_MOD_Q)};
        G_(&p, 1, 0, 2, idx);
    }
    expect_err(FOKUS_MOD_KIND_SCORE, &p, &t2, 1, "tensor 2 of 1");
    /* bind: an exact b/h/q/k index beyond the captured dimension */
    p.n = 0;
    {
        int idx[2] = {V_(&p, FOKUS_MOD_H), V_(&p, FOKUS_MOD_Q)};
        B_(&p, FOKUS_MOD_ADD, V_(&p, FOKUS_MOD_SCORE), G_(&p, 0, 0, 2, idx));
    }
    fokus_mod_program mp = make(FOKUS_MOD_KIND_SCORE, &p, &t2, 1);
    {
        int64_t qs[3] = {8, 4, 16};
        fokus_tensor q = randt(3, qs);
        fokus_attend_opts o = {0};
        o.score_mod = &mp;
        fokus_tensor out = {0};
        fokus_status st = fokus_attend(ctx2, &q, &q, &q, &o, &out, NULL, NULL, &err);
        CHECK_MSG(st == FOKUS_EINVAL && strstr(err.msg, "with h up to 8"), "%s", err.msg);
        /* a mask program as score_mod, a block mask of another shape, another mask */
        o.score_mod = NULL;
        o.mask_mod = &mp;
        st = fokus_attend(ctx2, &q, &q, &q, &o, &out, NULL, NULL, &err);
        CHECK_MSG(st == FOKUS_EINVAL && strstr(err.msg, "expected a mask program"), "%s", err.msg);
        prog c = {.n = 0};
        B_(&c, FOKUS_MOD_LE, V_(&c, FOKUS_MOD_K), V_(&c, FOKUS_MOD_Q));
        fokus_mod_program causal = make(FOKUS_MOD_KIND_MASK, &c, NULL, 0);
        fokus_block_mask bm;
        CHECK(fokus_block_mask_build(NULL, &causal, 1, 8, 5, 4, 64, 64, &bm, &err) == FOKUS_OK);
        o.mask_mod = NULL;
        o.block_mask = &bm;
        st = fokus_attend(ctx2, &q, &q, &q, &o, &out, NULL, NULL, &err);
        CHECK_MSG(st == FOKUS_EINVAL && strstr(err.msg, "was built for 1x8x5x4"), "%s", err.msg);
        fokus_block_mask_free(&bm);
        CHECK(fokus_block_mask_build(NULL, &causal, 1, 8, 4, 4, 64, 64, &bm, &err) == FOKUS_OK);
        prog c2 = {.n = 0};
        B_(&c2, FOKUS_MOD_LT, V_(&c2, FOKUS_MOD_K), V_(&c2, FOKUS_MOD_Q));
        fokus_mod_program other = make(FOKUS_MOD_KIND_MASK, &c2, NULL, 0);
        o.mask_mod = &other;
        st = fokus_attend(ctx2, &q, &q, &q, &o, &out, NULL, NULL, &err);
        CHECK_MSG(st == FOKUS_EINVAL && strstr(err.msg, "different mask_mod"), "%s", err.msg);
        fokus_block_mask_free(&bm);
        CHECK(fokus_block_mask_build(NULL, &causal, 1, 8, 4, 4, 20, 64, &bm, &err) == FOKUS_EINVAL);
        CHECK(fokus_block_mask_build(NULL, &mp, 1, 8, 4, 4, 64, 64, &bm, &err) == FOKUS_EINVAL);
        fokus_mod_program_free(&other);
        fokus_mod_program_free(&causal);
        fokus_tensor_release(&q);
    }
    fokus_mod_program_free(&mp);
    fokus_mod_program_free(&mp); /* idempotent */
    fokus_tensor_release(&t2);
}

int main(void)
{
    fokus_error err;
    if (fokus_ctx_new(&ctx2, 2, &err) != FOKUS_OK) return 2;
    make_caps();
    RUN(test_random_programs);
    RUN(test_attention_mods);
    RUN(test_block_classes);
    RUN(test_validation);
    for (int t = 0; t < NT; t++) fokus_tensor_release(&caps[t]);
    fokus_ctx_free(ctx2);
    return check_summary("mods");
}
