/*
 * The vector evaluator of score / mask programs, run by the attention kernel on the
 * S^T tile (lanes = queries, rows = keys) right after QK^T, before the online softmax.
 *
 * An interpreter, but one whose dispatch is amortised: each instruction runs over a
 * whole block of FOKUS_MOD_ROWS key rows x R query vectors (up to 16 vectors of 16
 * lanes), so the switch costs one branch per 256 scores and the loops inside are
 * plain SIMD arithmetic. Registers are [rows][16 R] float blocks in scratch (one per
 * live value, see assign_registers in mod_program.c), so they stay in L1. Two
 * common shapes skip the registers: a chain of one-operand steps from the score
 * (softcap c tanh(s / c)) runs per vector, and a bias u (k - q) (ALiBi) is counted per
 * row; both in the single pass that writes the tile (fokus_mod_apply_tile).
 *
 * Every value is a float32 lane: numbers as themselves, booleans as 0 / 1. Integer
 * values (indices, integer tensors) are exact below 2^24, which fokus_mod_bind
 * enforces for b, h, q and k.
 */
#include <math.h>
#include <string.h>

#include "attention_internal.h"
#include "linalg/simd_math.h"

#define LN2F 0.693147180559945309f
#define LOG2EF 1.44269504088896341f

/* SIMDe has no 512-bit float -> int conversion or gather: the conversion through the
 * 2^23 magic number (exact for integral 0 <= x < 2^22: gather indices clamped to
 * dimensions <= 2^22), the gather natively or lane by lane. */
static inline simde__m512i small_float_to_int(simde__m512 x) /* x integral, 0 <= x < 2^22 */
{
    simde__m512 biased = simde_mm512_add_ps(x, simde_mm512_set1_ps(8388608.0f));
    return simde_mm512_sub_epi32(simde_mm512_castps_si512(biased), simde_mm512_set1_epi32(0x4B000000));
}

static inline simde__m512 gather16(const float *base, simde__m512i off)
{
#if defined(SIMDE_X86_AVX512F_NATIVE)
    return _mm512_i32gather_ps(off, base, 4);
#else
    int32_t o[16];
    float r[16];
    simde_mm512_storeu_si512(o, off);
    for (int l = 0; l < 16; l++) r[l] = base[o[l]];
    return simde_mm512_loadu_ps(r);
#endif
}

/* Lua's floored modulo: a - floor(a / b) b, then one correction step each way for the
 * rounding of a / b (so integer operands below 2^24 give the exact result). */
static inline simde__m512 v_mod(simde__m512 a, simde__m512 b)
{
    const simde__m512 z = simde_mm512_setzero_ps();
    simde__m512 q = simde_mm512_roundscale_ps(simde_mm512_div_ps(a, b), SIMDE_MM_FROUND_TO_NEG_INF);
    simde__m512 r = simde_mm512_fnmadd_ps(q, b, a);
    simde__mmask16 bpos = simde_mm512_cmp_ps_mask(b, z, SIMDE_CMP_GT_OQ);
    simde__mmask16 bneg = simde_mm512_cmp_ps_mask(b, z, SIMDE_CMP_LT_OQ);
    simde__mmask16 rneg = simde_mm512_cmp_ps_mask(r, z, SIMDE_CMP_LT_OQ);
    simde__mmask16 rpos = simde_mm512_cmp_ps_mask(r, z, SIMDE_CMP_GT_OQ);
    r = simde_mm512_mask_add_ps(r, (simde__mmask16)((bpos & rneg) | (bneg & rpos)), r, b);
    simde__mmask16 over = (simde__mmask16)((bpos & simde_mm512_cmp_ps_mask(r, b, SIMDE_CMP_GE_OQ)) |
                                           (bneg & simde_mm512_cmp_ps_mask(r, b, SIMDE_CMP_LE_OQ)));
    return simde_mm512_mask_sub_ps(r, over, r, b);
}

