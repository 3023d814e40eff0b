/*
 * Attention tile kernels: one work item = one (batch, head, block of <= 64 queries)
 * against all keys, flash-style (online softmax over key tiles), so memory is O(N d).
 *
 * Layout choice — queries in the SIMD lanes. Q is packed TRANSPOSED once per item,
 * Qt[c][i] (pre-multiplied by scale * log2 e), and every score tile is kept as
 * S^T[j][i]: 16 queries per vector, one key per vector row. Then
 *   - QK^T is a register block of 6 keys x 4 query vectors (24 accumulators): per
 *     step c, 4 unit-stride loads of Qt and 6 broadcasts of K[j][c] straight from the
 *     K rows, so K and V are read in place (no per-tile transpose or packing of K);
 *   - the softmax reductions over keys are plain vertical max/add between vectors,
 *     and the running max m, running sum l and the rescale factor are per-lane
 *     vectors — no horizontal reductions anywhere in the hot loop;
 *   - P·V accumulates O^T[c][i] += V[j][c] * P^T[j][i]: broadcast V elements, vector
 *     P rows, again 6 x 4 accumulators;
 *   - ragged Nk and any d, dv are loop bounds (blocks of 6 with remainder variants),
 *     only Nq is padded, to a multiple of 16 per block (77 queries -> blocks of 48
 *     and 29 queries, 3 + 2 vectors, never a 64- or 128-row tile).
 * O^T is transposed back once per item when the output is written.
 *
 * Online softmax in base 2 with a lazy rescale: the reference max m used for exp2 is
 * only raised when a tile's max exceeds it by more than 8 (so p <= 2^8, harmless in
 * float32); then l and O^T are multiplied by exp2(m_old - m_new). After the first
 * tiles this almost never happens, which removes the rescale from the hot loop.
 *
 * Masking: scores that are masked (causal, boolean mask, -inf bias) become -inf before
 * the max; exp2(-inf) is exactly 0 (see simd_math.h). A lane whose reference max is
 * still -inf uses 0 as the reference, so a fully masked row ends with l = 0, giving
 * out 0 and lse -inf. Causal tiles above the diagonal are skipped entirely (the key
 * loop stops at the last visible key of the block); only tiles that straddle the
 * diagonal pay for the per-element compare.
 *
 * NaN: a visible NaN score (or +inf: inf - inf) must make its query row NaN, as in the
 * reference and PyTorch. The exp2 gives NaN for NaN, so such a row ends with l = NaN
 * by itself (the lazy max skips NaN; harmless in a row that is NaN anyway). A masked
 * NaN must not count, but the boolean mask and -inf bias ADD -inf (NaN + -inf is
 * NaN), so after the item every row with l = NaN is recomputed by the scalar row
 * code, which replaces masked scores by -inf and decides. Finite inputs never get
 * there: their steps and bits are unchanged, and the hot loops gain nothing.
 * NaN in V propagates through P.V (0 * NaN included, as in PyTorch's matmul).
 *
 * Tile sizes: 64 queries x 64 keys. Per worker the hot set is Qt (16 KiB at d 64),
 * the S^T tile (16 KiB), the O^T accumulator (16 KiB) and the K/V rows of the tile,
 * about L1 (48 KiB) plus a little L2; K and V of a head stream from L2/L3, and the
 * next K/V tile is prefetched while the current one computes. Key tiles of 32 to
 * 128 measured the same within noise at (8, 4096, 4096, 64).
 */
#include <math.h>
#include <string.h>

#include "attention_internal.h"
#include "linalg/simd_math.h"

#define KB 6             /* keys per QK register block */
#define VB 6             /* V columns per PV register block */
#define MAXR 4           /* query vectors per item (64 queries) */
#define LAZY_RESCALE 8.0f /* log2 units: the reference max may lag the true max by 2^8 */

#define FORCE_INLINE static inline __attribute__((always_inline))

/* 16 x 16 transpose in registers (unpack within 128-bit lanes, then 128-bit lane
 * shuffles): 64 shuffles per 256 floats instead of 256 scalar strided stores. Used
 * where the kernel changes layout once per item (packing Q, writing out), which is
 * a visible cost when Nk is short (4096 x 77). */
