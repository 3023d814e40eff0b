/*
 * fokus_attend: argument checks, broadcasting, f32 copies, scratch and threading.
 *
 * The arithmetic lives in attention_kernel.c; this file turns tensors of any float
 * dtype and any strides into what the kernels read (4-d stride views; K and V as f32
 * rows with unit stride), reserves all scratch before the parallel region, and hands
 * out work items (batch, head, query block) to the context's pool.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attention_internal.h"

/* Query block and key tile sizes of the SIMD kernel (see attention_kernel.c for why). */
#define ATTN_BR 64
#define ATTN_BC 64
/* Below this many flops a call runs on the calling thread: waking the pool costs more
 * than it saves (a 1 MFLOP call takes ~10 us on one core). */
#define ATTN_INLINE_FLOPS 1.0e6
/* The causal comparison i + off >= j is done in int32 lanes. */
#define ATTN_MAX_N ((int64_t)1 << 30)

static const char *dtn(fokus_dtype dt)
{
    return fokus_dtype_name(dt);
}

/* Fills the 4-d stride view of q/k/v (rank 3 gets a batch of 1 with stride 0). */
static void view_of(const fokus_tensor *t, int rank, fokus_attn_src *s)
{
    s->data = (const char *)t->data;
    s->dtype = t->dtype;
    if (rank == 4) {
        for (int i = 0; i < 4; i++) s->s[i] = t->stride[i];
    } else {
        s->s[0] = 0;
        for (int i = 0; i < 3; i++) s->s[i + 1] = t->stride[i];
    }
}

static fokus_status check_qkv(const char *name, const fokus_tensor *t, fokus_error *err)
{
    if (!t) return fokus_fail(err, FOKUS_EINVAL, "attend: %s is NULL", name);
    if (t->ndim != 3 && t->ndim != 4)
        return fokus_fail(err, FOKUS_EINVAL, "attend: %s must be 3-d or 4-d, got %d-d", name, t->ndim);
    if (!fokus_dtype_is_float(t->dtype))
        return fokus_fail(err, FOKUS_EINVAL, "attend: %s has dtype %s, expected f32, f16 or bf16", name,
                          dtn(t->dtype));
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 0)
            return fokus_fail(err, FOKUS_EINVAL, "attend: %s has a negative dimension", name);
    if (!t->data && fokus_tensor_numel(t) > 0)
        return fokus_fail(err, FOKUS_EINVAL, "attend: %s has no data", name);
    return FOKUS_OK;
}

/* numpy broadcasting of bias/mask against the output logits [B?, H, Nq, Nk] (rank
 * dims): trailing dims aligned, size-1 or missing dims get stride 0, dims beyond the
 * rank must be 1. Never materialised: the kernels read through the strides. */
static fokus_status broadcast_view(const char *name, const fokus_tensor *t, const fokus_attn_args *a,
                                   fokus_attn_src *s, fokus_error *err)
{
    const int64_t target[4] = {a->B, a->H, a->Nq, a->Nk};
    const int rank = a->rank, off = 4 - rank; /* target dims used: off..3 */
    char got[128], want[128];
    if (t->ndim > FOKUS_MAX_DIMS) return fokus_fail(err, FOKUS_EINVAL, "attend: %s has too many dims", name);
    if (!t->data && fokus_tensor_numel(t) > 0)
        return fokus_fail(err, FOKUS_EINVAL, "attend: %s has no data", name);
    s->data = (const char *)t->data;
    s->dtype = t->dtype;
    for (int i = 0; i < 4; i++) s->s[i] = 0;
    for (int td = t->ndim - 1, i = 3; td >= 0; td--, i--) {
        int64_t n = t->shape[td];
        bool ok;
        if (i >= off) {
            ok = n == 1 || n == target[i];
            if (ok && n != 1) s->s[i] = t->stride[td];
        } else {
            ok = n == 1; /* extra leading dims: only size 1 broadcasts to "nothing" */
        }
        if (!ok) {
            fokus_shape_str(t, got, sizeof got);
            if (rank == 4)
                snprintf(want, sizeof want, "%lldx%lldx%lldx%lld", (long long)a->B, (long long)a->H,
                         (long long)a->Nq, (long long)a->Nk);
            else
                snprintf(want, sizeof want, "%lldx%lldx%lld", (long long)a->H, (long long)a->Nq,
                         (long long)a->Nk);
            return fokus_fail(err, FOKUS_EINVAL, "attend: %s of shape %s does not broadcast to %s", name,
                              got, want);
        }
    }
    return FOKUS_OK;
}

