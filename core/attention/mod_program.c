/*
 * Score / mask programs: validation, copies, the double-precision reference
 * evaluator and the binding of a program to one attention call.
 *
 * Programs arrive from a tracer (the Lua binding) or from C callers, so every field
 * is checked here once; the evaluators then trust them. The vector evaluator
 * (mod_eval.c) works on register-sized blocks of lanes, so validation also assigns
 * registers: an instruction's register is freed after its last use, which keeps the
 * evaluator's scratch at a few KiB even for long programs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_internal.h"

enum { T_FLOAT = 0, T_INT, T_BOOL };

static const char *const op_names[FOKUS_MOD_NOPS] = {
    "const", "bconst", "score", "b", "h", "q", "k", "add", "sub", "mul", "div", "mod", "pow", "min",
    "max", "neg", "abs", "exp", "log", "tanh", "sqrt", "lt", "le", "gt", "ge", "eq", "ne", "and",
    "or", "not", "where", "gather"};

int fokus_mod_arity(int op)
{
    if (op <= FOKUS_MOD_K) return 0;
    if (op <= FOKUS_MOD_MAX) return 2;
    if (op <= FOKUS_MOD_SQRT) return 1;
    if (op <= FOKUS_MOD_OR) return 2;
    if (op == FOKUS_MOD_NOT) return 1;
    if (op == FOKUS_MOD_WHERE) return 3;
    return 0; /* gather: idx[] */
}

static bool dtype_is_int(fokus_dtype dt)
{
    return dt == FOKUS_I32 || dt == FOKUS_I64 || dt == FOKUS_U8 || dt == FOKUS_BOOL;
}