FORCE_INLINE void transpose16(simde__m512 r[16])
{
    simde__m512 t[16], u[16];
    for (int k = 0; k < 8; k++) {
        t[2 * k] = simde_mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = simde_mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    /* u[4k + m], 128-bit lane L: column 4L + m of rows 4k .. 4k + 3 */
    for (int k = 0; k < 4; k++) {
        simde__m512d a = simde_mm512_castps_pd(t[4 * k]), b = simde_mm512_castps_pd(t[4 * k + 2]);
        simde__m512d c = simde_mm512_castps_pd(t[4 * k + 1]), d = simde_mm512_castps_pd(t[4 * k + 3]);
        u[4 * k + 0] = simde_mm512_castpd_ps(simde_mm512_unpacklo_pd(a, b));
        u[4 * k + 1] = simde_mm512_castpd_ps(simde_mm512_unpackhi_pd(a, b));
        u[4 * k + 2] = simde_mm512_castpd_ps(simde_mm512_unpacklo_pd(c, d));
        u[4 * k + 3] = simde_mm512_castpd_ps(simde_mm512_unpackhi_pd(c, d));
    }
    for (int m = 0; m < 4; m++) {
        simde__m512 v0 = simde_mm512_shuffle_f32x4(u[m], u[4 + m], 0x88);
        simde__m512 v1 = simde_mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
        simde__m512 v2 = simde_mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
        simde__m512 v3 = simde_mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
        r[m] = simde_mm512_shuffle_f32x4(v0, v1, 0x88);
        r[m + 8] = simde_mm512_shuffle_f32x4(v0, v1, 0xDD);
        r[m + 4] = simde_mm512_shuffle_f32x4(v2, v3, 0x88);
        r[m + 12] = simde_mm512_shuffle_f32x4(v2, v3, 0xDD);
    }
}

/* ---------------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------------- */

/* Per-item geometry. */
typedef struct item_geom {
    int64_t b, h, g;      /* batch, query head, kv head */
    int64_t i0;           /* first query */
    int nq;               /* queries in this item */
    int R;                /* query vectors: ceil(nq / 16) */
    int ld;               /* lanes = 16 R: row length of Qt, S^T, O^T */
    int64_t kend;         /* keys [0, kend) can be visible to some query of the item */
} item_geom;

static void geom_of(const fokus_attn_job *job, int64_t item, item_geom *g)
{
    const fokus_attn_args *a = job->a;
    int64_t blk = item % job->nqb, bh = item / job->nqb;
    /* causal: later query blocks see more keys; start them first for load balance */
    if (a->causal) blk = job->nqb - 1 - blk;
    g->h = bh % a->H;
    g->b = bh / a->H;
    g->g = g->h / (a->H / a->Hkv);
    g->i0 = blk * job->br;
    g->nq = (int)(a->Nq - g->i0 < job->br ? a->Nq - g->i0 : job->br);
    g->R = (g->nq + 15) / 16;
    g->ld = 16 * g->R;
    g->kend = a->Nk;
    if (a->causal) {
        int64_t last = g->i0 + g->nq - 1 + a->causal_off + 1;
        g->kend = last < 0 ? 0 : last < a->Nk ? last : a->Nk;
    }
}

/* Additive term of score (i, j) in log2 units: bias * log2 e, -inf when the boolean
 * mask says no. Read through broadcast strides; nothing is materialised. */
static inline float extra_at(const fokus_attn_args *a, int64_t b, int64_t h, int64_t i, int64_t j)
{
    float x = 0.0f;
    if (a->has_mask) {
        const fokus_attn_src *m = &a->mask;
        if (!m->data[b * m->s[0] + h * m->s[1] + i * m->s[2] + j * m->s[3]]) return -INFINITY;
    }
    if (a->has_bias) {
        const fokus_attn_src *s = &a->bias;
        x = fokus_attn_loadf(s->data, s->dtype, b * s->s[0] + h * s->s[1] + i * s->s[2] + j * s->s[3]) *
            1.4426950408889634f;
    }
    return x;
}

/* extra_at for keys j0 .. j0 + jn - 1 of one query row, into dst (contiguous). The
 * row's base offsets are computed once; the inner loops only step the last stride. */
static void extra_row(const fokus_attn_args *a, int64_t b, int64_t h, int64_t i, int64_t j0, int jn, float *dst)
{
    const float log2e = 1.4426950408889634f;
    if (a->has_bias) {
        const fokus_attn_src *s = &a->bias;
        const int64_t st = s->s[3], o = b * s->s[0] + h * s->s[1] + i * s->s[2] + j0 * st;
        if (s->dtype == FOKUS_F32 && st == 1) { /* the common layout: a vectorisable copy */
            const float *p = (const float *)s->data + o;
            for (int jj = 0; jj < jn; jj++) dst[jj] = p[jj] * log2e;
        } else if (s->dtype == FOKUS_F32) {
            const float *p = (const float *)s->data + o;
            for (int jj = 0; jj < jn; jj++) dst[jj] = p[jj * st] * log2e;
        } else {
            for (int jj = 0; jj < jn; jj++) dst[jj] = fokus_attn_loadf(s->data, s->dtype, o + jj * st) * log2e;
        }
    } else {
        for (int jj = 0; jj < jn; jj++) dst[jj] = 0.0f;
    }
    if (a->has_mask) {
        const fokus_attn_src *m = &a->mask;
        const int64_t st = m->s[3];
        const char *p = m->data + b * m->s[0] + h * m->s[1] + i * m->s[2] + j0 * st;
        if (st == 1) {
            for (int jj = 0; jj < jn; jj++) dst[jj] = p[jj] ? dst[jj] : -INFINITY;
        } else {
            for (int jj = 0; jj < jn; jj++) dst[jj] = p[jj * st] ? dst[jj] : -INFINITY;
        }
    }
}

/* Fills E^T[jj][ii] = extra_at(i0 + ii, j0 + jj) for a tile; padded lanes get 0.
 * Bias and mask are read along their rows (key index), which is how they are laid
 * out, and turned into the lanes-are-queries layout with 16 x 16 register
 * transposes; a bias/mask that is the same for every query (key padding) is
 * computed once per tile and broadcast. X: 16 x bc floats of scratch. */
static void build_extra(const fokus_attn_args *a, const item_geom *g, int64_t j0, int jn, int bc, float *E,
                        float *X)
{
    const bool per_query = (a->has_bias && a->bias.s[2] != 0) || (a->has_mask && a->mask.s[2] != 0);
    if (!per_query) {
        extra_row(a, g->b, g->h, g->i0, j0, jn, X);
        for (int jj = 0; jj < jn; jj++) {
            simde__m512 v = simde_mm512_set1_ps(X[jj]);
            for (int r = 0; r < g->R; r++) simde_mm512_store_ps(E + (size_t)jj * g->ld + 16 * r, v);
        }
        /* padded lanes must not carry -inf into anything, but they are never read
         * back (only the nq valid lanes are written out), so the broadcast is fine */
        return;
    }
    for (int ii0 = 0; ii0 < g->ld; ii0 += 16) {
        for (int x = 0; x < 16; x++) {
            if (ii0 + x < g->nq)
                extra_row(a, g->b, g->h, g->i0 + ii0 + x, j0, jn, X + (size_t)x * bc);
            else
                for (int jj = 0; jj < jn; jj++) X[(size_t)x * bc + jj] = 0.0f;
        }
        int jj0 = 0;
        for (; jj0 + 16 <= jn; jj0 += 16) {
            simde__m512 r[16];
            for (int x = 0; x < 16; x++) r[x] = simde_mm512_loadu_ps(X + (size_t)x * bc + jj0);
            transpose16(r);
            for (int y = 0; y < 16; y++) simde_mm512_store_ps(E + (size_t)(jj0 + y) * g->ld + ii0, r[y]);
        }
        for (int jj = jj0; jj < jn; jj++)
            for (int x = 0; x < 16; x++) E[(size_t)jj * g->ld + ii0 + x] = X[(size_t)x * bc + jj];
    }
}

/* Qt[c][ii] = q[b, h, i0 + ii, c] * qscale, padded lanes 0. tmp: d floats or NULL. */
static void pack_qt(const fokus_attn_job *job, const item_geom *g, float *Qt, float *tmp)
{
    const fokus_attn_args *a = job->a;
    const fokus_attn_src *q = &a->q;
    const int64_t d = a->d;
    const float qs = job->qscale;
    const size_t es = fokus_dtype_size(q->dtype);
    int done_rows = 0;
    if (q->dtype == FOKUS_F32 && q->s[3] == 1 && d >= 16) {
        /* whole 16 x 16 blocks through the register transpose */
        const simde__m512 vs = simde_mm512_set1_ps(qs);
        const float *base = (const float *)q->data + g->b * q->s[0] + g->h * q->s[1] + g->i0 * q->s[2];
        for (; done_rows + 16 <= g->nq; done_rows += 16) {
            int64_t c0 = 0;
            for (; c0 + 16 <= d; c0 += 16) {
                simde__m512 r[16];
                for (int x = 0; x < 16; x++) {
                    /* q is read once per item, usually from L3/DRAM: fetch ahead */
                    __builtin_prefetch(base + (done_rows + 16 + x) * q->s[2] + c0);
                    r[x] = simde_mm512_loadu_ps(base + (done_rows + x) * q->s[2] + c0);
                }
                transpose16(r);
                for (int y = 0; y < 16; y++)
                    simde_mm512_store_ps(Qt + (c0 + y) * g->ld + done_rows, simde_mm512_mul_ps(r[y], vs));
            }
            for (int x = 0; x < 16; x++)
                for (int64_t c = c0; c < d; c++)
                    Qt[c * g->ld + done_rows + x] = base[(done_rows + x) * q->s[2] + c] * qs;
        }
    }
    for (int ii = done_rows; ii < g->nq; ii++) {
        const char *row = q->data + (size_t)(g->b * q->s[0] + g->h * q->s[1] + (g->i0 + ii) * q->s[2]) * es;
        if (q->dtype == FOKUS_F32 && q->s[3] == 1) {
            const float *r = (const float *)row;
            for (int64_t c = 0; c < d; c++) Qt[c * g->ld + ii] = r[c] * qs;
        } else if (q->s[3] == 1 && q->dtype != FOKUS_F32 && tmp) {
            /* half rows: widen with the bulk (vector) converter first */
            if (q->dtype == FOKUS_F16)
                fokus_f16_to_f32_n(tmp, (const uint16_t *)row, (size_t)d);
            else
                fokus_bf16_to_f32_n(tmp, (const uint16_t *)row, (size_t)d);
            for (int64_t c = 0; c < d; c++) Qt[c * g->ld + ii] = tmp[c] * qs;
        } else {
            for (int64_t c = 0; c < d; c++) Qt[c * g->ld + ii] = fokus_attn_loadf(row, q->dtype, c * q->s[3]) * qs;
        }
    }
    for (int64_t c = 0; c < d; c++)
        for (int ii = g->nq; ii < g->ld; ii++) Qt[c * g->ld + ii] = 0.0f;
}

/* Output row i of (b, h): out may be a strided view (fokus_attend_into). */
static inline float *out_row(const fokus_attn_job *job, int64_t b, int64_t h, int64_t i)
{
    return job->out + b * job->os[0] + h * job->os[1] + i * job->os[2];
}

/* Writes out[i][c] = O^T[c][i] / l[i] (0 when l = 0) and lse = (m + log2 l) ln 2. */
static void finish_rows(const fokus_attn_job *job, const item_geom *g, const float *Ot, const float *m,
                        const float *l)
{
    const fokus_attn_args *a = job->a;
    const int64_t dv = a->dv, oc = job->os[3];
    const int64_t row0 = (g->b * a->H + g->h) * a->Nq + g->i0;
    int ii0 = 0;
    for (; ii0 + 16 <= g->nq && dv >= 16 && oc == 1; ii0 += 16) {
        float inv[16];
        for (int x = 0; x < 16; x++) inv[x] = l[ii0 + x] > 0 ? 1.0f / l[ii0 + x] : 0.0f;
        int64_t c0 = 0;
        for (; c0 + 16 <= dv; c0 += 16) {
            simde__m512 r[16];
            for (int y = 0; y < 16; y++) r[y] = simde_mm512_load_ps(Ot + (c0 + y) * g->ld + ii0);
            transpose16(r);
            for (int x = 0; x < 16; x++)
                simde_mm512_storeu_ps(out_row(job, g->b, g->h, g->i0 + ii0 + x) + c0,
                                      simde_mm512_mul_ps(r[x], simde_mm512_set1_ps(inv[x])));
        }
        for (int x = 0; x < 16; x++) {
            float *o = out_row(job, g->b, g->h, g->i0 + ii0 + x);
            for (int64_t c = c0; c < dv; c++) o[c] = Ot[c * g->ld + ii0 + x] * inv[x];
        }
    }
    for (int ii = ii0; ii < g->nq; ii++) {
        float *o = out_row(job, g->b, g->h, g->i0 + ii);
        const float inv = l[ii] > 0 ? 1.0f / l[ii] : 0.0f;
        for (int64_t c = 0; c < dv; c++) o[c * oc] = Ot[c * g->ld + ii] * inv;
    }
    for (int ii = 0; ii < g->nq; ii++) {
        if (job->lse)
            job->lse[row0 + ii] =
                l[ii] > 0 ? (float)(((double)m[ii] + log2((double)l[ii])) * 0.6931471805599453) : -INFINITY;
    }
}

/* Scratch layout (floats), sized for the largest item of the job. */
typedef struct scratch_map {
    float *Qt, *S, *Ot, *E, *X, *m, *l, *tmax;
    float *regs;          /* registers of the score / mask programs, or NULL */
} scratch_map;

static size_t up16(size_t n)
{
    return (n + 15) / 16 * 16;
}

static size_t scratch_floats(const fokus_attn_job *job, scratch_map *map, float *base)
{
    const size_t br = (size_t)job->br, bc = (size_t)job->bc;
    size_t off = 0;
    size_t qt = off; off += up16((size_t)job->a->d * br);
    size_t s = off;  off += up16(bc * br);
    size_t ot = off; off += up16((size_t)job->a->dv * br);
    const bool extra = job->a->has_bias || job->a->has_mask;
    size_t e = off;  off += extra ? up16(bc * br) : 0;
    size_t x = off;  off += extra ? up16(16 * bc) : 0;
    size_t m = off;  off += up16(br);
    size_t l = off;  off += up16(br);
    size_t t = off;  off += up16(br);
    size_t ms = fokus_mod_scratch_floats(job->score), mm = fokus_mod_scratch_floats(job->mask);
    size_t rg = off; off += up16(ms + mm);
    if (map) {
        map->regs = (job->score || job->mask) ? base + rg : NULL;
        map->Qt = base + qt;
        map->S = base + s;
        map->Ot = base + ot;
        map->E = extra ? base + e : NULL;
        map->X = extra ? base + x : NULL;
        map->m = base + m;
        map->l = base + l;
        map->tmax = base + t;
    }
    return off;
}

size_t fokus_attn_scratch_bytes(const fokus_attn_job *job)
{
    /* the scalar kernel needs d + dv floats; the SIMD map is always larger */
    return scratch_floats(job, NULL, NULL) * sizeof(float) + 64;
}

/* ---------------------------------------------------------------------------------
 * SIMD kernel
 * ------------------------------------------------------------------------------- */

bool fokus_attn_simd_native(void)
{
    /* decided where SIMDe is included: without native AVX-512F SIMDe emulates every
     * 512-bit op in scalar code, and the plain scalar kernel is faster */
#if defined(SIMDE_X86_AVX512F_NATIVE)
    return true;
#else
    return false;
#endif
}

/* What a QK^T tile needs to know besides the operands. */
typedef struct qk_tile {
    const float *Qt;      /* [d][ld] */
    const float *K;       /* row j0 of this head's K */
    int64_t ks;           /* K row stride */
    int d, ld;
    float *S;             /* [jn][ld] out */
    const float *E;       /* [jn][ld] additive term or NULL */
    int diag;             /* causal tile that straddles the diagonal */
    int64_t jabs0;        /* absolute index of key row 0 of the tile */
    int64_t ivis0;        /* i0 + causal_off: lane t of vector r sees keys j <= ivis0 + 16 r + t */
    float *tmax;          /* [ld] running max of this tile, or NULL */
} qk_tile;

/* S^T rows jb..jb+C-1 = K rows x Qt, then the epilogue: + extra, causal -inf, tile max.
 * R and C are compile-time constants in every instantiation, so acc[][] lives in
 * registers (24 zmm at 6 x 4, plus 4 for Qt and 1 broadcast). */
FORCE_INLINE void qk_block(const qk_tile *t, int jb, const int R, const int C)
{
    simde__m512 acc[KB][MAXR];
    const float *K = t->K + jb * t->ks;
    const int64_t ks = t->ks;
    for (int jj = 0; jj < C; jj++)
        for (int r = 0; r < R; r++) acc[jj][r] = simde_mm512_setzero_ps();
    const float *q = t->Qt;
    for (int c = 0; c < t->d; c++, q += t->ld) {
        simde__m512 qv[MAXR];
        for (int r = 0; r < R; r++) qv[r] = simde_mm512_load_ps(q + 16 * r);
        for (int jj = 0; jj < C; jj++) {
            simde__m512 kb = simde_mm512_set1_ps(K[jj * ks + c]);
            for (int r = 0; r < R; r++) acc[jj][r] = simde_mm512_fmadd_ps(kb, qv[r], acc[jj][r]);
        }
    }
    const simde__m512 ninf = simde_mm512_set1_ps(-INFINITY);
    const simde__m512i lane = simde_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int jj = 0; jj < C; jj++) {
        float *srow = t->S + (size_t)(jb + jj) * t->ld;
        for (int r = 0; r < R; r++) {
            simde__m512 s = acc[jj][r];
            if (t->E) s = simde_mm512_add_ps(s, simde_mm512_load_ps(t->E + (size_t)(jb + jj) * t->ld + 16 * r));
            if (t->diag) {
                /* visible iff j <= i + off, i.e. (ivis0 + 16 r + lane) - j >= 0 */
                simde__m512i vis = simde_mm512_add_epi32(
                    lane, simde_mm512_set1_epi32((int32_t)(t->ivis0 + 16 * r - (t->jabs0 + jb + jj))));
                simde__mmask16 hid = simde_mm512_cmpgt_epi32_mask(simde_mm512_setzero_si512(), vis);
                s = simde_mm512_mask_mov_ps(s, hid, ninf);
            }
            simde_mm512_store_ps(srow + 16 * r, s);
            acc[jj][r] = s;
        }
    }
    if (t->tmax) {
        for (int r = 0; r < R; r++) {
            simde__m512 mx = simde_mm512_load_ps(t->tmax + 16 * r);
            for (int jj = 0; jj < C; jj++) mx = simde_mm512_max_ps(mx, acc[jj][r]);
            simde_mm512_store_ps(t->tmax + 16 * r, mx);
        }
    }
}