/* Scratch layout (floats): the uniform values as broadcast vectors [n][16], the
 * query-index vectors [4][16], the key-index vectors [MOD_ROWS][16], then the
 * registers [nreg][MOD_ROWS * 64]. */
static size_t uni_floats(const fokus_mod_program *p)
{
    return (size_t)p->n * 16 + 4 * 16 + FOKUS_MOD_ROWS * 16;
}

size_t fokus_mod_scratch_floats(const fokus_mod_bound *m)
{
    return m ? uni_floats(m->p) + (size_t)m->p->nreg * FOKUS_MOD_ROWS * 64 : 0;
}

void fokus_mod_uniforms(const fokus_mod_bound *m, int64_t b, int64_t h, float *regs)
{
    const fokus_mod_program *p = m->p;
    double v[FOKUS_MOD_MAX_INS];
    for (int i = 0; i < p->n; i++) {
        if (!m->uni[i]) continue;
        const fokus_mod_ins *x = &p->ins[i];
        double r;
        switch (x->op) {
        case FOKUS_MOD_CONST: r = x->k; break;
        case FOKUS_MOD_BCONST: r = x->k != 0; break;
        case FOKUS_MOD_B: r = (double)(b + 1); break;
        case FOKUS_MOD_H: r = (double)(h + 1); break;
        case FOKUS_MOD_GATHER: {
            const int t = x->tensor;
            int64_t off = 0;
            for (int d = 0; d < x->nidx; d++) {
                /* the same clamp as the vector gather */
                double ix = v[x->idx[d]];
                int64_t ii = !(ix >= 1) ? 1 : ix > m->dim[t][d] ? m->dim[t][d] : (int64_t)ix;
                off += (ii - 1) * m->stride[t][d];
            }
            r = m->data[t][off];
            break;
        }
        default: {
            /* unused operand fields may hold anything: read only the op's own */
            const int na = fokus_mod_arity(x->op);
            r = fokus_mod_op_ref(x->op, na > 0 ? v[x->a] : 0, na > 1 ? v[x->b] : 0, na > 2 ? v[x->c] : 0);
            break;
        }
        }
        /* float32 rounding of every step, as the vector evaluator would give */
        v[i] = (float)r;
        simde_mm512_store_ps(regs + 16 * i, simde_mm512_set1_ps((float)r));
    }
}

/* Where an operand's vectors are: vector (t, r) of the block is at p + t * ts + r * rs
 * (floats). Registers are dense [rows][R]; a uniform value, the query indices and
 * the key indices are stored once and read with stride 0 along the other axes, so
 * they cost no pass of their own. */
typedef struct opnd {
    const float *p;
    int ts, rs;
} opnd;

static inline opnd operand_of(const fokus_mod_bound *m, int src, const float *regs, const float *uvec,
                              const float *qv, const float *kv, int R)
{
    opnd o;
    const int op = m->p->ins[src].op;
    if (m->uni[src]) {
        o.p = uvec + 16 * src, o.ts = 0, o.rs = 0;
    } else if (op == FOKUS_MOD_Q) {
        o.p = qv, o.ts = 0, o.rs = 16;
    } else if (op == FOKUS_MOD_K) {
        o.p = kv, o.ts = 16, o.rs = 0;
    } else {
        o.p = regs + (size_t)m->p->reg[src] * FOKUS_MOD_ROWS * 64, o.ts = 16 * R, o.rs = 16;
    }
    return o;
}

#define LD(o) simde_mm512_load_ps((o).p + t * (o).ts + r * (o).rs)
#define LOOP1(expr)                                                                      \
    for (int t = 0; t < rows; t++)                                                       \
        for (int r = 0; r < R; r++) {                                                    \
            simde__m512 A = LD(oa);                                                      \
            simde_mm512_store_ps(rd + 16 * (t * R + r), (expr));                         \
        }
#define LOOP2(expr)                                                                      \
    for (int t = 0; t < rows; t++)                                                       \
        for (int r = 0; r < R; r++) {                                                    \
            simde__m512 A = LD(oa), Bv = LD(ob);                                         \
            simde_mm512_store_ps(rd + 16 * (t * R + r), (expr));                         \
        }
