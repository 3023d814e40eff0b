/*
 * Block masks: the tiles of a mask program's [B, H, Nq, Nk] logits classified once as
 * empty, full or partial, so the attention kernel skips empty tiles and evaluates no
 * mask on full ones (causal, sliding-window, document and prefix-LM masks then cost
 * in proportion to the tiles they keep).
 *
 * The classes are exact: every element of every tile is evaluated with the same
 * vector evaluator the kernel uses (a tile's scan stops as soon as it has seen both a
 * true and a false). That is O(B H Nq Nk) mask evaluations without the O(d) dot
 * products, a few percent of one attention call, and the result is reused across
 * calls (the Lua binding caches it per mask and shape).
 */
#include <stdio.h>
#include <string.h>

#include "attention_internal.h"
#include "linalg/simd_math.h"

typedef struct bm_task {
    const fokus_mod_bound *mb;
    fokus_block_mask *out;
    fokus_ctx *ctx;
    bool nomem;
} bm_task;

static void bm_range(void *argp, int64_t begin, int64_t end, int worker)
{
    bm_task *t = (bm_task *)argp;
    fokus_block_mask *bm = t->out;
    const int R = bm->bq / 16;
    float *regs = (float *)fokus_alloc(sizeof(float) * (fokus_mod_scratch_floats(t->mb) + 16));
    if (!regs) {
        t->nomem = true; /* a benign race: every writer stores true */
        return;
    }
    for (int64_t it = begin; it < end; it++) {
        if (fokus_ctx_interrupted(t->ctx)) break;
        const int64_t qb = it % bm->nqb, bh = it / bm->nqb;
        const int64_t hh = bh % bm->Hm, bb = bh / bm->Hm;
        const int64_t i0 = qb * bm->bq;
        const int64_t nq = bm->Nq - i0 < bm->bq ? bm->Nq - i0 : bm->bq;
        uint8_t *row = bm->cls + it * bm->nkb;
        fokus_mod_uniforms(t->mb, bb, hh, regs);
        for (int64_t kb = 0; kb < bm->nkb; kb++) {
            const int64_t j0 = kb * bm->bk;
            const int jn = (int)(bm->Nk - j0 < bm->bk ? bm->Nk - j0 : bm->bk);
            bool any_true = false, any_false = false;
            for (int jj0 = 0; jj0 < jn && !(any_true && any_false); jj0 += FOKUS_MOD_ROWS) {
                const int rows = jn - jj0 < FOKUS_MOD_ROWS ? jn - jj0 : FOKUS_MOD_ROWS;
                const float *res = fokus_mod_eval_rows(t->mb, NULL, 16 * R, R, rows, bb, hh, i0, j0 + jj0, regs);
                for (int tt = 0; tt < rows; tt++)
                    for (int r = 0; r < R; r++) {
                        const int64_t lanes = nq - 16 * r;
                        if (lanes <= 0) continue;
                        const simde__mmask16 valid =
                            lanes >= 16 ? (simde__mmask16)0xffff : (simde__mmask16)((1u << lanes) - 1);
                        simde__mmask16 on = simde_mm512_cmp_ps_mask(simde_mm512_load_ps(res + 16 * (tt * R + r)),
                                                                    simde_mm512_setzero_ps(), SIMDE_CMP_NEQ_UQ);
                        any_true |= (on & valid) != 0;
                        any_false |= (~on & valid) != 0;
                    }
            }
            row[kb] = any_true && any_false ? FOKUS_BLOCK_PARTIAL : any_true ? FOKUS_BLOCK_FULL : FOKUS_BLOCK_EMPTY;
        }
    }
    fokus_free(regs);
}

fokus_status fokus_block_mask_build(fokus_ctx *ctx, const fokus_mod_program *mask, int64_t B, int64_t H,
                                    int64_t Nq, int64_t Nk, int bq, int bk, fokus_block_mask *out,
                                    fokus_error *err)
{
    memset(out, 0, sizeof *out);
    if (!mask || mask->kind != FOKUS_MOD_KIND_MASK)
        return fokus_fail(err, FOKUS_EINVAL, "block_mask: expected a mask program");
    if (B < 1 || H < 1 || Nq < 0 || Nk < 0)
        return fokus_fail(err, FOKUS_EINVAL, "block_mask: shape %lldx%lldx%lldx%lld, expected B, H >= 1 and Nq, Nk >= 0",
                          (long long)B, (long long)H, (long long)Nq, (long long)Nk);
    if (bq < 16 || bq > 64 || bq % 16 || bk < 16 || bk > 64 || bk % 16)
        return fokus_fail(err, FOKUS_EINVAL, "block_mask: block sizes %d x %d, expected 16, 32, 48 or 64", bq, bk);
    fokus_mod_bound mb;
    fokus_status st = fokus_mod_bind(ctx, mask, "block_mask: mask_mod", B, H, Nq, Nk, &mb, err);
    if (st) return st;
    out->B = B;
    out->H = H;
    out->Nq = Nq;
    out->Nk = Nk;
    out->Bm = (mask->uses & (1u << FOKUS_MOD_B)) ? B : 1;
    out->Hm = (mask->uses & (1u << FOKUS_MOD_H)) ? H : 1;
    out->bq = bq;
    out->bk = bk;
    out->nqb = (Nq + bq - 1) / bq;
    out->nkb = (Nk + bk - 1) / bk;
    size_t n;
    if (__builtin_mul_overflow((size_t)out->Bm, (size_t)out->Hm, &n) ||
        __builtin_mul_overflow(n, (size_t)out->nqb, &n) || __builtin_mul_overflow(n, (size_t)out->nkb, &n)) {
        fokus_mod_unbind(&mb);
        memset(out, 0, sizeof *out);
        return fokus_fail(err, FOKUS_ENOMEM, "block_mask: too many tiles");
    }
    out->cls = (uint8_t *)fokus_alloc(n ? n : 1);
    if (!out->cls) st = fokus_fail(err, FOKUS_ENOMEM, "block_mask: out of memory");
    else st = fokus_mod_program_copy(&out->mask, mask, err);
    if (st) {
        fokus_mod_unbind(&mb);
        fokus_block_mask_free(out);
        return st;
    }
    bm_task task = {&mb, out, ctx, false};
    const int64_t items = out->Bm * out->Hm * out->nqb;
    if (items > 0 && out->nkb > 0) {
        if (ctx && items > 1)
            fokus_parallel(ctx, items, 1, bm_range, &task);
        else
            bm_range(&task, 0, items, 0);
    }
    fokus_mod_unbind(&mb);
    if (task.nomem) {
        fokus_block_mask_free(out);
        return fokus_fail(err, FOKUS_ENOMEM, "block_mask: out of memory");
    }
    if (fokus_ctx_interrupted(ctx)) {
        fokus_block_mask_free(out);
        return fokus_fail(err, FOKUS_EINTERRUPT, "block_mask: interrupted");
    }
    for (size_t i = 0; i < n; i++) out->counts[out->cls[i]]++;
    return FOKUS_OK;
}

void fokus_block_mask_free(fokus_block_mask *m)
{
    if (!m) return;
    fokus_free(m->cls);
    fokus_mod_program_free(&m->mask);
    memset(m, 0, sizeof *m);
}