typedef void (*qk_fn)(const qk_tile *t, int jb);
#define QK_INST(R, C) \
    static void qk_##R##_##C(const qk_tile *t, int jb) { qk_block(t, jb, R, C); }
#define QK_ROW(R) QK_INST(R, 1) QK_INST(R, 2) QK_INST(R, 3) QK_INST(R, 4) QK_INST(R, 5) QK_INST(R, 6)
QK_ROW(1)
QK_ROW(2)
QK_ROW(3)
QK_ROW(4)
static const qk_fn qk_table[MAXR][KB] = {
    {qk_1_1, qk_1_2, qk_1_3, qk_1_4, qk_1_5, qk_1_6},
    {qk_2_1, qk_2_2, qk_2_3, qk_2_4, qk_2_5, qk_2_6},
    {qk_3_1, qk_3_2, qk_3_3, qk_3_4, qk_3_5, qk_3_6},
    {qk_4_1, qk_4_2, qk_4_3, qk_4_4, qk_4_5, qk_4_6},
};

static void qk_tile_run(const qk_tile *t, int R, int jn)
{
    const qk_fn *row = qk_table[R - 1];
    int jb = 0;
    for (; jb + KB <= jn; jb += KB) row[KB - 1](t, jb);
    if (jb < jn) row[jn - jb - 1](t, jb);
}