/* score_mod / mask_mod / block_mask: kinds, and a block mask that fits the call. */
static fokus_status parse_mods(const fokus_attend_opts *opts, fokus_attn_args *a, fokus_error *err)
{
    if (opts->score_mod && opts->score_mod->kind != FOKUS_MOD_KIND_SCORE)
        return fokus_fail(err, FOKUS_EINVAL, "attend: score_mod is a mask program, expected a score program");
    if (opts->mask_mod && opts->mask_mod->kind != FOKUS_MOD_KIND_MASK)
        return fokus_fail(err, FOKUS_EINVAL, "attend: mask_mod is a score program, expected a mask program");
    a->score_mod = opts->score_mod;
    a->mask_mod = opts->mask_mod;
    const fokus_block_mask *bm = opts->block_mask;
    if (bm) {
        /* a mask that ignores b (h) was stored once for all batches (heads): it fits
         * any B (H) */
        if ((bm->B != a->B && bm->Bm != 1) || (bm->H != a->H && bm->Hm != 1) || bm->Nq != a->Nq || bm->Nk != a->Nk)
            return fokus_fail(err, FOKUS_EINVAL,
                              "attend: block_mask was built for %lldx%lldx%lldx%lld logits, this call has %lldx%lldx%lldx%lld",
                              (long long)bm->B, (long long)bm->H, (long long)bm->Nq, (long long)bm->Nk,
                              (long long)a->B, (long long)a->H, (long long)a->Nq, (long long)a->Nk);
        if (a->mask_mod && !fokus_mod_program_equal(a->mask_mod, &bm->mask))
            return fokus_fail(err, FOKUS_EINVAL, "attend: block_mask was built from a different mask_mod");
        a->mask_mod = &bm->mask;
        a->block_mask = bm;
    }
    return FOKUS_OK;
}