#define CMP(pred) LOOP2(simde_mm512_maskz_mov_ps(simde_mm512_cmp_ps_mask(A, Bv, pred), one))

/* Runs instructions [0, n_run) of m on one block; returns the registers' base. */
static float *run_rows(const fokus_mod_bound *m, const float *S, int ld, int R, int rows, int64_t i0, int64_t j0,
                       float *regs, int n_run)
{
    const fokus_mod_program *p = m->p;
    const simde__m512 one = simde_mm512_set1_ps(1.0f);
    const simde__m512 iota = simde_mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const float *uvec = regs;
    float *qv = regs + (size_t)p->n * 16, *kv = qv + 4 * 16;
    regs += uni_floats(p);
    if (p->uses & (1u << FOKUS_MOD_Q))
        for (int r = 0; r < R; r++)
            simde_mm512_store_ps(qv + 16 * r, simde_mm512_add_ps(iota, simde_mm512_set1_ps((float)(i0 + 16 * r + 1))));
    if (p->uses & (1u << FOKUS_MOD_K))
        for (int t = 0; t < rows; t++) simde_mm512_store_ps(kv + 16 * t, simde_mm512_set1_ps((float)(j0 + t + 1)));
    for (int i = 0; i < n_run; i++) {
        const fokus_mod_ins *x = &p->ins[i];
        const int op = x->op;
        float *rd = regs + (size_t)p->reg[i] * FOKUS_MOD_ROWS * 64;
        if (m->uni[i] || op == FOKUS_MOD_Q || op == FOKUS_MOD_K) {
            if (i == p->n - 1) { /* a result that lives outside the registers */
                opnd oa = operand_of(m, i, regs, uvec, qv, kv, R);
                LOOP1(A);
            }
            continue;
        }
        opnd oa = {0}, ob = {0}, oc = {0};
        if (op >= FOKUS_MOD_ADD && op != FOKUS_MOD_GATHER) {
            oa = operand_of(m, x->a, regs, uvec, qv, kv, R);
            if (op <= FOKUS_MOD_MAX || (op >= FOKUS_MOD_LT && op <= FOKUS_MOD_OR) || op == FOKUS_MOD_WHERE)
                ob = operand_of(m, x->b, regs, uvec, qv, kv, R);
            if (op == FOKUS_MOD_WHERE) oc = operand_of(m, x->c, regs, uvec, qv, kv, R);
        }
        switch (op) {
        case FOKUS_MOD_SCORE:
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++)
                    simde_mm512_store_ps(rd + 16 * (t * R + r),
                                         simde_mm512_mul_ps(simde_mm512_load_ps(S + (size_t)t * ld + 16 * r),
                                                            simde_mm512_set1_ps(LN2F)));
            break;
        case FOKUS_MOD_ADD: LOOP2(simde_mm512_add_ps(A, Bv)); break;
        case FOKUS_MOD_SUB: LOOP2(simde_mm512_sub_ps(A, Bv)); break;
        case FOKUS_MOD_MUL: LOOP2(simde_mm512_mul_ps(A, Bv)); break;
        case FOKUS_MOD_DIV:
            if (ob.ts == 0 && ob.rs == 0) {
                /* by a uniform value (softcap's s / c): one division per block, then
                 * products (within 1 ulp of the quotient, below float32 evaluation noise) */
                const simde__m512 inv = simde_mm512_div_ps(one, simde_mm512_load_ps(ob.p));
                LOOP1(simde_mm512_mul_ps(A, inv));
            } else {
                LOOP2(simde_mm512_div_ps(A, Bv));
            }
            break;
        case FOKUS_MOD_MOD: LOOP2(v_mod(A, Bv)); break;
        case FOKUS_MOD_MIN: LOOP2(simde_mm512_min_ps(A, Bv)); break;
        case FOKUS_MOD_MAX: LOOP2(simde_mm512_max_ps(A, Bv)); break;
        case FOKUS_MOD_POW:
            /* rare (x^2 is traced as x * x): libm per lane keeps the edge cases */
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++) {
                    float av[16], bv[16];
                    simde_mm512_storeu_ps(av, LD(oa));
                    simde_mm512_storeu_ps(bv, LD(ob));
                    for (int l = 0; l < 16; l++) rd[16 * (t * R + r) + l] = powf(av[l], bv[l]);
                }
            break;
        case FOKUS_MOD_NEG: LOOP1(simde_mm512_sub_ps(simde_mm512_setzero_ps(), A)); break;
        case FOKUS_MOD_ABS: LOOP1(simde_mm512_abs_ps(A)); break;
        case FOKUS_MOD_EXP: LOOP1(fokus_v_exp(A)); break;
        case FOKUS_MOD_LOG: LOOP1(fokus_v_log(A)); break;
        case FOKUS_MOD_TANH: LOOP1(fokus_v_tanh(A)); break;
        case FOKUS_MOD_SQRT: LOOP1(simde_mm512_sqrt_ps(A)); break;
        case FOKUS_MOD_LT: CMP(SIMDE_CMP_LT_OQ); break;
        case FOKUS_MOD_LE: CMP(SIMDE_CMP_LE_OQ); break;
        case FOKUS_MOD_GT: CMP(SIMDE_CMP_GT_OQ); break;
        case FOKUS_MOD_GE: CMP(SIMDE_CMP_GE_OQ); break;
        case FOKUS_MOD_EQ: CMP(SIMDE_CMP_EQ_OQ); break;
        case FOKUS_MOD_NE: CMP(SIMDE_CMP_NEQ_UQ); break;
        case FOKUS_MOD_AND: LOOP2(simde_mm512_min_ps(A, Bv)); break;
        case FOKUS_MOD_OR: LOOP2(simde_mm512_max_ps(A, Bv)); break;
        case FOKUS_MOD_NOT: LOOP1(simde_mm512_sub_ps(one, A)); break;
        case FOKUS_MOD_WHERE:
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++) {
                    simde__mmask16 c = simde_mm512_cmp_ps_mask(LD(oa), simde_mm512_setzero_ps(), SIMDE_CMP_NEQ_UQ);
                    simde_mm512_store_ps(rd + 16 * (t * R + r), simde_mm512_mask_blend_ps(c, LD(oc), LD(ob)));
                }
            break;
        case FOKUS_MOD_GATHER: {
            const int tn = x->tensor;
            const float *base = m->data[tn];
            opnd oi[4];
            for (int d = 0; d < x->nidx; d++) oi[d] = operand_of(m, x->idx[d], regs, uvec, qv, kv, R);
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++) {
                    simde__m512i off = simde_mm512_setzero_si512();
                    for (int d = 0; d < x->nidx; d++) {
                        /* the documented clamp into 1..n (max first: it turns NaN into 1) */
                        simde__m512 ix = simde_mm512_max_ps(LD(oi[d]), one);
                        ix = simde_mm512_min_ps(ix, simde_mm512_set1_ps((float)m->dim[tn][d]));
                        simde__m512i ii = simde_mm512_sub_epi32(small_float_to_int(ix), simde_mm512_set1_epi32(1));
                        off = simde_mm512_add_epi32(off, simde_mm512_mullo_epi32(ii, simde_mm512_set1_epi32(m->stride[tn][d])));
                    }
                    simde_mm512_store_ps(rd + 16 * (t * R + r), gather16(base, off));
                }
            break;
        }
        default: break;
        }
    }
    return regs;
}