/* O^T[c0..c0+C-1][lanes] += sum_j V[j][c] * P^T[j][lanes] over the tile's jn keys. */
FORCE_INLINE void pv_block(float *Ot, int ld, const float *P, int jn, const float *V, int64_t vs, int c0,
                           const int R, const int C)
{
    simde__m512 acc[VB][MAXR];
    for (int cc = 0; cc < C; cc++)
        for (int r = 0; r < R; r++) acc[cc][r] = simde_mm512_load_ps(Ot + (size_t)(c0 + cc) * ld + 16 * r);
    const float *v = V + c0;
    for (int j = 0; j < jn; j++, P += ld, v += vs) {
        simde__m512 pv[MAXR];
        for (int r = 0; r < R; r++) pv[r] = simde_mm512_load_ps(P + 16 * r);
        for (int cc = 0; cc < C; cc++) {
            simde__m512 vb = simde_mm512_set1_ps(v[cc]);
            for (int r = 0; r < R; r++) acc[cc][r] = simde_mm512_fmadd_ps(vb, pv[r], acc[cc][r]);
        }
    }
    for (int cc = 0; cc < C; cc++)
        for (int r = 0; r < R; r++) simde_mm512_store_ps(Ot + (size_t)(c0 + cc) * ld + 16 * r, acc[cc][r]);
}

