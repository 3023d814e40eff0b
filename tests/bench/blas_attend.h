/* The OpenBLAS attention baseline of the benchmarks (bench_attend and the Lua bench's
 * blasbase module), made as strong as a user could make it with OpenBLAS: per head,
 * S = scale·log2(e)·Q Kᵀ with cblas_sgemm, a vectorized row softmax (the same exp2 as
 * fokus), O = P V with cblas_sgemm. Two ways to use two cores, both timed, the faster
 * one reported:
 *   BLAS_ATT_BLOCKS  one head and 256-row query block at a time, OpenBLAS threaded
 *                    inside each sgemm (its own pool);
 *   BLAS_ATT_HEADS   heads spread over the workers of a fokus context (one head at a
 *                    time per worker, handed out dynamically), OpenBLAS single-threaded
 *                    inside. No fork/join per sgemm, and the softmax runs in parallel.
 * Scores are materialised 256 x Nk per worker (what a chunked PyTorch/NumPy user does).
 * Needs FOKUS_HAVE_OPENBLAS and <cblas.h>; q, k, v, out are [H, N, d] contiguous f32. */
#ifndef FOKUS_BLAS_ATTEND_H
#define FOKUS_BLAS_ATTEND_H

#include <math.h>
#include <stdlib.h>

#include <cblas.h>

#include "fokus.h"
#include "linalg/simd_math.h"

void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
char *openblas_get_config(void);

enum { BLAS_ATT_BLOCKS = 0, BLAS_ATT_HEADS = 1 };
#define BLAS_ATT_ROWS 256

typedef struct blas_att {
    const float *q, *k, *v;
    float *out;
    int H, Nq, Nk, d, causal;
    float *S[64]; /* per worker: BLAS_ATT_ROWS x Nk scores */
} blas_att;

static inline float blas_att_hmax(simde__m512 v)
{
    float t[16], m;
    simde_mm512_storeu_ps(t, v);
    m = t[0];
    for (int i = 1; i < 16; i++) m = t[i] > m ? t[i] : m;
    return m;
}

static inline float blas_att_hsum(simde__m512 v)
{
    float t[16], s = 0;
    simde_mm512_storeu_ps(t, v);
    for (int i = 0; i < 16; i++) s += t[i];
    return s;
}

/* softmax of rows [0, nr) of S (row i is query i0 + i), scores already scaled by log2 e */
static inline void blas_att_softmax(float *S, int nr, int Nk, int i0, int causal)
{
    for (int i = 0; i < nr; i++) {
        float *r = S + (size_t)i * Nk, m = -INFINITY, sum = 0;
        int kend = causal ? (i0 + i + 1 < Nk ? i0 + i + 1 : Nk) : Nk;
        int j = 0;
        simde__m512 vmax = simde_mm512_set1_ps(-INFINITY);
        for (; j + 16 <= kend; j += 16) vmax = simde_mm512_max_ps(vmax, simde_mm512_loadu_ps(r + j));
        m = blas_att_hmax(vmax);
        for (; j < kend; j++) m = r[j] > m ? r[j] : m;
        simde__m512 vm = simde_mm512_set1_ps(m), vs = simde_mm512_setzero_ps();
        for (j = 0; j + 16 <= kend; j += 16) {
            simde__m512 p = fokus_exp2_ps(simde_mm512_sub_ps(simde_mm512_loadu_ps(r + j), vm));
            simde_mm512_storeu_ps(r + j, p);
            vs = simde_mm512_add_ps(vs, p);
        }
        sum = blas_att_hsum(vs);
        for (; j < kend; j++) sum += (r[j] = exp2f(r[j] - m));
        const simde__m512 vinv = simde_mm512_set1_ps(1.0f / sum);
        for (j = 0; j + 16 <= kend; j += 16)
            simde_mm512_storeu_ps(r + j, simde_mm512_mul_ps(simde_mm512_loadu_ps(r + j), vinv));
        for (; j < kend; j++) r[j] *= 1.0f / sum;
        for (j = kend; j < Nk; j++) r[j] = 0.0f;
    }
}

/* one head, all its query blocks, scores in S */
static inline void blas_att_head(const blas_att *a, int h, float *S)
{
    const float scale = 1.4426950408889634f / sqrtf((float)a->d);
    const float *kh = a->k + (size_t)h * a->Nk * a->d, *vh = a->v + (size_t)h * a->Nk * a->d;
    for (int i0 = 0; i0 < a->Nq; i0 += BLAS_ATT_ROWS) {
        int nr = a->Nq - i0 < BLAS_ATT_ROWS ? a->Nq - i0 : BLAS_ATT_ROWS;
        const float *qh = a->q + ((size_t)h * a->Nq + i0) * a->d;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, a->Nk, a->d, scale, qh, a->d, kh, a->d, 0.0f, S,
                    a->Nk);
        blas_att_softmax(S, nr, a->Nk, i0, a->causal);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, a->d, a->Nk, 1.0f, S, a->Nk, vh, a->d, 0.0f,
                    a->out + ((size_t)h * a->Nq + i0) * a->d, a->d);
    }
}

static void blas_att_task(void *arg, int64_t begin, int64_t end, int worker)
{
    const blas_att *a = (const blas_att *)arg;
    for (int64_t h = begin; h < end; h++) blas_att_head(a, (int)h, a->S[worker]);
}

/* Allocates the score buffers for `workers` workers; false when out of memory. */
static inline bool blas_att_init(blas_att *a, int workers)
{
    for (int w = 0; w < workers && w < 64; w++) {
        a->S[w] = (float *)fokus_alloc(sizeof(float) * BLAS_ATT_ROWS * (size_t)a->Nk);
        if (!a->S[w]) return false;
    }
    return true;
}

static inline void blas_att_free(blas_att *a)
{
    for (int w = 0; w < 64; w++) {
        fokus_free(a->S[w]);
        a->S[w] = NULL;
    }
}

/* One attention call. BLOCKS: OpenBLAS on `threads` threads; HEADS: ctx's workers
 * (fokus_ctx_threads(ctx) of them), OpenBLAS on one thread. */
static inline void blas_att_run(blas_att *a, int mode, fokus_ctx *ctx, int threads)
{
    if (mode == BLAS_ATT_HEADS) {
        openblas_set_num_threads(1);
        fokus_parallel(ctx, a->H, 1, blas_att_task, a);
    } else {
        openblas_set_num_threads(threads);
        blas_att_task(a, 0, a->H, 0);
    }
}

static inline const char *blas_att_name(int mode)
{
    return mode == BLAS_ATT_HEADS ? "heads over threads, OpenBLAS 1 thr inside"
                                  : "256-row blocks, OpenBLAS threaded inside";
}

#endif