/* Types every instruction and checks operand kinds; fills type[]. */
static fokus_status check_types(const fokus_mod_ins *ins, int n, const fokus_tensor *tensors, int ntensors,
                                fokus_mod_kind kind, int *type, fokus_error *err)
{
    for (int i = 0; i < n; i++) {
        const fokus_mod_ins *x = &ins[i];
        if (x->op < 0 || x->op >= FOKUS_MOD_NOPS)
            return fokus_fail(err, FOKUS_EINVAL, "instruction %d: unknown op %d", i + 1, x->op);
        const char *on = op_names[x->op];
        const int ops[3] = {x->a, x->b, x->c};
        const int na = fokus_mod_arity(x->op);
        for (int j = 0; j < na; j++)
            if (ops[j] < 0 || ops[j] >= i)
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (%s): operand %d refers to %d, not an earlier instruction",
                                  i + 1, on, j + 1, ops[j] + 1);
        int ta = na > 0 ? type[ops[0]] : 0, tb = na > 1 ? type[ops[1]] : 0, tc = na > 2 ? type[ops[2]] : 0;
        switch (x->op) {
        case FOKUS_MOD_CONST:
            type[i] = (isfinite(x->k) && x->k == floor(x->k) && fabs(x->k) < 9007199254740992.0) ? T_INT : T_FLOAT;
            break;
        case FOKUS_MOD_BCONST: type[i] = T_BOOL; break;
        case FOKUS_MOD_SCORE:
            if (kind == FOKUS_MOD_KIND_MASK)
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d: a mask program cannot read the score", i + 1);
            type[i] = T_FLOAT;
            break;
        case FOKUS_MOD_B: case FOKUS_MOD_H: case FOKUS_MOD_Q: case FOKUS_MOD_K: type[i] = T_INT; break;
        case FOKUS_MOD_ADD: case FOKUS_MOD_SUB: case FOKUS_MOD_MUL: case FOKUS_MOD_MOD:
        case FOKUS_MOD_MIN: case FOKUS_MOD_MAX: case FOKUS_MOD_DIV: case FOKUS_MOD_POW:
        case FOKUS_MOD_LT: case FOKUS_MOD_LE: case FOKUS_MOD_GT: case FOKUS_MOD_GE:
        case FOKUS_MOD_EQ: case FOKUS_MOD_NE:
            if (ta == T_BOOL || tb == T_BOOL)
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (%s): expected numbers, got a boolean", i + 1, on);
            if ((x->op == FOKUS_MOD_DIV || x->op == FOKUS_MOD_MOD) && ins[x->b].op == FOKUS_MOD_CONST &&
                ins[x->b].k == 0)
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (%s): %s by the constant 0", i + 1, on,
                                  x->op == FOKUS_MOD_DIV ? "division" : "modulo");
            if (x->op >= FOKUS_MOD_LT)
                type[i] = T_BOOL;
            else if (x->op == FOKUS_MOD_DIV || x->op == FOKUS_MOD_POW)
                type[i] = T_FLOAT;
            else
                type[i] = ta == T_INT && tb == T_INT ? T_INT : T_FLOAT;
            break;
        case FOKUS_MOD_NEG: case FOKUS_MOD_ABS:
        case FOKUS_MOD_EXP: case FOKUS_MOD_LOG: case FOKUS_MOD_TANH: case FOKUS_MOD_SQRT:
            if (ta == T_BOOL)
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (%s): expected a number, got a boolean", i + 1, on);
            type[i] = (x->op == FOKUS_MOD_NEG || x->op == FOKUS_MOD_ABS) ? ta : T_FLOAT;
            break;
        case FOKUS_MOD_AND: case FOKUS_MOD_OR: case FOKUS_MOD_NOT:
            if (ta != T_BOOL || (na == 2 && tb != T_BOOL))
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (%s): expected booleans, got a number", i + 1, on);
            type[i] = T_BOOL;
            break;
        case FOKUS_MOD_WHERE:
            if (ta != T_BOOL)
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (where): the condition must be a boolean, got a number",
                                  i + 1);
            if ((tb == T_BOOL) != (tc == T_BOOL))
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (where): one branch is a boolean, the other a number",
                                  i + 1);
            type[i] = tb == T_BOOL ? T_BOOL : (tb == T_INT && tc == T_INT ? T_INT : T_FLOAT);
            break;
        case FOKUS_MOD_GATHER: {
            if (x->tensor < 0 || x->tensor >= ntensors)
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (gather): tensor %d of %d", i + 1, x->tensor + 1,
                                  ntensors);
            const fokus_tensor *t = &tensors[x->tensor];
            if (t->ndim < 1 || t->ndim > 4)
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (gather): captured tensor %d is %d-d, expected 1-d to 4-d",
                                  i + 1, x->tensor + 1, t->ndim);
            if (x->nidx != t->ndim)
                return fokus_fail(err, FOKUS_EINVAL, "instruction %d (gather): captured tensor %d is %d-d, indexed with %d %s",
                                  i + 1, x->tensor + 1, t->ndim, x->nidx, x->nidx == 1 ? "index" : "indices");
            for (int d = 0; d < x->nidx; d++) {
                if (x->idx[d] < 0 || x->idx[d] >= i)
                    return fokus_fail(err, FOKUS_EINVAL, "instruction %d (gather): index %d refers to %d, not an earlier instruction",
                                      i + 1, d + 1, x->idx[d] + 1);
                if (type[x->idx[d]] != T_INT)
                    return fokus_fail(err, FOKUS_EINVAL, "instruction %d (gather): index %d of captured tensor %d is %s, expected an integer",
                                      i + 1, d + 1, x->tensor + 1, type[x->idx[d]] == T_BOOL ? "a boolean" : "a float");
            }
            type[i] = t->dtype == FOKUS_BOOL ? T_BOOL : dtype_is_int(t->dtype) ? T_INT : T_FLOAT;
            break;
        }
        default: return fokus_fail(err, FOKUS_EINVAL, "instruction %d: unknown op %d", i + 1, x->op);
        }
    }
    if (kind == FOKUS_MOD_KIND_MASK && type[n - 1] != T_BOOL)
        return fokus_fail(err, FOKUS_EINVAL, "a mask program must give a boolean, it gives a number");
    if (kind == FOKUS_MOD_KIND_SCORE && type[n - 1] == T_BOOL)
        return fokus_fail(err, FOKUS_EINVAL, "a score program must give a number, it gives a boolean");
    return FOKUS_OK;
}

/* Linear-scan register assignment over the SSA list: a register is free again after
 * the last instruction that reads it. The result keeps its register to the end. */