typedef void (*pv_fn)(float *Ot, int ld, const float *P, int jn, const float *V, int64_t vs, int c0);
#define PV_INST(R, C)                                                                             \
    static void pv_##R##_##C(float *Ot, int ld, const float *P, int jn, const float *V, int64_t vs, \
                             int c0)                                                              \
    {                                                                                             \
        pv_block(Ot, ld, P, jn, V, vs, c0, R, C);                                                 \
    }
#define PV_ROW(R) PV_INST(R, 1) PV_INST(R, 2) PV_INST(R, 3) PV_INST(R, 4) PV_INST(R, 5) PV_INST(R, 6)
PV_ROW(1)
PV_ROW(2)
PV_ROW(3)
PV_ROW(4)
static const pv_fn pv_table[MAXR][VB] = {
    {pv_1_1, pv_1_2, pv_1_3, pv_1_4, pv_1_5, pv_1_6},
    {pv_2_1, pv_2_2, pv_2_3, pv_2_4, pv_2_5, pv_2_6},
    {pv_3_1, pv_3_2, pv_3_3, pv_3_4, pv_3_5, pv_3_6},
    {pv_4_1, pv_4_2, pv_4_3, pv_4_4, pv_4_5, pv_4_6},
};

static void pv_tile_run(float *Ot, int ld, int R, const float *P, int jn, const float *V, int64_t vs, int dv)
{
    const pv_fn *row = pv_table[R - 1];
    int c0 = 0;
    for (; c0 + VB <= dv; c0 += VB) row[VB - 1](Ot, ld, P, jn, V, vs, c0);
    if (c0 < dv) row[dv - c0 - 1](Ot, ld, P, jn, V, vs, c0);
}

