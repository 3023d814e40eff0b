/* CLIP tokenizer throughput: MB/s of typical Stable Diffusion prompts encoded one prompt
 * per call on one thread, with a cold word cache (a fresh tokenizer) and a warm one.
 * Prints medians. Needs ../shared/clip/bpe_simple_vocab_16e6.txt.gz (or $FOKUS_CLIP_VOCAB). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"

static const char *const words[] = {
    "masterpiece", "best quality", "ultra detailed", "8k", "photorealistic", "cinematic lighting",
    "a portrait of", "a beautiful woman", "an old man", "a cat", "a dog", "a dragon", "castle",
    "on a hill", "at sunset", "in the rain", "neon lights", "cyberpunk city", "forest", "mountains",
    "highly detailed", "sharp focus", "trending on artstation", "by greg rutkowski", "volumetric fog",
    "octane render", "unreal engine", "bokeh", "depth of field", "golden hour", "studio lighting",
    "(masterpiece:1.2)", "((best quality))", "[blurry]", "wide shot", "close-up", "oil painting",
    "watercolor", "concept art", "digital art", "intricate", "elegant", "smooth", "dramatic sky",
    "4k wallpaper", "hdr", "epic", "fantasy", "sci-fi", "steampunk", "vaporwave", "surreal",
    "red hair", "blue eyes", "wearing a hoodie", "holding a sword", "looking at viewer", "smiling",
};

/* xorshift: the corpus is the same on every run and machine */
static unsigned long long rng_state = 0x9E3779B97F4A7C15ULL;
static unsigned next_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state >> 32);
}

typedef struct corpus {
    char **text;
    size_t *len;
    size_t n, bytes;
} corpus;

static corpus make_corpus(size_t n)
{
    corpus c = {malloc(n * sizeof(char *)), malloc(n * sizeof(size_t)), n, 0};
    size_t nw = sizeof words / sizeof words[0];
    for (size_t i = 0; i < n; i++) {
        char buf[1024];
        size_t k = 0, parts = 8 + next_rand() % 16;
        for (size_t j = 0; j < parts && k < 900; j++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", j ? ", " : "", words[next_rand() % nw]);
        c.text[i] = malloc(k + 1);
        memcpy(c.text[i], buf, k + 1);
        c.len[i] = k;
        c.bytes += k;
    }
    return c;
}

typedef struct run_arg {
    fokus_bpe *tok;
    const corpus *c;
    fokus_bpe_pieces p;
    size_t tokens;
} run_arg;

static void encode_corpus(void *argp)
{
    run_arg *a = argp;
    fokus_error err;
    a->tokens = 0;
    for (size_t i = 0; i < a->c->n; i++) {
        if (fokus_bpe_encode(a->tok, a->c->text[i], a->c->len[i], &a->p, &err) != FOKUS_OK) {
            fprintf(stderr, "encode: %s\n", err.msg);
            exit(1);
        }
        a->tokens += a->p.n;
    }
}

int main(void)
{
    const char *path = getenv("FOKUS_CLIP_VOCAB");
    char buf[4200];
    struct stat st;
    if (!path || !*path) {
        const char *shared = getenv("FOKUS_SHARED");
        snprintf(buf, sizeof buf, "%.4000s/clip/bpe_simple_vocab_16e6.txt.gz", shared && *shared ? shared : "../shared");
        path = buf;
    }
    if (stat(path, &st) != 0) {
        printf("bench_bpe: skipped, no vocabulary at %s\n", path);
        return 0;
    }
    fokus_error err;
    fokus_bpe *tok = NULL;
    double t0 = fokus_clock();
    if (fokus_bpe_load(&tok, path, &err) != FOKUS_OK) {
        fprintf(stderr, "bench_bpe: %s\n", err.msg);
        return 1;
    }
    double load = fokus_clock() - t0;
    corpus c = make_corpus(2000);
    printf("bench_bpe: %zu prompts, %.1f KB, one thread; vocabulary load %.1f ms\n", c.n, c.bytes / 1e3,
           load * 1e3);

    /* cold: a fresh tokenizer (empty word cache) per run, load not timed */
    double cold[7];
    run_arg a = {0};
    a.c = &c;
    for (int r = 0; r < 7; r++) {
        fokus_bpe *fresh = NULL;
        if (fokus_bpe_load(&fresh, path, &err) != FOKUS_OK) return 1;
        a.tok = fresh;
        double s = fokus_clock();
        encode_corpus(&a);
        cold[r] = fokus_clock() - s;
        fokus_bpe_free(fresh);
    }
    double tc = bench_median(cold, 7);
    a.tok = tok;
    double tw = bench_time(encode_corpus, &a, 2, 15);
    printf("  cold cache: %7.1f MB/s  %6.2f M tokens/s  (median of 7)\n", c.bytes / tc / 1e6, a.tokens / tc / 1e6);
    printf("  warm cache: %7.1f MB/s  %6.2f M tokens/s  (median of 15; target >= 20 MB/s)\n",
           c.bytes / tw / 1e6, a.tokens / tw / 1e6);

    /* cache misses: prompts of made-up words, each word new to the cache */
    corpus u = {malloc(c.n * sizeof(char *)), malloc(c.n * sizeof(size_t)), c.n, 0};
    for (size_t i = 0; i < u.n; i++) {
        char w[256];
        size_t k = 0;
        while (k < 180) {
            size_t wl = 3 + next_rand() % 8;
            for (size_t j = 0; j < wl; j++) w[k++] = (char)('a' + next_rand() % 26);
            w[k++] = ' ';
        }
        u.text[i] = malloc(k + 1);
        memcpy(u.text[i], w, k);
        u.text[i][k] = 0;
        u.len[i] = k;
        u.bytes += k;
    }
    double uniq[7];
    run_arg ua = {0};
    ua.c = &u;
    for (int r = 0; r < 7; r++) {
        fokus_bpe *fresh = NULL;
        if (fokus_bpe_load(&fresh, path, &err) != FOKUS_OK) return 1;
        ua.tok = fresh;
        double s = fokus_clock();
        encode_corpus(&ua);
        uniq[r] = fokus_clock() - s;
        fokus_bpe_free(fresh);
    }
    double tu = bench_median(uniq, 7);
    printf("  all misses: %7.1f MB/s  %6.2f M tokens/s  (random words, fresh cache, median of 7)\n",
           u.bytes / tu / 1e6, ua.tokens / tu / 1e6);
    fokus_bpe_pieces_free(&ua.p);
    for (size_t i = 0; i < u.n; i++) free(u.text[i]);
    free(u.text);
    free(u.len);

    /* one typical 77-token prompt, the per-call latency a UI sees */
    run_arg one = {tok, NULL, {0}, 0};
    corpus single = {c.text, c.len, 1, c.len[0]};
    one.c = &single;
    double t1 = bench_time(encode_corpus, &one, 10, 25);
    printf("  one prompt (%zu bytes, %zu tokens): %.1f us per encode\n", c.len[0], one.tokens, t1 * 1e6);

    fokus_bpe_pieces_free(&a.p);
    fokus_bpe_pieces_free(&one.p);
    for (size_t i = 0; i < c.n; i++) free(c.text[i]);
    free(c.text);
    free(c.len);
    fokus_bpe_free(tok);
    return 0;
}