static int assign_registers(const fokus_mod_ins *ins, int n, int *reg, int *last)
{
    for (int i = 0; i < n; i++) last[i] = i;
    for (int i = 0; i < n; i++) {
        const fokus_mod_ins *x = &ins[i];
        const int na = fokus_mod_arity(x->op);
        const int ops[3] = {x->a, x->b, x->c};
        for (int j = 0; j < na; j++) last[ops[j]] = i;
        if (x->op == FOKUS_MOD_GATHER)
            for (int d = 0; d < x->nidx; d++) last[x->idx[d]] = i;
    }
    last[n - 1] = n;
    int nreg = 0, nfree = 0;
    int *freel = last + n; /* n more ints of room */
    for (int i = 0; i < n; i++) {
        /* operands dying here are freed only after the result has its register, so a
         * result never shares a register with its own operands (the vector loops may
         * then read and write in any order) */
        reg[i] = nfree > 0 ? freel[--nfree] : nreg++;
        const fokus_mod_ins *x = &ins[i];
        int ops[7], no = 0;
        const int na = fokus_mod_arity(x->op);
        if (na > 0) ops[no++] = x->a;
        if (na > 1) ops[no++] = x->b;
        if (na > 2) ops[no++] = x->c;
        if (x->op == FOKUS_MOD_GATHER)
            for (int d = 0; d < x->nidx; d++) ops[no++] = x->idx[d];
        for (int j = 0; j < no; j++) {
            int o = ops[j];
            bool dup = false;
            for (int m = 0; m < j; m++) dup |= ops[m] == o;
            if (!dup && last[o] == i) freel[nfree++] = reg[o];
        }
        if (last[i] == i) freel[nfree++] = reg[i]; /* never read (dead code) */
    }
    return nreg;
}

fokus_status fokus_mod_program_new(fokus_mod_program *out, fokus_mod_kind kind, const fokus_mod_ins *ins, int n,
                                   const fokus_tensor *tensors, int ntensors, fokus_error *err)
{
    memset(out, 0, sizeof *out);
    if (kind != FOKUS_MOD_KIND_SCORE && kind != FOKUS_MOD_KIND_MASK)
        return fokus_fail(err, FOKUS_EINVAL, "program kind %d unknown", (int)kind);
    if (n < 1 || n > FOKUS_MOD_MAX_INS)
        return fokus_fail(err, FOKUS_EINVAL, "a program has 1 to %d instructions, got %d", FOKUS_MOD_MAX_INS, n);
    if (ntensors < 0 || ntensors > FOKUS_MOD_MAX_TENSORS)
        return fokus_fail(err, FOKUS_EINVAL, "a program captures at most %d tensors, got %d", FOKUS_MOD_MAX_TENSORS,
                          ntensors);
    if (!ins) return fokus_fail(err, FOKUS_EINVAL, "instructions are NULL");
    for (int t = 0; t < ntensors; t++) {
        const fokus_tensor *x = &tensors[t];
        if (x->ndim < 1 || x->ndim > 4)
            return fokus_fail(err, FOKUS_EINVAL, "captured tensor %d is %d-d, expected 1-d to 4-d", t + 1, x->ndim);
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] < 1 || x->shape[d] > ((int64_t)1 << 22))
                return fokus_fail(err, FOKUS_EINVAL, "captured tensor %d has dimension %d of size %lld, expected 1..2^22",
                                  t + 1, d + 1, (long long)x->shape[d]);
        if (!x->data) return fokus_fail(err, FOKUS_EINVAL, "captured tensor %d has no data", t + 1);
    }
    int *type = malloc(sizeof(int) * (size_t)n);
    if (!type) return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    fokus_status st = check_types(ins, n, tensors, ntensors, kind, type, err);
    free(type);
    if (st) return st;

    out->kind = kind;
    out->n = n;
    out->ins = malloc(sizeof(fokus_mod_ins) * (size_t)n);
    out->reg = malloc(sizeof(int) * (size_t)n);
    int *last = malloc(sizeof(int) * (size_t)(2 * n + 1));
    out->tensors = ntensors ? calloc((size_t)ntensors, sizeof(fokus_tensor)) : NULL;
    if (!out->ins || !out->reg || !last || (ntensors && !out->tensors)) {
        free(last);
        fokus_mod_program_free(out);
        return fokus_fail(err, FOKUS_ENOMEM, "out of memory");
    }
    memcpy(out->ins, ins, sizeof(fokus_mod_ins) * (size_t)n);
    for (int t = 0; t < ntensors; t++) {
        out->tensors[t] = tensors[t];
        fokus_tensor_retain(&tensors[t]);
    }
    out->ntensors = ntensors;
    out->nreg = assign_registers(out->ins, n, out->reg, last);
    free(last);
    for (int i = 0; i < n; i++)
        if (ins[i].op >= FOKUS_MOD_SCORE && ins[i].op <= FOKUS_MOD_K) out->uses |= 1u << ins[i].op;
    return FOKUS_OK;
}