/* Lazy online-softmax update for one tile: raise the reference max where the tile
 * max passed it by more than LAZY_RESCALE (rescaling l and O^T there), then turn the
 * S^T tile into P^T = exp2(S - ref) in place and add its column sums to l. */
static void softmax_tile(float *S, int jn, int ld, int R, float *m, float *l, float *tmax, float *Ot,
                         int dv)
{
    const simde__m512 ninf = simde_mm512_set1_ps(-INFINITY);
    const simde__m512 one = simde_mm512_set1_ps(1.0f);
    const simde__m512 lag = simde_mm512_set1_ps(LAZY_RESCALE);
    simde__m512 ref[MAXR], sum[MAXR];
    for (int r = 0; r < R; r++) {
        simde__m512 mo = simde_mm512_load_ps(m + 16 * r);
        simde__m512 tm = simde_mm512_load_ps(tmax + 16 * r);
        simde__mmask16 up = simde_mm512_cmp_ps_mask(tm, simde_mm512_add_ps(mo, lag), SIMDE_CMP_GT_OQ);
        if (up) {
            simde__m512 mn = simde_mm512_mask_mov_ps(mo, up, tm);
            /* lanes that were still -inf get alpha = exp2(-inf) = 0: nothing to keep */
            simde__m512 alpha = simde_mm512_mask_mov_ps(one, up, fokus_exp2_ps(simde_mm512_sub_ps(mo, mn)));
            simde_mm512_store_ps(l + 16 * r, simde_mm512_mul_ps(simde_mm512_load_ps(l + 16 * r), alpha));
            for (int c = 0; c < dv; c++) {
                float *o = Ot + (size_t)c * ld + 16 * r;
                simde_mm512_store_ps(o, simde_mm512_mul_ps(simde_mm512_load_ps(o), alpha));
            }
            simde_mm512_store_ps(m + 16 * r, mn);
            mo = mn;
        }
        /* lanes with no visible key yet: reference 0, their scores are -inf anyway */
        simde__mmask16 empty = simde_mm512_cmp_ps_mask(mo, ninf, SIMDE_CMP_EQ_OQ);
        ref[r] = simde_mm512_mask_mov_ps(mo, empty, simde_mm512_setzero_ps());
        sum[r] = simde_mm512_setzero_ps();
        simde_mm512_store_ps(tmax + 16 * r, ninf); /* ready for the next tile */
    }
    for (int j = 0; j < jn; j++) {
        float *s = S + (size_t)j * ld;
        for (int r = 0; r < R; r++) {
            simde__m512 p = fokus_exp2_ps(simde_mm512_sub_ps(simde_mm512_load_ps(s + 16 * r), ref[r]));
            sum[r] = simde_mm512_add_ps(sum[r], p);
            simde_mm512_store_ps(s + 16 * r, p);
        }
    }
    for (int r = 0; r < R; r++)
        simde_mm512_store_ps(l + 16 * r, simde_mm512_add_ps(simde_mm512_load_ps(l + 16 * r), sum[r]));
}

static void align_map(const fokus_attn_job *job, float *scratch, scratch_map *map)
{
    /* scratch comes 64-byte aligned from fokus_ctx_scratch / fokus_alloc */
    scratch_floats(job, map, scratch);
}

/* Class of the key tile starting at j0 for this item: FULL without a block mask. */
static inline int tile_class(const fokus_attn_job *job, const item_geom *g, int64_t j0)
{
    if (!job->bm) return FOKUS_BLOCK_FULL;
    return fokus_block_class(job->bm, g->b, g->h, g->i0 / job->br, j0 / job->bc);
}

/* Second pass for the attention maps: recompute each tile's scores and write
 * P = exp2(S - m) / l, now that m and l are final. */
