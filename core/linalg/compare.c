/* Comparisons, logical ops and where: bool results (stored as 0/1 bytes by the
 * engine from 0.0/1.0 blocks) and the select of where. */
#include <string.h>

#include <simde/x86/avx512.h>

#include "linalg/eltwise_internal.h"

#define SET1(x) simde_mm512_set1_ps(x)

/* out[i] = 1.0 where the compare of a[i] and b[i] holds (predicate P), else 0.0 */
#define CMP_LOOP(P) LOOP2(simde_mm512_maskz_mov_ps(simde_mm512_cmp_ps_mask(va, vb, (P)), SET1(1.0f)))
/* truth (nonzero, nan included) of a vector */
#define TRUTH(v) simde_mm512_cmp_ps_mask((v), simde_mm512_setzero_ps(), SIMDE_CMP_NEQ_UQ)

#define LOOP2(EXPR)                                                         \
    do {                                                                    \
        int64_t i = 0;                                                      \
        for (; i + 16 <= n; i += 16) {                                      \
            simde__m512 va = simde_mm512_loadu_ps(a + i);                   \
            simde__m512 vb = simde_mm512_loadu_ps(b + i);                   \
            simde_mm512_storeu_ps(out + i, (EXPR));                         \
        }                                                                   \
        if (i < n) {                                                        \
            float ta[16] = {0}, tb[16] = {0}, to[16];                       \
            memcpy(ta, a + i, (size_t)(n - i) * 4);                         \
            memcpy(tb, b + i, (size_t)(n - i) * 4);                         \
            simde__m512 va = simde_mm512_loadu_ps(ta);                      \
            simde__m512 vb = simde_mm512_loadu_ps(tb);                      \
            simde_mm512_storeu_ps(to, (EXPR));                              \
            memcpy(out + i, to, (size_t)(n - i) * 4);                       \
        }                                                                   \
    } while (0)

static void compare_kernel(const void *argp, float *out, const float *const *in, int64_t n, int64_t pos)
{
    (void)pos;
    const fokus_ew_binop op = *(const fokus_ew_binop *)argp;
    const float *a = in[0], *b = in[1];
    switch (op) {
    case FOKUS_EW_LT: CMP_LOOP(SIMDE_CMP_LT_OQ); break;
    case FOKUS_EW_LE: CMP_LOOP(SIMDE_CMP_LE_OQ); break;
    case FOKUS_EW_GT: CMP_LOOP(SIMDE_CMP_GT_OQ); break;
    case FOKUS_EW_GE: CMP_LOOP(SIMDE_CMP_GE_OQ); break;
    case FOKUS_EW_EQ: CMP_LOOP(SIMDE_CMP_EQ_OQ); break;
    case FOKUS_EW_NE: CMP_LOOP(SIMDE_CMP_NEQ_UQ); break;
    case FOKUS_EW_AND: LOOP2(simde_mm512_maskz_mov_ps((simde__mmask16)(TRUTH(va) & TRUTH(vb)), SET1(1.0f))); break;
    case FOKUS_EW_OR: LOOP2(simde_mm512_maskz_mov_ps((simde__mmask16)(TRUTH(va) | TRUTH(vb)), SET1(1.0f))); break;
    default: break;
    }
}

fokus_status fokus_compare(fokus_ctx *ctx, fokus_ew_binop op, fokus_operand a, fokus_operand b,
                           const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    if (op < FOKUS_EW_LT || op >= FOKUS_EW_NBINOPS)
        return fokus_fail(err, FOKUS_EINVAL, "compare: operation %d is not a comparison (see fokus_binary)", (int)op);
    fokus_operand ops[2] = {a, b};
    return fokus_ew_apply(ctx, fokus_ew_binop_name(op), FOKUS_BOOL, 2, ops, compare_kernel, &op, dst, out, err);
}

static void where_kernel(const void *arg, float *out, const float *const *in, int64_t n, int64_t pos)
{
    (void)arg;
    (void)pos;
    const float *c = in[0], *a = in[1], *b = in[2];
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        simde__m512 vc = simde_mm512_loadu_ps(c + i);
        simde__m512 r = simde_mm512_mask_mov_ps(simde_mm512_loadu_ps(b + i), TRUTH(vc), simde_mm512_loadu_ps(a + i));
        simde_mm512_storeu_ps(out + i, r);
    }
    for (; i < n; i++) out[i] = c[i] != 0.0f ? a[i] : b[i];
}

fokus_status fokus_where(fokus_ctx *ctx, fokus_operand cond, fokus_operand a, fokus_operand b,
                         const fokus_tensor *dst, fokus_tensor *out, fokus_error *err)
{
    fokus_operand ops[3] = {cond, a, b};
    return fokus_ew_apply(ctx, "where", FOKUS_F32, 3, ops, where_kernel, NULL, dst, out, err);
}
