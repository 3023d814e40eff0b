/* Two contexts used from two threads at once (as two Lua states in two threads would
 * use them): attention, GEMM and the CLIP encoder give the same bits as when run alone.
 * Nothing in the core may be shared mutable state. */
#include <pthread.h>

#include "check.h"

#include "fokus.h"

typedef struct job {
    fokus_clip *m;
    fokus_tensor ids, q;
    float sum_attn, sum_cond;
    int failures;
} job;

static void run_job(job *j)
{
    fokus_ctx *ctx;
    fokus_error err;
    if (fokus_ctx_new(&ctx, 2, &err) != FOKUS_OK) {
        j->failures++;
        return;
    }
    for (int rep = 0; rep < 20; rep++) {
        fokus_tensor o, cond, pooled, proj;
        fokus_attend_opts opts = {0};
        opts.causal = FOKUS_CAUSAL_TOP_LEFT;
        if (fokus_attend(ctx, &j->q, &j->q, &j->q, &opts, &o, NULL, NULL, &err) != FOKUS_OK ||
            fokus_clip_encode(ctx, j->m, &j->ids, 1, true, &cond, &pooled, &proj, &err) != FOKUS_OK) {
            j->failures++;
            break;
        }
        float sa = 0, sc = 0;
        for (int64_t i = 0; i < fokus_tensor_numel(&o); i++) sa += ((float *)o.data)[i];
        for (int64_t i = 0; i < fokus_tensor_numel(&cond); i++) sc += ((float *)cond.data)[i];
        if (rep == 0) {
            j->sum_attn = sa;
            j->sum_cond = sc;
        } else if (sa != j->sum_attn || sc != j->sum_cond) {
            j->failures++;
        }
        fokus_tensor_release(&o), fokus_tensor_release(&cond), fokus_tensor_release(&pooled), fokus_tensor_release(&proj);
    }
    fokus_ctx_free(ctx);
}

static void *thread_main(void *p)
{
    run_job(p);
    return NULL;
}

static void test_two_contexts_two_threads(void)
{
    fokus_error err;
    fokus_st_entry *w;
    size_t n;
    CHECK(fokus_clip_tiny_weights(5, 128, 2, &w, &n, &err) == FOKUS_OK);
    fokus_clip *m;
    CHECK(fokus_clip_new(&m, w, n, "", NULL, &err) == FOKUS_OK);
    job jobs[2];
    memset(jobs, 0, sizeof jobs);
    for (int k = 0; k < 2; k++) {
        int64_t is[2] = {1, 77}, qs[3] = {4, 300, 64};
        jobs[k].m = m; /* one model read by both: weights are read-only during forward */
        fokus_tensor_new(&jobs[k].ids, FOKUS_I32, 2, is, &err);
        for (int i = 0; i < 77; i++) ((int32_t *)jobs[k].ids.data)[i] = i == 0 ? 49406 : i < 10 + k ? 400 + 13 * i : 49407;
        fokus_tensor_new(&jobs[k].q, FOKUS_F32, 3, qs, &err);
        fokus_tensor_randn(&jobs[k].q, 100 + (uint64_t)k, &err);
    }
    /* alone first: the reference sums */
    job alone[2];
    memcpy(alone, jobs, sizeof jobs);
    run_job(&alone[0]);
    run_job(&alone[1]);
    pthread_t t[2];
    for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, thread_main, &jobs[k]);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(jobs[k].failures, 0);
        CHECK_EQ_INT(alone[k].failures, 0);
        CHECK(jobs[k].sum_attn == alone[k].sum_attn);
        CHECK(jobs[k].sum_cond == alone[k].sum_cond);
        fokus_tensor_release(&jobs[k].ids);
        fokus_tensor_release(&jobs[k].q);
    }
    fokus_clip_free(m);
    fokus_st_entries_free(w, n);
}

int main(void)
{
    RUN(test_two_contexts_two_threads);
    return check_summary("concurrency");
}