/* ---------------------------------------------------------------- chains */

/* A score program that is one chain score -> op -> op -> ... -> result, each op taking
 * the previous value and at most one uniform operand (softcap's c * tanh(s / c), a
 * temperature, a clamp): the whole program runs per vector in one pass over the tile,
 * its value in a register, instead of one pass (a load and a store per vector) per
 * instruction. Multiplies and divisions by a uniform at either end are folded into
 * the score's ln 2 and the result's log2 e (one product each, the factor in double). */
#define CHAIN_MAX 24

typedef struct chain {
    int n;
    int op[CHAIN_MAX];
    bool rev[CHAIN_MAX];          /* the uniform is the left operand (u - v, u / v) */
    simde__m512 u[CHAIN_MAX];     /* the uniform operands (unused for unary ops) */
    simde__m512 pre, post;        /* v = S pre at the start, result = v post */
} chain;

static bool chain_op(int op)
{
    switch (op) {
    case FOKUS_MOD_ADD: case FOKUS_MOD_SUB: case FOKUS_MOD_MUL: case FOKUS_MOD_DIV: case FOKUS_MOD_MIN:
    case FOKUS_MOD_MAX: case FOKUS_MOD_NEG: case FOKUS_MOD_ABS: case FOKUS_MOD_EXP: case FOKUS_MOD_LOG:
    case FOKUS_MOD_TANH: case FOKUS_MOD_SQRT: return true;
    default: return false;
    }
}