static void probs_pass(const fokus_attn_job *job, const item_geom *g, qk_tile *t, const scratch_map *sm)
{
    const fokus_attn_args *a = job->a;
    simde__m512 ref[MAXR], inv[MAXR];
    for (int r = 0; r < g->R; r++) {
        simde__m512 mo = simde_mm512_load_ps(sm->m + 16 * r), lv = simde_mm512_load_ps(sm->l + 16 * r);
        simde__mmask16 empty = simde_mm512_cmp_ps_mask(mo, simde_mm512_set1_ps(-INFINITY), SIMDE_CMP_EQ_OQ);
        ref[r] = simde_mm512_mask_mov_ps(mo, empty, simde_mm512_setzero_ps());
        simde__mmask16 pos = simde_mm512_cmp_ps_mask(lv, simde_mm512_setzero_ps(), SIMDE_CMP_GT_OQ);
        inv[r] = simde_mm512_maskz_div_ps(pos, simde_mm512_set1_ps(1.0f), lv);
    }
    float *P = job->probs + ((g->b * a->H + g->h) * a->Nq + g->i0) * a->Nk;
    const float *K = job->k + g->b * job->ks[0] + g->g * job->ks[1];
    t->tmax = NULL;
    for (int64_t j0 = 0; j0 < g->kend; j0 += job->bc) {
        int jn = (int)(g->kend - j0 < job->bc ? g->kend - j0 : job->bc);
        const int cls = tile_class(job, g, j0);
        if (cls == FOKUS_BLOCK_EMPTY) continue; /* probs are zero-filled */
        if (t->E) build_extra(a, g, j0, jn, job->bc, sm->E, sm->X);
        t->K = K + j0 * job->ks[2];
        t->jabs0 = j0;
        t->diag = a->causal && j0 + jn - 1 > g->i0 + a->causal_off;
        qk_tile_run(t, g->R, jn);
        if (job->score || job->mask)
            fokus_mod_apply_tile(job->score, cls == FOKUS_BLOCK_PARTIAL ? job->mask : NULL, sm->S, g->ld, g->R, jn,
                                 g->b, g->h, g->i0, j0, sm->regs, NULL, t->diag || t->E);
        for (int j = 0; j < jn; j++) {
            float *s = sm->S + (size_t)j * g->ld;
            for (int r = 0; r < g->R; r++) {
                simde__m512 p = fokus_exp2_ps(simde_mm512_sub_ps(simde_mm512_load_ps(s + 16 * r), ref[r]));
                simde_mm512_store_ps(s + 16 * r, simde_mm512_mul_ps(p, inv[r]));
            }
        }
        for (int ii = 0; ii < g->nq; ii++) {
            float *prow = P + (int64_t)ii * a->Nk + j0;
            for (int j = 0; j < jn; j++) prow[j] = sm->S[(size_t)j * g->ld + ii];
        }
    }
}

/* Prefetch `n` rows of `cols` floats (row stride `st`) towards L2. */
static void prefetch_rows(const float *p, int64_t n, int64_t st, int64_t cols)
{
    for (int64_t j = 0; j < n; j++, p += st)
        for (int64_t c = 0; c < cols; c += 16) __builtin_prefetch(p + c, 0, 2);
}

static void scalar_row(const fokus_attn_job *job, const item_geom *gp, int64_t i, float *scratch, bool clear_probs);

void fokus_attn_item_simd(const fokus_attn_job *job, int64_t item, float *scratch)
{
    const fokus_attn_args *a = job->a;
    item_geom g;
    scratch_map sm;
    geom_of(job, item, &g);
    align_map(job, scratch, &sm);
    pack_qt(job, &g, sm.Qt, sm.S); /* the score tile is free until the first tile */
    for (int i = 0; i < g.ld; i++) {
        sm.m[i] = -INFINITY;
        sm.l[i] = 0.0f;
        sm.tmax[i] = -INFINITY;
    }
    memset(sm.Ot, 0, sizeof(float) * (size_t)a->dv * (size_t)g.ld);

    const float *K = job->k + g.b * job->ks[0] + g.g * job->ks[1];
    const float *V = job->v + g.b * job->vs[0] + g.g * job->vs[1];
    qk_tile t;
    t.Qt = sm.Qt;
    t.ks = job->ks[2];
    t.d = (int)a->d;
    t.ld = g.ld;
    t.S = sm.S;
    t.E = sm.E;
    t.ivis0 = g.i0 + a->causal_off;
    /* with programs the tile max is taken after them (fokus_mod_apply_tile) */
    const bool mods = job->score || job->mask;
    t.tmax = mods ? NULL : sm.tmax;
    for (int64_t j0 = 0; j0 < g.kend; j0 += job->bc) {
        int jn = (int)(g.kend - j0 < job->bc ? g.kend - j0 : job->bc);
        const int cls = tile_class(job, &g, j0);
        if (cls == FOKUS_BLOCK_EMPTY) continue;
        if (j0 + job->bc < g.kend) {
            /* K and V of a long sequence do not stay in cache between items (16 MiB
             * at 32k x 64): start loading the next tile while this one computes */
            int64_t jn2 = g.kend - j0 - job->bc < job->bc ? g.kend - j0 - job->bc : job->bc;
            prefetch_rows(K + (j0 + job->bc) * job->ks[2], jn2, job->ks[2], a->d);
            prefetch_rows(V + (j0 + job->bc) * job->vs[2], jn2, job->vs[2], a->dv);
        }
        if (t.E) build_extra(a, &g, j0, jn, job->bc, sm.E, sm.X);
        t.K = K + j0 * job->ks[2];
        t.jabs0 = j0;
        /* some key of the tile is hidden from the block's first query */
        t.diag = a->causal && j0 + jn - 1 > g.i0 + a->causal_off;
        qk_tile_run(&t, g.R, jn);
        if (mods)
            fokus_mod_apply_tile(job->score, cls == FOKUS_BLOCK_PARTIAL ? job->mask : NULL, sm.S, g.ld, g.R, jn, g.b,
                                 g.h, g.i0, j0, sm.regs, sm.tmax, t.diag || t.E);
        softmax_tile(sm.S, jn, g.ld, g.R, sm.m, sm.l, sm.tmax, sm.Ot, (int)a->dv);
        pv_tile_run(sm.Ot, g.ld, g.R, sm.S, jn, V + j0 * job->vs[2], job->vs[2], (int)a->dv);
    }
    finish_rows(job, &g, sm.Ot, sm.m, sm.l);
    if (job->probs) probs_pass(job, &g, &t, &sm);
    /* l is NaN where a NaN (or +inf) score reached the exp2: a visible one, or a
     * masked one that the boolean mask / -inf bias only added -inf to. Rare: the
     * scalar row settles which (Qt, S and Ot are free now; l lies beyond them). */
    for (int ii = 0; ii < g.nq; ii++)
        if (isnan(sm.l[ii])) scalar_row(job, &g, g.i0 + ii, scratch, true);
}