fokus_status fokus_mod_program_copy(fokus_mod_program *out, const fokus_mod_program *p, fokus_error *err)
{
    return fokus_mod_program_new(out, p->kind, p->ins, p->n, p->tensors, p->ntensors, err);
}

void fokus_mod_program_free(fokus_mod_program *p)
{
    if (!p) return;
    for (int t = 0; t < p->ntensors; t++) fokus_tensor_release(&p->tensors[t]);
    free(p->tensors);
    free(p->ins);
    free(p->reg);
    memset(p, 0, sizeof *p);
}

bool fokus_mod_program_equal(const fokus_mod_program *a, const fokus_mod_program *b)
{
    if (a == b) return true;
    if (!a || !b || a->kind != b->kind || a->n != b->n || a->ntensors != b->ntensors) return false;
    for (int i = 0; i < a->n; i++) {
        const fokus_mod_ins *x = &a->ins[i], *y = &b->ins[i];
        if (x->op != y->op) return false;
        const int na = fokus_mod_arity(x->op);
        if ((na > 0 && x->a != y->a) || (na > 1 && x->b != y->b) || (na > 2 && x->c != y->c)) return false;
        if ((x->op == FOKUS_MOD_CONST || x->op == FOKUS_MOD_BCONST) && memcmp(&x->k, &y->k, sizeof x->k) != 0)
            return false;
        if (x->op == FOKUS_MOD_GATHER) {
            if (x->tensor != y->tensor || x->nidx != y->nidx) return false;
            for (int d = 0; d < x->nidx; d++)
                if (x->idx[d] != y->idx[d]) return false;
        }
    }
    for (int t = 0; t < a->ntensors; t++) {
        const fokus_tensor *x = &a->tensors[t], *y = &b->tensors[t];
        if (x->data != y->data || x->dtype != y->dtype || x->ndim != y->ndim) return false;
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] != y->shape[d] || x->stride[d] != y->stride[d]) return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------------
 * Reference evaluator (double precision, one point, the plain definition of every op)
 * ------------------------------------------------------------------------------- */

static double load_any(const fokus_tensor *t, int64_t off)
{
    const char *p = (const char *)t->data;
    switch (t->dtype) {
    case FOKUS_F32: return ((const float *)p)[off];
    case FOKUS_F16: return fokus_f16_to_f32(((const uint16_t *)p)[off]);
    case FOKUS_BF16: return fokus_bf16_to_f32(((const uint16_t *)p)[off]);
    case FOKUS_I32: return ((const int32_t *)p)[off];
    case FOKUS_I64: return (double)((const int64_t *)p)[off];
    case FOKUS_U8: return ((const uint8_t *)p)[off];
    case FOKUS_BOOL: return ((const uint8_t *)p)[off] != 0;
    default: return 0;
    }
}

/* Lua's floored modulo on floats (lua_Number % lua_Number). */
static double lua_mod(double a, double b)
{
    double m = fmod(a, b);
    if (m != 0 && (m < 0) != (b < 0)) m += b;
    return m;
}