/* Fills c when m (uniforms already in uvec) is such a chain. */
static bool find_chain(const fokus_mod_bound *m, const float *uvec, chain *c)
{
    const fokus_mod_program *p = m->p;
    int prev = -1, idx[CHAIN_MAX];
    c->n = 0;
    c->pre = c->post = simde_mm512_set1_ps(1.0f);
    for (int i = 0; i < p->n; i++) {
        if (m->uni[i]) continue;
        const fokus_mod_ins *x = &p->ins[i];
        if (prev < 0) {
            if (x->op != FOKUS_MOD_SCORE) return false;
            prev = i;
            continue;
        }
        if (!chain_op(x->op) || c->n == CHAIN_MAX) return false;
        const int na = fokus_mod_arity(x->op);
        if (na == 1) {
            if (x->a != prev) return false;
            c->rev[c->n] = false;
        } else if (x->a == prev && x->b != prev && m->uni[x->b]) {
            c->rev[c->n] = false;
        } else if (x->b == prev && x->a != prev && m->uni[x->a]) {
            c->rev[c->n] = true;
        } else {
            return false;
        }
        idx[c->n] = na == 1 ? -1 : c->rev[c->n] ? x->a : x->b;
        c->op[c->n++] = x->op;
        prev = i;
    }
    if (prev != p->n - 1) return false;
    double pre = LN2F, post = LOG2EF;
    int b = 0, e = c->n;
    /* v * u, u * v and v / u fold; u / v does not */
    for (; b < e && (c->op[b] == FOKUS_MOD_MUL || (c->op[b] == FOKUS_MOD_DIV && !c->rev[b])); b++)
        pre = c->op[b] == FOKUS_MOD_MUL ? pre * uvec[16 * idx[b]] : pre / uvec[16 * idx[b]];
    for (; e > b && (c->op[e - 1] == FOKUS_MOD_MUL || (c->op[e - 1] == FOKUS_MOD_DIV && !c->rev[e - 1])); e--)
        post = c->op[e - 1] == FOKUS_MOD_MUL ? post * uvec[16 * idx[e - 1]] : post / uvec[16 * idx[e - 1]];
    for (int k = b; k < e; k++) {
        c->op[k - b] = c->op[k];
        c->rev[k - b] = c->rev[k];
        c->u[k - b] = idx[k] >= 0 ? simde_mm512_load_ps(uvec + 16 * idx[k]) : simde_mm512_setzero_ps();
    }
    c->n = e - b;
    c->pre = simde_mm512_set1_ps((float)pre);
    c->post = simde_mm512_set1_ps((float)post);
    return true;
}