fokus_status fokus_attn_parse(const fokus_tensor *q, const fokus_tensor *k, const fokus_tensor *v,
                              const fokus_attend_opts *opts, const fokus_tensor *out,
                              const fokus_tensor *lse, const fokus_tensor *probs,
                              fokus_attn_args *a, fokus_error *err)
{
    static const fokus_attend_opts defaults = {0};
    fokus_status st;
    if (!opts) opts = &defaults;
    memset(a, 0, sizeof *a);
    if ((st = check_qkv("q", q, err)) || (st = check_qkv("k", k, err)) || (st = check_qkv("v", v, err)))
        return st;
    if (k->ndim != q->ndim)
        return fokus_fail(err, FOKUS_EINVAL, "attend: k is %d-d, q is %d-d", k->ndim, q->ndim);
    if (v->ndim != q->ndim)
        return fokus_fail(err, FOKUS_EINVAL, "attend: v is %d-d, q is %d-d", v->ndim, q->ndim);
    const int r = q->ndim, o = r - 3; /* o: index offset of the head dim */
    a->rank = r;
    a->B = r == 4 ? q->shape[0] : 1;
    a->H = q->shape[o];
    a->Nq = q->shape[o + 1];
    a->d = q->shape[o + 2];
    a->Hkv = k->shape[o];
    a->Nk = k->shape[o + 1];
    a->dv = v->shape[o + 2];
    if (r == 4 && k->shape[0] != a->B)
        return fokus_fail(err, FOKUS_EINVAL, "attend: k has batch %lld, q has %lld", (long long)k->shape[0],
                          (long long)a->B);
    if (r == 4 && v->shape[0] != a->B)
        return fokus_fail(err, FOKUS_EINVAL, "attend: v has batch %lld, q has %lld", (long long)v->shape[0],
                          (long long)a->B);
    if (k->shape[o + 2] != a->d)
        return fokus_fail(err, FOKUS_EINVAL, "attend: k has head dim %lld, q has %lld",
                          (long long)k->shape[o + 2], (long long)a->d);
    if (v->shape[o] != a->Hkv)
        return fokus_fail(err, FOKUS_EINVAL, "attend: v has %lld heads, k has %lld", (long long)v->shape[o],
                          (long long)a->Hkv);
    if (v->shape[o + 1] != a->Nk)
        return fokus_fail(err, FOKUS_EINVAL, "attend: v has %lld keys, k has %lld",
                          (long long)v->shape[o + 1], (long long)a->Nk);
    if (a->Hkv < 1 || a->H % a->Hkv != 0)
        return fokus_fail(err, FOKUS_EINVAL, "attend: q has %lld heads, not a multiple of k's %lld",
                          (long long)a->H, (long long)a->Hkv);
    if (a->d < 1 || a->d > 256)
        return fokus_fail(err, FOKUS_EINVAL, "attend: head dim d = %lld, expected 1..256", (long long)a->d);
    if (a->dv < 1 || a->dv > 256)
        return fokus_fail(err, FOKUS_EINVAL, "attend: v head dim dv = %lld, expected 1..256",
                          (long long)a->dv);
    if (a->Nq > ATTN_MAX_N || a->Nk > ATTN_MAX_N)
        return fokus_fail(err, FOKUS_EINVAL, "attend: %lld queries and %lld keys, at most 2^30 each",
                          (long long)a->Nq, (long long)a->Nk);
    view_of(q, r, &a->q);
    view_of(k, r, &a->k);
    view_of(v, r, &a->v);

    if (!isfinite(opts->scale))
        return fokus_fail(err, FOKUS_EINVAL, "attend: scale must be finite, got %g", opts->scale);
    a->scale = opts->scale != 0 ? opts->scale : 1.0 / sqrt((double)a->d);
    switch (opts->causal) {
    case FOKUS_CAUSAL_NONE: break;
    case FOKUS_CAUSAL_TOP_LEFT: a->causal_off = 0; break;
    case FOKUS_CAUSAL_BOTTOM_RIGHT: a->causal_off = a->Nk - a->Nq; break;
    default: return fokus_fail(err, FOKUS_EINVAL, "attend: causal mode %d unknown", (int)opts->causal);
    }
    a->causal = opts->causal;

    if (opts->bias) {
        if (!fokus_dtype_is_float(opts->bias->dtype))
            return fokus_fail(err, FOKUS_EINVAL, "attend: bias has dtype %s, expected f32, f16 or bf16",
                              dtn(opts->bias->dtype));
        if ((st = broadcast_view("bias", opts->bias, a, &a->bias, err))) return st;
        a->has_bias = true;
    }
    if (opts->mask) {
        if (opts->mask->dtype != FOKUS_BOOL && opts->mask->dtype != FOKUS_U8)
            return fokus_fail(err, FOKUS_EINVAL, "attend: mask has dtype %s, expected bool or u8",
                              dtn(opts->mask->dtype));
        if ((st = broadcast_view("mask", opts->mask, a, &a->mask, err))) return st;
        a->has_mask = true;
    }
    a->want_lse = opts->want_lse;
    a->want_probs = opts->want_probs;
    if ((st = parse_mods(opts, a, err))) return st;
    if (!out) return fokus_fail(err, FOKUS_EINVAL, "attend: out is NULL");
    if (a->want_lse && !lse) return fokus_fail(err, FOKUS_EINVAL, "attend: want_lse but lse is NULL");
    if (a->want_probs && !probs)
        return fokus_fail(err, FOKUS_EINVAL, "attend: want_probs but probs is NULL");
    return FOKUS_OK;
}

fokus_status fokus_attn_alloc_outputs(fokus_ctx *ctx, const fokus_attn_args *a, fokus_tensor *out,
                                      fokus_tensor *lse, fokus_tensor *probs, fokus_error *err)
{
    const int r = a->rank, o = r - 3;
    int64_t shape[4];
    fokus_tensor t_out = {0}, t_lse = {0}, t_probs = {0};
    fokus_status st;
    if (r == 4) shape[0] = a->B;
    shape[o] = a->H;
    shape[o + 1] = a->Nq;
    shape[o + 2] = a->dv;
    if (out && (st = fokus_tensor_empty_ctx(ctx, &t_out, FOKUS_F32, r, shape, err))) goto fail;
    if (a->want_lse && (st = fokus_tensor_empty_ctx(ctx, &t_lse, FOKUS_F32, r - 1, shape, err))) goto fail;
    shape[o + 2] = a->Nk;
    /* zero-filled: causal blocks above the diagonal are never visited */
    if (a->want_probs && (st = fokus_tensor_new_ctx(ctx, &t_probs, FOKUS_F32, r, shape, err))) goto fail;
    if (out) *out = t_out;
    if (a->want_lse) *lse = t_lse;
    if (a->want_probs) *probs = t_probs;
    return FOKUS_OK;
fail:
    fokus_tensor_release(&t_out);
    fokus_tensor_release(&t_lse);
    fokus_tensor_release(&t_probs);
    return fokus_fail_prefix(err, st, "attend");
}