double fokus_mod_op_ref(int op, double a, double c, double e)
{
    switch (op) {
    case FOKUS_MOD_ADD: return a + c;
    case FOKUS_MOD_SUB: return a - c;
    case FOKUS_MOD_MUL: return a * c;
    case FOKUS_MOD_DIV: return a / c;
    case FOKUS_MOD_MOD: return lua_mod(a, c);
    case FOKUS_MOD_POW: return pow(a, c);
    case FOKUS_MOD_MIN: return a < c ? a : c;
    case FOKUS_MOD_MAX: return a > c ? a : c;
    case FOKUS_MOD_NEG: return -a;
    case FOKUS_MOD_ABS: return fabs(a);
    case FOKUS_MOD_EXP: return exp(a);
    case FOKUS_MOD_LOG: return log(a);
    case FOKUS_MOD_TANH: return tanh(a);
    case FOKUS_MOD_SQRT: return sqrt(a);
    case FOKUS_MOD_LT: return a < c;
    case FOKUS_MOD_LE: return a <= c;
    case FOKUS_MOD_GT: return a > c;
    case FOKUS_MOD_GE: return a >= c;
    case FOKUS_MOD_EQ: return a == c;
    case FOKUS_MOD_NE: return a != c;
    case FOKUS_MOD_AND: return a != 0 && c != 0;
    case FOKUS_MOD_OR: return a != 0 || c != 0;
    case FOKUS_MOD_NOT: return a == 0;
    case FOKUS_MOD_WHERE: return a != 0 ? c : e;
    default: return NAN;
    }
}

double fokus_mod_eval_ref(const fokus_mod_program *p, double score, int64_t b, int64_t h, int64_t q, int64_t k)
{
    double small[64] = {0};
    double *v = p->n <= 64 ? small : malloc(sizeof(double) * (size_t)p->n);
    if (!v) return NAN;
    for (int i = 0; i < p->n; i++) {
        const fokus_mod_ins *x = &p->ins[i];
        double a = 0, c = 0, e = 0;
        const int na = fokus_mod_arity(x->op);
        if (na > 0) a = v[x->a];
        if (na > 1) c = v[x->b];
        if (na > 2) e = v[x->c];
        double r = 0;
        switch (x->op) {
        case FOKUS_MOD_CONST: r = x->k; break;
        case FOKUS_MOD_BCONST: r = x->k != 0; break;
        case FOKUS_MOD_SCORE: r = score; break;
        case FOKUS_MOD_B: r = (double)b; break;
        case FOKUS_MOD_H: r = (double)h; break;
        case FOKUS_MOD_Q: r = (double)q; break;
        case FOKUS_MOD_K: r = (double)k; break;
        case FOKUS_MOD_GATHER: {
            const fokus_tensor *t = &p->tensors[x->tensor];
            int64_t off = 0;
            for (int d = 0; d < x->nidx; d++) {
                double ix = v[x->idx[d]];
                /* the documented clamp: out-of-range indices read the nearest end */
                int64_t ii = !(ix >= 1) ? 1 : ix > (double)t->shape[d] ? t->shape[d] : (int64_t)ix;
                off += (ii - 1) * t->stride[d];
            }
            r = load_any(t, off);
            break;
        }
        default: r = fokus_mod_op_ref(x->op, a, c, e); break;
        }
        v[i] = r;
    }
    double res = v[p->n - 1];
    if (v != small) free(v);
    return res;
}

/* ---------------------------------------------------------------------------------
 * Binding to one call
 * ------------------------------------------------------------------------------- */