/* The ops between the folded factors. */
static inline simde__m512 chain_ops(const chain *c, simde__m512 v)
{
    for (int i = 0; i < c->n; i++) {
        const simde__m512 u = c->u[i];
        switch (c->op[i]) {
        case FOKUS_MOD_ADD: v = simde_mm512_add_ps(v, u); break;
        case FOKUS_MOD_SUB: v = c->rev[i] ? simde_mm512_sub_ps(u, v) : simde_mm512_sub_ps(v, u); break;
        case FOKUS_MOD_MUL: v = simde_mm512_mul_ps(v, u); break;
        case FOKUS_MOD_DIV: v = c->rev[i] ? simde_mm512_div_ps(u, v) : simde_mm512_div_ps(v, u); break;
        /* operands in the program's order, as the block evaluator (NaN picks one) */
        case FOKUS_MOD_MIN: v = c->rev[i] ? simde_mm512_min_ps(u, v) : simde_mm512_min_ps(v, u); break;
        case FOKUS_MOD_MAX: v = c->rev[i] ? simde_mm512_max_ps(u, v) : simde_mm512_max_ps(v, u); break;
        case FOKUS_MOD_NEG: v = simde_mm512_sub_ps(simde_mm512_setzero_ps(), v); break;
        case FOKUS_MOD_ABS: v = simde_mm512_abs_ps(v); break;
        case FOKUS_MOD_EXP: v = fokus_v_exp(v); break;
        case FOKUS_MOD_LOG: v = fokus_v_log(v); break;
        case FOKUS_MOD_TANH: v = fokus_v_tanh(v); break;
        case FOKUS_MOD_SQRT: v = simde_mm512_sqrt_ps(v); break;
        default: break;
        }
    }
    return v;
}

const float *fokus_mod_eval_rows(const fokus_mod_bound *m, const float *S, int ld, int R, int rows, int64_t b,
                                 int64_t h, int64_t i0, int64_t j0, float *regs)
{
    (void)b, (void)h; /* they are in the uniforms */
    float *rg = run_rows(m, S, ld, R, rows, i0, j0, regs, m->p->n);
    return rg + (size_t)m->p->reg[m->p->n - 1] * FOKUS_MOD_ROWS * 64;
}

/* For a fused score + x with x = u * d or d * u, u uniform and d = k - q or q - k:
 * +1 (k - q) or -1 (q - k) when no other instruction needs the registers (so the block
 * evaluator need not run at all), else 0. */
static int distance_term(const fokus_mod_bound *m, int xi)
{
    const fokus_mod_program *p = m->p;
    const fokus_mod_ins *x = &p->ins[xi];
    if (x->op != FOKUS_MOD_MUL || m->uni[xi]) return 0;
    int d;
    if (m->uni[x->a] && !m->uni[x->b]) d = x->b;
    else if (m->uni[x->b] && !m->uni[x->a]) d = x->a;
    else return 0;
    const fokus_mod_ins *di = &p->ins[d];
    if (di->op != FOKUS_MOD_SUB) return 0;
    const int oa = p->ins[di->a].op, ob = p->ins[di->b].op;
    int sign = oa == FOKUS_MOD_K && ob == FOKUS_MOD_Q ? 1 : oa == FOKUS_MOD_Q && ob == FOKUS_MOD_K ? -1 : 0;
    if (m->uni[di->a] || m->uni[di->b]) sign = 0;
    for (int i = 0; sign && i < xi; i++) {
        const int op = p->ins[i].op;
        if (!m->uni[i] && i != d && op != FOKUS_MOD_SCORE && op != FOKUS_MOD_Q && op != FOKUS_MOD_K) sign = 0;
    }
    return sign;
}