/* Copies a [B, heads, N, cols] view (any dtype, any strides) into dense f32 rows. */
static void to_f32_rows(const fokus_attn_src *s, int64_t B, int64_t heads, int64_t n, int64_t cols,
                        float *dst)
{
    const size_t es = fokus_dtype_size(s->dtype);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t i = 0; i < n; i++) {
                const char *row = s->data + (size_t)(b * s->s[0] + h * s->s[1] + i * s->s[2]) * es;
                if (s->s[3] == 1 && s->dtype == FOKUS_F16)
                    fokus_f16_to_f32_n(dst, (const uint16_t *)row, (size_t)cols);
                else if (s->s[3] == 1 && s->dtype == FOKUS_BF16)
                    fokus_bf16_to_f32_n(dst, (const uint16_t *)row, (size_t)cols);
                else
                    for (int64_t c = 0; c < cols; c++) dst[c] = fokus_attn_loadf(row, s->dtype, c * s->s[3]);
                dst += cols;
            }
}

/* K or V as the kernels want them: used in place when already f32 rows with unit
 * stride; otherwise copied into `buf` (which then must hold B*heads*n*cols floats). */
static const float *kv_rows(const fokus_attn_src *s, int64_t B, int64_t heads, int64_t n, int64_t cols,
                            float *buf, int64_t strides[3])
{
    if (s->dtype == FOKUS_F32 && (s->s[3] == 1 || cols == 1)) {
        for (int i = 0; i < 3; i++) strides[i] = s->s[i];
        return (const float *)s->data;
    }
    to_f32_rows(s, B, heads, n, cols, buf);
    strides[2] = cols;
    strides[1] = n * cols;
    strides[0] = heads * n * cols;
    return buf;
}

static bool kv_needs_copy(const fokus_attn_src *s, int64_t cols)
{
    return !(s->dtype == FOKUS_F32 && (s->s[3] == 1 || cols == 1));
}

typedef struct attn_task {
    const fokus_attn_job *job;
    fokus_ctx *ctx;
    float *own_scratch;   /* when there is no context */
    size_t scratch_bytes;
    int variant;
} attn_task;

static void attn_range(void *argp, int64_t begin, int64_t end, int worker)
{
    const attn_task *t = (const attn_task *)argp;
    float *scratch = t->own_scratch
                         ? t->own_scratch
                         : (float *)fokus_ctx_scratch(t->ctx, FOKUS_SCRATCH_ATTN, worker, t->scratch_bytes);
    for (int64_t it = begin; it < end; it++) {
        if (fokus_ctx_interrupted(t->ctx)) return;
        if (t->variant == FOKUS_ATTN_SIMD)
            fokus_attn_item_simd(t->job, it, scratch);
        else
            fokus_attn_item_scalar(t->job, it, scratch);
    }
}

/* The caller's output of fokus_attend_into: f32, the right shape, distinct elements,
 * not overlapping the inputs (other work items still read q, k, v while one writes
 * its rows). The common contract of every `out` (fokus_out_check). */
static fokus_status check_into(const fokus_attn_args *a, const fokus_tensor *out, const fokus_tensor *q,
                               const fokus_tensor *k, const fokus_tensor *v, fokus_error *err)
{
    const int r = a->rank, o = r - 3;
    int64_t shape[4];
    if (r == 4) shape[0] = a->B;
    shape[o] = a->H;
    shape[o + 1] = a->Nq;
    shape[o + 2] = a->dv;
    const fokus_tensor *ins[3] = {q, k, v};
    return fokus_out_check("attend", out, FOKUS_F32, r, shape, ins, 3, err);
}