fokus_status fokus_mod_bind(fokus_ctx *ctx, const fokus_mod_program *p, const char *what, int64_t B, int64_t H,
                            int64_t Nq, int64_t Nk, fokus_mod_bound *out, fokus_error *err)
{
    static const char *const var[] = {"b", "h", "q", "k"};
    const int64_t ext[4] = {B, H, Nq, Nk};
    memset(out, 0, sizeof *out);
    out->p = p;
    const int64_t lim = (int64_t)1 << 24;
    if (B > lim || H > lim || Nq > lim || Nk > lim)
        return fokus_fail(err, FOKUS_EINVAL, "%s: with a program, B, H, Nq and Nk are at most 2^24 (indices are exact in float32)",
                          what);
    for (int i = 0; i < p->n; i++) {
        const fokus_mod_ins *x = &p->ins[i];
        if (x->op != FOKUS_MOD_GATHER) continue;
        const fokus_tensor *t = &p->tensors[x->tensor];
        for (int d = 0; d < x->nidx; d++) {
            int vop = p->ins[x->idx[d]].op;
            if (vop < FOKUS_MOD_B || vop > FOKUS_MOD_K) continue;
            int64_t e = ext[vop - FOKUS_MOD_B];
            if (e > t->shape[d])
                return fokus_fail(err, FOKUS_EINVAL,
                                  "%s indexes captured tensor %d (dim %d of size %lld) with %s up to %lld", what,
                                  x->tensor + 1, d + 1, (long long)t->shape[d], var[vop - FOKUS_MOD_B], (long long)e);
        }
    }
    for (int i = 0; i < p->n; i++) {
        const fokus_mod_ins *x = &p->ins[i];
        const int op = x->op;
        bool u = op == FOKUS_MOD_CONST || op == FOKUS_MOD_BCONST || op == FOKUS_MOD_B || op == FOKUS_MOD_H;
        if (op >= FOKUS_MOD_ADD && op != FOKUS_MOD_GATHER) {
            const int na = fokus_mod_arity(op);
            u = out->uni[x->a] && (na < 2 || out->uni[x->b]) && (na < 3 || out->uni[x->c]);
        } else if (op == FOKUS_MOD_GATHER) {
            u = true;
            for (int d = 0; d < x->nidx; d++) u = u && out->uni[x->idx[d]];
        }
        out->uni[i] = u;
    }
    if (p->n > 0) out->vec[p->n - 1] = 1;
    out->add_x = -1;
    const fokus_mod_ins *last = &p->ins[p->n - 1];
    if (p->kind == FOKUS_MOD_KIND_SCORE && last->op == FOKUS_MOD_ADD &&
        (p->ins[last->a].op == FOKUS_MOD_SCORE || p->ins[last->b].op == FOKUS_MOD_SCORE)) {
        out->add_x = p->ins[last->a].op == FOKUS_MOD_SCORE ? last->b : last->a;
        /* does x read the score? (forward pass: reads[i] = some operand reads it) */
        uint8_t reads[FOKUS_MOD_MAX_INS];
        for (int i = 0; i <= out->add_x; i++) {
            const fokus_mod_ins *x = &p->ins[i];
            const int na = fokus_mod_arity(x->op);
            bool r = x->op == FOKUS_MOD_SCORE;
            if (na > 0) r = r || reads[x->a];
            if (na > 1) r = r || reads[x->b];
            if (na > 2) r = r || reads[x->c];
            if (x->op == FOKUS_MOD_GATHER)
                for (int d = 0; d < x->nidx; d++) r = r || reads[x->idx[d]];
            reads[i] = r;
        }
        out->add_x_reads_score = reads[out->add_x];
    }
    for (int i = p->n - 1; i >= 0; i--) {
        const fokus_mod_ins *x = &p->ins[i];
        if (out->uni[i]) continue; /* its operands are uniform and only feed it */
        const int na = fokus_mod_arity(x->op);
        if (na > 0) out->vec[x->a] = 1;
        if (na > 1) out->vec[x->b] = 1;
        if (na > 2) out->vec[x->c] = 1;
        if (x->op == FOKUS_MOD_GATHER)
            for (int d = 0; d < x->nidx; d++) out->vec[x->idx[d]] = 1;
    }
    for (int t = 0; t < p->ntensors; t++) {
        const fokus_tensor *x = &p->tensors[t];
        if (fokus_tensor_numel(x) > INT32_MAX)
            return fokus_fail(err, FOKUS_EINVAL, "%s: captured tensor %d has more than 2^31 elements", what, t + 1);
    }
    for (int t = 0; t < p->ntensors; t++) {
        const fokus_tensor *x = &p->tensors[t];
        fokus_status st = fokus_tensor_to_ctx(ctx, &out->f32[t], x, FOKUS_F32, err);
        if (st) {
            fokus_mod_unbind(out);
            return fokus_fail_prefix(err, st, what);
        }
        out->data[t] = (const float *)out->f32[t].data;
        for (int d = 0; d < 4; d++) {
            out->dim[t][d] = d < x->ndim ? (int32_t)x->shape[d] : 1;
            out->stride[t][d] = d < x->ndim ? (int32_t)out->f32[t].stride[d] : 0;
        }
    }
    return FOKUS_OK;
}

void fokus_mod_unbind(fokus_mod_bound *m)
{
    if (!m) return;
    for (int t = 0; t < FOKUS_MOD_MAX_TENSORS; t++) fokus_tensor_release(&m->f32[t]);
    memset(m, 0, sizeof *m);
}