void fokus_mod_apply_tile(const fokus_mod_bound *score, const fokus_mod_bound *mask, float *S, int ld, int R,
                          int jn, int64_t b, int64_t h, int64_t i0, int64_t j0, float *regs, float *tmax,
                          bool may_inf)
{
    const simde__m512 ninf = simde_mm512_set1_ps(-INFINITY), l2e = simde_mm512_set1_ps(LOG2EF);
    simde__m512 mx[4];
    for (int r = 0; r < R; r++) mx[r] = ninf;
    /* the tile max is taken by the last pass that writes S (after the mask: a max
     * taken before it could sit far above the visible scores and underflow them) */
    const bool score_max = tmax && !mask, mask_max = tmax && mask;
    /* both programs share regs: the mask's uniforms live after the score's scratch */
    float *regs_mask = regs + fokus_mod_scratch_floats(score);
    if (score) fokus_mod_uniforms(score, b, h, regs);
    if (mask) fokus_mod_uniforms(mask, b, h, regs_mask);
    chain ch;
    ch.pre = ch.post = simde_mm512_set1_ps(1.0f);
    const bool is_chain = score && score->add_x < 0 && find_chain(score, regs, &ch);
    for (int jj0 = 0; jj0 < jn; jj0 += FOKUS_MOD_ROWS) {
        const int rows = jn - jj0 < FOKUS_MOD_ROWS ? jn - jj0 : FOKUS_MOD_ROWS;
        float *Sr = S + (size_t)jj0 * ld;
        if (score && score->add_x >= 0) {
            /* score + x: S += x log2 e, and -inf + finite stays -inf by itself. When x
             * is the instruction just before (as lowering orders it) and a +, - or *,
             * it is computed here instead of through a register: one pass less. */
            const fokus_mod_program *p = score->p;
            const int xi = score->add_x, xop = p->ins[xi].op;
            const bool fuse = xi == p->n - 2 && !score->uni[xi] &&
                              (xop == FOKUS_MOD_ADD || xop == FOKUS_MOD_SUB || xop == FOKUS_MOD_MUL);
            const int dist = fuse ? distance_term(score, xi) : 0;
            float *rg = dist ? regs + uni_floats(p)
                             : run_rows(score, Sr, ld, R, rows, i0, j0 + jj0, regs, fuse ? p->n - 2 : p->n - 1);
            const float *qv = regs + (size_t)p->n * 16, *kv = qv + 4 * 16;
            const bool check = may_inf && score->add_x_reads_score;
#define ADD_X(xexpr)                                                                                        \
    for (int t = 0; t < rows; t++)                                                                          \
        for (int r = 0; r < R; r++) {                                                                       \
            float *s = Sr + (size_t)t * ld + 16 * r;                                                        \
            simde__m512 old = simde_mm512_load_ps(s);                                                       \
            simde__m512 nw = simde_mm512_fmadd_ps((xexpr), l2e, old);                                       \
            if (check) nw = simde_mm512_mask_mov_ps(nw, simde_mm512_cmp_ps_mask(old, ninf, SIMDE_CMP_EQ_OQ), ninf); \
            simde_mm512_store_ps(s, nw);                                                                    \
            if (score_max) mx[r] = simde_mm512_max_ps(mx[r], nw);                                           \
        }
            if (dist) {
                /* u (k - q) (ALiBi) with k - q counted per row instead of read from a
                 * register: exact integers, so the same products as the block evaluator */
                const int ui = score->uni[p->ins[xi].a] ? p->ins[xi].a : p->ins[xi].b;
                const simde__m512 u = simde_mm512_load_ps(regs + 16 * ui), sg = simde_mm512_set1_ps((float)dist);
                const simde__m512 iota = simde_mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
                simde__m512 d0[4];
                for (int r = 0; r < R; r++) /* k - q at row 0: (j0 + jj0 + 1) - (i0 + 16 r + 1 + lane) */
                    d0[r] = simde_mm512_sub_ps(simde_mm512_set1_ps((float)(j0 + jj0 - i0 - 16 * r)), iota);
                ADD_X(simde_mm512_mul_ps(u, simde_mm512_mul_ps(sg, simde_mm512_add_ps(d0[r], simde_mm512_set1_ps((float)t)))))
            } else if (fuse) {
                const opnd xa = operand_of(score, p->ins[xi].a, rg, regs, qv, kv, R);
                const opnd xb = operand_of(score, p->ins[xi].b, rg, regs, qv, kv, R);
                if (xop == FOKUS_MOD_ADD) ADD_X(simde_mm512_add_ps(LD(xa), LD(xb)))
                else if (xop == FOKUS_MOD_SUB) ADD_X(simde_mm512_sub_ps(LD(xa), LD(xb)))
                else ADD_X(simde_mm512_mul_ps(LD(xa), LD(xb)))
            } else {
                const opnd ox = operand_of(score, xi, rg, regs, qv, kv, R);
                ADD_X(LD(ox))
            }
#undef ADD_X
        } else if (is_chain) {
#define CHAIN_PASS(f)                                                                                     \
    for (int t = 0; t < rows; t++)                                                                        \
        for (int r = 0; r < R; r++) {                                                                     \
            float *s = Sr + (size_t)t * ld + 16 * r;                                                      \
            simde__m512 old = simde_mm512_load_ps(s);                                                     \
            simde__m512 nw = simde_mm512_mul_ps(f(simde_mm512_mul_ps(old, ch.pre)), ch.post);             \
            /* masked stays masked, whatever the program makes of -inf */                                \
            if (may_inf) nw = simde_mm512_mask_mov_ps(nw, simde_mm512_cmp_ps_mask(old, ninf, SIMDE_CMP_EQ_OQ), ninf); \
            simde_mm512_store_ps(s, nw);                                                                  \
            if (score_max) mx[r] = simde_mm512_max_ps(mx[r], nw);                                         \
        }
#define CHAIN_ALL(v) chain_ops(&ch, v)
#define CHAIN_NONE(v) (v)
            /* a single function (softcap's tanh, a temperature): no dispatch per vector */
            if (ch.n == 0) CHAIN_PASS(CHAIN_NONE)
            else if (ch.n == 1 && ch.op[0] == FOKUS_MOD_TANH) CHAIN_PASS(fokus_v_tanh)
            else if (ch.n == 1 && ch.op[0] == FOKUS_MOD_EXP) CHAIN_PASS(fokus_v_exp)
            else CHAIN_PASS(CHAIN_ALL)
#undef CHAIN_PASS
#undef CHAIN_ALL
#undef CHAIN_NONE
        } else if (score) {
            const float *res = fokus_mod_eval_rows(score, Sr, ld, R, rows, b, h, i0, j0 + jj0, regs);
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++) {
                    float *s = Sr + (size_t)t * ld + 16 * r;
                    simde__m512 nw = simde_mm512_mul_ps(simde_mm512_load_ps(res + 16 * (t * R + r)), l2e);
                    /* masked stays masked, whatever the program makes of -inf */
                    if (may_inf)
                        nw = simde_mm512_mask_mov_ps(
                            nw, simde_mm512_cmp_ps_mask(simde_mm512_load_ps(s), ninf, SIMDE_CMP_EQ_OQ), ninf);
                    simde_mm512_store_ps(s, nw);
                    if (score_max) mx[r] = simde_mm512_max_ps(mx[r], nw);
                }
        }
        if (mask) {
            const float *res = fokus_mod_eval_rows(mask, NULL, ld, R, rows, b, h, i0, j0 + jj0, regs_mask);
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++) {
                    float *s = Sr + (size_t)t * ld + 16 * r;
                    simde__mmask16 off = simde_mm512_cmp_ps_mask(simde_mm512_load_ps(res + 16 * (t * R + r)),
                                                                 simde_mm512_setzero_ps(), SIMDE_CMP_EQ_OQ);
                    simde__m512 nw = simde_mm512_mask_mov_ps(simde_mm512_load_ps(s), off, ninf);
                    simde_mm512_store_ps(s, nw);
                    if (mask_max) mx[r] = simde_mm512_max_ps(mx[r], nw);
                }
        }
        if (tmax && !score && !mask)
            for (int t = 0; t < rows; t++)
                for (int r = 0; r < R; r++) mx[r] = simde_mm512_max_ps(mx[r], simde_mm512_load_ps(Sr + (size_t)t * ld + 16 * r));
    }
    if (tmax)
        for (int r = 0; r < R; r++)
            simde_mm512_store_ps(tmax + 16 * r, simde_mm512_max_ps(simde_mm512_load_ps(tmax + 16 * r), mx[r]));
}