fokus_status fokus_attend_variant(fokus_ctx *ctx, const fokus_tensor *q, const fokus_tensor *k,
                                  const fokus_tensor *v, const fokus_attend_opts *opts,
                                  fokus_tensor *out, fokus_tensor *lse, fokus_tensor *probs,
                                  int variant, bool into, fokus_error *err)
{
    fokus_attn_args a;
    fokus_status st = fokus_attn_parse(q, k, v, opts, out, lse, probs, &a, err);
    if (st) return st;
    if (into && (st = check_into(&a, out, q, k, v, err))) return st;
    if (variant == FOKUS_ATTN_AUTO) variant = fokus_attn_simd_native() ? FOKUS_ATTN_SIMD : FOKUS_ATTN_SCALAR;

    fokus_tensor t_out = {0}, t_lse = {0}, t_probs = {0};
    if ((st = fokus_attn_alloc_outputs(ctx, &a, into ? NULL : &t_out, &t_lse, &t_probs, err))) return st;

    fokus_attn_job job;
    memset(&job, 0, sizeof job);
    job.a = &a;
    {
        const fokus_tensor *ot = into ? out : &t_out;
        const int o = 4 - a.rank;
        job.out = (float *)ot->data;
        job.os[0] = 0;
        for (int i = 0; i < a.rank; i++) job.os[i + o] = ot->stride[i];
    }
    job.lse = a.want_lse ? (float *)t_lse.data : NULL;
    job.probs = a.want_probs ? (float *)t_probs.data : NULL;
    job.qscale = (float)(a.scale * 1.4426950408889634);
    job.ctx = ctx;
    /* Query blocks: as few as 64-row blocks need, with the rows spread evenly and
     * rounded up to 16 lanes, so 77 queries become 48 + 29 (3 + 2 vectors) rather
     * than 64 + 13 (a 1-vector block runs the QK^T kernel load-bound). */
    {
        int64_t nb = (a.Nq + ATTN_BR - 1) / ATTN_BR;
        if (nb < 1) nb = 1;
        int64_t per = (a.Nq + nb - 1) / nb;
        job.br = (int)((per + 15) / 16 * 16);
        if (job.br < 16) job.br = 16;
        job.nqb = (a.Nq + job.br - 1) / job.br;
    }
    job.bc = ATTN_BC;

    /* mods: bind the programs (f32 copies of their tensors) and, for a mask without a
     * block mask, classify the tiles now; the kernel then tiles as the block mask does */
    fokus_mod_bound mb_score, mb_mask;
    fokus_block_mask own_bm;
    memset(&mb_score, 0, sizeof mb_score);
    memset(&mb_mask, 0, sizeof mb_mask);
    memset(&own_bm, 0, sizeof own_bm);
    if (a.score_mod && (st = fokus_mod_bind(ctx, a.score_mod, "attend: score_mod", a.B, a.H, a.Nq, a.Nk, &mb_score, err)))
        goto fail_mods;
    if (a.mask_mod) {
        if ((st = fokus_mod_bind(ctx, a.mask_mod, "attend: mask_mod", a.B, a.H, a.Nq, a.Nk, &mb_mask, err)))
            goto fail_mods;
        if (!a.block_mask) {
            if ((st = fokus_block_mask_build(ctx, a.mask_mod, a.B, a.H, a.Nq, a.Nk, ATTN_BR, ATTN_BC, &own_bm, err)))
                goto fail_mods;
            a.block_mask = &own_bm;
        }
        job.mask = &mb_mask;
        job.bm = a.block_mask;
        job.br = job.bm->bq;
        job.bc = job.bm->bk;
        job.nqb = job.bm->nqb;
    }
    if (a.score_mod) job.score = &mb_score;
    const int64_t items = a.B * a.H * job.nqb;

    /* f32 copies of K/V when needed, into the context's shared scratch (reused across
     * calls). Done before the parallel region; O(N d), small next to O(N^2 d). */
    const bool ck = kv_needs_copy(&a.k, a.d), cv = kv_needs_copy(&a.v, a.dv);
    size_t kn = 0, vn = 0, copy_bytes = 0;
    {
        /* k/v may be stride-0 views whose logical size was never allocated: check */
        size_t rows;
        bool ovf = __builtin_mul_overflow((size_t)a.B, (size_t)a.Hkv, &rows) ||
                   __builtin_mul_overflow(rows, (size_t)a.Nk, &rows) ||
                   __builtin_mul_overflow(rows, (size_t)a.d, &kn) ||
                   __builtin_mul_overflow(rows, (size_t)a.dv, &vn) ||
                   __builtin_add_overflow((ck ? kn : 0), (cv ? vn : 0) + 32, &copy_bytes) ||
                   __builtin_mul_overflow(copy_bytes, sizeof(float), &copy_bytes);
        if (ovf) {
            st = fokus_fail(err, FOKUS_ENOMEM, "attend: f32 copy of k/v would overflow the address space");
            goto fail_mods;
        }
    }
    const size_t scratch_bytes = fokus_attn_scratch_bytes(&job);
    const int nt = fokus_ctx_threads(ctx);
    float *copy = NULL, *own = NULL;
    bool own_copy = false;
    if (ck || cv) {
        copy = ctx ? (float *)fokus_ctx_scratch(ctx, FOKUS_SCRATCH_ATTN2, nt, copy_bytes) : NULL;
        if (!copy) {
            copy = (float *)fokus_alloc(copy_bytes);
            own_copy = true;
        }
        if (!copy) goto nomem;
    }
    if (ctx) {
        for (int w = 0; w < nt; w++)
            if (!fokus_ctx_scratch(ctx, FOKUS_SCRATCH_ATTN, w, scratch_bytes)) goto nomem;
    } else if (!(own = (float *)fokus_alloc(scratch_bytes))) {
        goto nomem;
    }
    {
        /* the V copy starts on a 64-byte boundary after the K copy */
        float *vbuf = copy ? copy + ((ck ? kn : 0) + 15) / 16 * 16 : NULL;
        job.k = kv_rows(&a.k, a.B, a.Hkv, a.Nk, a.d, copy, job.ks);
        job.v = kv_rows(&a.v, a.B, a.Hkv, a.Nk, a.dv, vbuf, job.vs);
    }

    attn_task task = {&job, ctx, own, scratch_bytes, variant};
    double flops = 4.0 * (double)a.B * (double)a.H * (double)a.Nq * (double)a.Nk * (double)(a.d + a.dv) / 2;
    if (items > 0) {
        if (flops < ATTN_INLINE_FLOPS || !ctx)
            attn_range(&task, 0, items, 0);
        else
            fokus_parallel(ctx, items, 1, attn_range, &task);
    }
    if (own_copy) fokus_free(copy);
    fokus_free(own);
    fokus_mod_unbind(&mb_score);
    fokus_mod_unbind(&mb_mask);
    fokus_block_mask_free(&own_bm);
    if (fokus_ctx_interrupted(ctx)) {
        fokus_tensor_release(&t_out);
        fokus_tensor_release(&t_lse);
        fokus_tensor_release(&t_probs);
        return fokus_fail(err, FOKUS_EINTERRUPT, "attend: interrupted");
    }
    if (!into) *out = t_out;
    if (a.want_lse) *lse = t_lse;
    if (a.want_probs) *probs = t_probs;
    return FOKUS_OK;

nomem:
    if (own_copy) fokus_free(copy);
    fokus_free(own);
    st = fokus_fail(err, FOKUS_ENOMEM, "attend: out of memory for scratch");
fail_mods:
    fokus_mod_unbind(&mb_score);
    fokus_mod_unbind(&mb_mask);
    fokus_block_mask_free(&own_bm);
    fokus_tensor_release(&t_out);
    fokus_tensor_release(&t_lse);
    fokus_tensor_release(&t_probs);
    return st;
}

fokus_status fokus_attend(fokus_ctx *ctx, const fokus_tensor *q, const fokus_tensor *k,
                          const fokus_tensor *v, const fokus_attend_opts *opts, fokus_tensor *out,
                          fokus_tensor *lse, fokus_tensor *probs, fokus_error *err)
{
    return fokus_attend_variant(ctx, q, k, v, opts, out, lse, probs, FOKUS_ATTN_AUTO, false, err);
}

fokus_status fokus_attend_into(fokus_ctx *ctx, const fokus_tensor *q, const fokus_tensor *k,
                               const fokus_tensor *v, const fokus_attend_opts *opts, fokus_tensor *out,
                               fokus_tensor *lse, fokus_tensor *probs, fokus_error *err)
{
    return fokus_attend_variant(ctx, q, k, v, opts, out, lse, probs, FOKUS_ATTN_AUTO, true, err);
}