/* ---------------------------------------------------------------------------------
 * Scalar kernel: the portable path (used when AVX-512 is not native) and an
 * independent check of the SIMD one. One query row at a time, classic online softmax
 * (rescale whenever the max grows), libm exp2.
 * ------------------------------------------------------------------------------- */

/* Query row i of item g: out, lse and (when wanted) probs. scratch: d + dv floats,
 * 64-byte aligned. clear_probs: zero the probs row first (it may hold what the SIMD
 * kernel wrote). A visible NaN or +inf score (inf - inf in the reference) makes the
 * whole row NaN; the boolean mask and a -inf bias replace a score by -inf, so a
 * masked NaN does not count. */
static void scalar_row(const fokus_attn_job *job, const item_geom *gp, int64_t i, float *scratch, bool clear_probs)
{
    const fokus_attn_args *a = job->a;
    const item_geom g = *gp;
    const int64_t d = a->d, dv = a->dv;
    float *qrow = scratch, *acc = scratch + up16((size_t)d);
    const float *K = job->k + g.b * job->ks[0] + g.g * job->ks[1];
    const float *V = job->v + g.b * job->vs[0] + g.g * job->vs[1];
    const fokus_attn_src *q = &a->q;
    const size_t es = fokus_dtype_size(q->dtype);
    const int64_t row0 = (g.b * a->H + g.h) * a->Nq;
    const char *qr = q->data + (size_t)(g.b * q->s[0] + g.h * q->s[1] + i * q->s[2]) * es;
    for (int64_t c = 0; c < d; c++) qrow[c] = fokus_attn_loadf(qr, q->dtype, c * q->s[3]) * job->qscale;
    for (int64_t c = 0; c < dv; c++) acc[c] = 0.0f;
    if (job->probs && clear_probs) memset(job->probs + (row0 + i) * a->Nk, 0, sizeof(float) * (size_t)a->Nk);
    int64_t kend = a->Nk;
    if (a->causal) {
        int64_t e = i + a->causal_off + 1;
        kend = e < 0 ? 0 : e < kend ? e : kend;
    }
    float m = -INFINITY, l = 0.0f;
    bool nan_row = false;
    for (int pass = 0; pass < (job->probs ? 2 : 1) && !nan_row; pass++) {
        const float inv = l > 0 ? 1.0f / l : 0.0f;
        for (int64_t j = 0; j < kend; j++) {
            const float *kr = K + j * job->ks[2];
            float s = 0.0f;
            for (int64_t c = 0; c < d; c++) s += qrow[c] * kr[c];
            const float e = extra_at(a, g.b, g.h, i, j);
            s = e == -INFINITY ? -INFINITY : s + e;
            if (s != -INFINITY && job->score)
                s = (float)(fokus_mod_eval_ref(job->score->p, (double)s * 0.6931471805599453, g.b + 1, g.h + 1,
                                               i + 1, j + 1) * 1.4426950408889634);
            if (job->mask && fokus_mod_eval_ref(job->mask->p, 0, g.b + 1, g.h + 1, i + 1, j + 1) == 0)
                s = -INFINITY;
            if (s == -INFINITY) continue;
            if (!(s < INFINITY)) {
                nan_row = true;
                break;
            }
            if (pass == 1) {
                job->probs[(row0 + i) * a->Nk + j] = exp2f(s - m) * inv;
                continue;
            }
            if (s > m) {
                float alpha = exp2f(m - s); /* m = -inf gives 0 */
                l *= alpha;
                for (int64_t c = 0; c < dv; c++) acc[c] *= alpha;
                m = s;
            }
            float p = exp2f(s - m);
            l += p;
            const float *vr = V + j * job->vs[2];
            for (int64_t c = 0; c < dv; c++) acc[c] += p * vr[c];
        }
    }
    float *o = out_row(job, g.b, g.h, i);
    if (nan_row) {
        /* as softmax over a row holding NaN: every output, lse and probability */
        for (int64_t c = 0; c < dv; c++) o[c * job->os[3]] = NAN;
        if (job->lse) job->lse[row0 + i] = NAN;
        if (job->probs)
            for (int64_t j = 0; j < a->Nk; j++) job->probs[(row0 + i) * a->Nk + j] = NAN;
        return;
    }
    const float inv = l > 0 ? 1.0f / l : 0.0f;
    for (int64_t c = 0; c < dv; c++) o[c * job->os[3]] = acc[c] * inv;
    if (job->lse)
        job->lse[row0 + i] = l > 0 ? (float)(((double)m + log2((double)l)) * 0.6931471805599453) : -INFINITY;
}

void fokus_attn_item_scalar(const fokus_attn_job *job, int64_t item, float *scratch)
{
    item_geom g;
    geom_of(job, item, &g);
    for (int ii = 0; ii < g.nq; ii++) scalar_row(job, &g, g.i0 + ii, scratch, false);
}
