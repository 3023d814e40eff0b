/* CLIP BPE tokenizer: the dev oracle rows (OpenAI's SimpleTokenizer output), decode,
 * byte spans of pieces, special tokens, every loader format, broken files, threads. */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include <zlib.h>

#include "fokus.h"
#include "text/bpe_internal.h"
#include "text/textclean.h"
#include "check.h"

static char vocab_path[4096], oracle_path[4096];
static fokus_bpe *tok;

typedef struct row {
    char *text;
    size_t len;
    int32_t *ids;
    size_t n;
    int ftfy;
} row;
static row *rows;
static size_t n_rows;

static void load_rows(void)
{
    FILE *f = fopen(oracle_path, "rb");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, &je);
        CHECK_MSG(j != NULL, "oracle line %zu: %s", n_rows + 1, je.text);
        if (!j) continue;
        rows = realloc(rows, (n_rows + 1) * sizeof *rows);
        row *r = &rows[n_rows++];
        json_t *t = json_object_get(j, "text"), *ids = json_object_get(j, "ids");
        r->len = json_string_length(t);
        r->text = malloc(r->len + 1);
        memcpy(r->text, json_string_value(t), r->len + 1);
        r->n = json_array_size(ids);
        r->ids = malloc((r->n + 1) * sizeof *r->ids);
        for (size_t i = 0; i < r->n; i++) r->ids[i] = (int32_t)json_integer_value(json_array_get(ids, i));
        r->ftfy = json_is_true(json_object_get(j, "ftfy_changed"));
        json_decref(j);
    }
    free(line);
    fclose(f);
}

static bool same_ids(const fokus_bpe_pieces *p, const int32_t *ids, size_t n)
{
    if (p->n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (p->items[i].id != ids[i]) return false;
    return true;
}

static void print_ids(const char *what, const fokus_bpe_pieces *p, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s:", what);
    for (size_t i = 0; i < (p ? p->n : n) && i < 24; i++) fprintf(stderr, " %d", p ? p->items[i].id : ids[i]);
    fprintf(stderr, "\n");
}

/* Encodes every row; returns how many matched (per ftfy flag). */
static void encode_rows(fokus_bpe *t, int ok[2], int total[2], bool verbose)
{
    fokus_bpe_pieces p = {0};
    fokus_error err;
    ok[0] = ok[1] = total[0] = total[1] = 0;
    for (size_t i = 0; i < n_rows; i++) {
        row *r = &rows[i];
        fokus_status st = fokus_bpe_encode(t, r->text, r->len, &p, &err);
        CHECK_MSG(st == FOKUS_OK, "row %zu: %s", i, err.msg);
        bool good = st == FOKUS_OK && same_ids(&p, r->ids, r->n);
        total[r->ftfy]++;
        ok[r->ftfy] += good;
        if (!good && verbose) {
            fprintf(stderr, "row %zu (%s) differs: \"%.60s\"\n", i, r->ftfy ? "ftfy" : "plain", r->text);
            print_ids("expected", NULL, r->ids, r->n);
            print_ids("got     ", &p, NULL, 0);
        }
        size_t bad = p.n;
        for (size_t k = 0; k < p.n && bad == p.n; k++)
            if (!(p.items[k].begin < p.items[k].end && p.items[k].end <= r->len)) bad = k;
        CHECK_MSG(bad == p.n, "row %zu piece %zu: span [%zu, %zu) empty or outside %zu bytes", i, bad,
                  bad < p.n ? p.items[bad].begin : 0, bad < p.n ? p.items[bad].end : 0, r->len);
    }
    fokus_bpe_pieces_free(&p);
}

/* Rows whose reference needed ftfy's mojibake repair (fix_encoding) that this build
 * reproduces: raised as fix_encoding lands, so a regression fails the test. */
#define FTFY_ROWS_EXPECTED 28

static void test_dev_rows(void)
{
    if (!tok) { check_skip("no vocabulary"); return; }
    if (!n_rows) { check_skip("no oracle rows"); return; }
    int ok[2], total[2];
    encode_rows(tok, ok, total, true);
    printf("# dev rows: plain %d/%d match, ftfy %d/%d match\n", ok[0], total[0], ok[1], total[1]);
    CHECK_EQ_INT(ok[0], total[0]);
    CHECK_MSG(ok[1] >= FTFY_ROWS_EXPECTED, "ftfy rows: %d match, expected at least %d", ok[1],
              FTFY_ROWS_EXPECTED);
    CHECK_EQ_INT(n_rows, 159);
    /* a second pass runs from the warm word cache and must agree */
    int ok2[2], total2[2];
    encode_rows(tok, ok2, total2, false);
    CHECK(ok2[0] == ok[0] && ok2[1] == ok[1]);
}

static void expect_ids(const char *text, size_t len, const int32_t *ids, size_t n)
{
    fokus_bpe_pieces p = {0};
    fokus_error err;
    fokus_status st = fokus_bpe_encode(tok, text, len, &p, &err);
    CHECK_MSG(st == FOKUS_OK, "encode \"%s\": %s", text, err.msg);
    bool good = same_ids(&p, ids, n);
    CHECK_MSG(good, "encode \"%.*s\": ids differ", (int)len, text);
    if (!good) {
        print_ids("expected", NULL, ids, n);
        print_ids("got     ", &p, NULL, 0);
    }
    fokus_bpe_pieces_free(&p);
}
#define EXPECT(text, ...)                                                          \
    do {                                                                           \
        static const int32_t ids_[] = {__VA_ARGS__};                               \
        expect_ids(text, sizeof(text) - 1, ids_, sizeof ids_ / sizeof ids_[0]);    \
    } while (0)

static void test_special_tokens(void)
{
    if (!tok) { check_skip("no vocabulary"); return; }
    CHECK_EQ_INT(fokus_bpe_vocab_size(tok), 49408);
    CHECK_EQ_INT(fokus_bpe_bos(tok), 49406);
    CHECK_EQ_INT(fokus_bpe_eos(tok), 49407);
    CHECK_STR(fokus_bpe_token(tok, 49406), "<|startoftext|>");
    CHECK_STR(fokus_bpe_token(tok, 2368), "cat</w>");
    CHECK(fokus_bpe_token(tok, 49408) == NULL && fokus_bpe_token(tok, -1) == NULL);
    /* expectations from OpenAI's SimpleTokenizer */
    EXPECT("<|EndOfText|>", 49407);
    EXPECT("<|ENDOFTEXT|><|STARTOFTEXT|>", 49407, 49406);
    EXPECT("a <|startoftext|>b", 320, 49406, 321);
    EXPECT("x<|endoftext|>y", 343, 49407, 344);
    /* a symbol run swallows the "<|": no special token then */
    EXPECT("(<|endoftext|>)", 7, 27, 347, 40786, 4160, 91, 29, 264);
    EXPECT("A photo of a CAT", 320, 1125, 539, 320, 2368);
    EXPECT("it's", 585, 568);
}

static void test_empty(void)
{
    if (!tok) { check_skip("no vocabulary"); return; }
    const char *blank[] = {"", " ", "\t\n  \r\n", "\xe3\x80\x80", "\xc2\xa0\xe2\x80\xa8", "\x00", "\x07\x1b",
                           "&nbsp;&#10;"};
    size_t lens[] = {0, 1, 6, 3, 5, 1, 2, 11};
    fokus_bpe_pieces p = {0};
    fokus_error err;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        p.n = 99;
        CHECK(fokus_bpe_encode(tok, blank[i], lens[i], &p, &err) == FOKUS_OK);
        CHECK_MSG(p.n == 0, "blank text %zu gave %zu tokens", i, p.n);
    }
    CHECK(fokus_bpe_encode(tok, NULL, 0, &p, &err) == FOKUS_OK && p.n == 0);
    CHECK(fokus_bpe_encode(tok, NULL, 3, &p, &err) == FOKUS_EINVAL);
    CHECK(fokus_bpe_encode(NULL, "a", 1, &p, &err) == FOKUS_EINVAL);
    fokus_bpe_pieces_free(&p);
}


/* ftfy's mojibake repair: text broken by a wrong decode must tokenize like the intact
 * text, and text that only looks unusual must be left alone. (Pairs made for this test
 * by encoding the clean text as UTF-8 and decoding it with another code page.) */
static void test_ftfy(void)
{
    if (!tok) { check_skip("no vocabulary"); return; }
    static const char *const pairs[][2] = {
        /* UTF-8 read as Windows-1252, twice */
        {"d\xc3\x83\xc2\xa9j\xc3\x83\xc2\xa0 vu at the caf\xc3\x83\xc2\xa9", "d\xc3\xa9j\xc3\xa0 vu at the caf\xc3\xa9"},
        /* UTF-8 read as Latin-1 */
        {"cr\xc3\x83\xc2\xa8me br\xc3\x83\xc2\xbbl\xc3\x83\xc2\xa9" "e, na\xc3\x83\xc2\xafve", "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e, na\xc3\xafve"},
        /* curly quotes and a dash through Windows-1252 (U+009D kept as a C1 control) */
        {"it\xc3\xa2\xe2\x82\xac\xe2\x84\xa2s \xc3\xa2\xe2\x82\xac\xc5\x93quoted\xc3\xa2\xe2\x82\xac\xc2\x9d \xc3\xa2\xe2\x82\xac\xe2\x80\x9d fine",
         "it's \"quoted\" \xe2\x80\x94 fine"},
        /* Cyrillic through Windows-1251 */
        {"\xd0\xa0\xd1\x97\xd0\xa1\xd0\x82\xd0\xa0\xd1\x91\xd0\xa0\xd0\x86\xd0\xa0\xc2\xb5\xd0\xa1\xe2\x80\x9a \xd0\xa0\xd1\x98\xd0\xa0\xd1\x91\xd0\xa1\xd0\x82",
         "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80"},
        /* German through MacRoman */
        {"Gr\xe2\x88\x9a\xe2\x88\x82\xe2\x88\x9a\xc3\xbc" "e \xe2\x88\x9a\xc2\xba" "ber alles", "Gr\xc3\xb6\xc3\x9f" "e \xc3\xbc" "ber alles"},
        /* an emoji as CESU-8 (UTF-16 surrogates in UTF-8) read as Latin-1 */
        {"smile \xc3\xad\xc2\xa0\xc2\xbd\xc3\xad\xc2\xb8\xc2\x80 please", "smile \xf0\x9f\x98\x80 please"},
        /* Greek through Windows-1253 */
        {"\xce\x9e\xe2\x80\xa2\xce\x9e\xc2\xbb\xce\x9e\xc2\xbb\xce\x9e\xc2\xb7\xce\x9e\xc2\xbd\xce\x9e\xce\x89\xce\x9e\xce\x8a\xce\x9e\xc2\xac",
         "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac"},
        /* lossy: the byte behind U+FFFD is gone, the sequence becomes one U+FFFD */
        {"\xc3\xa2\xe2\x82\xac\xc5\x93lost\xc3\xa2\xe2\x82\xac\xef\xbf\xbd", "\"lost\xef\xbf\xbd"},
        /* C1 controls read as Windows-1252 */
        {"wait\xc2\x85 what", "wait\xe2\x80\xa6 what"},
    };
    fokus_bpe_pieces a = {0}, b = {0};
    fokus_error err;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const char *bad = pairs[i][0], *good = pairs[i][1];
        CHECK(fokus_bpe_encode(tok, bad, strlen(bad), &a, &err) == FOKUS_OK);
        CHECK(fokus_bpe_encode(tok, good, strlen(good), &b, &err) == FOKUS_OK);
        bool same = a.n == b.n;
        for (size_t k = 0; same && k < a.n; k++) same = a.items[k].id == b.items[k].id;
        CHECK_MSG(same, "mojibake pair %zu: %zu vs %zu tokens", i, a.n, b.n);
        /* spans point into the broken input and run in order */
        for (size_t k = 0; k < a.n; k++)
            CHECK(a.items[k].begin < a.items[k].end && a.items[k].end <= strlen(bad) &&
                  (k == 0 || a.items[k].begin >= a.items[k - 1].begin));
    }
    /* the first token of the double-encoded "d\u00e9j\u00e0" covers the 5 broken bytes of
     * "d\u00c3\u0083\u00c2\u00a9" ... */
    CHECK(fokus_bpe_encode(tok, pairs[0][0], strlen(pairs[0][0]), &a, &err) == FOKUS_OK);
    CHECK(a.n > 0 && a.items[0].begin == 0 && a.items[a.n - 1].end == strlen(pairs[0][0]));

    /* unusual but intact: ftfy must not touch these */
    static const char *const keep[] = {
        "caf\xc3\xa9 \xc2\xa9" "2024 \xc2\xb1" "5\xc2\xb0" "C",          /* Latin-1 symbols */
        "\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91 \xce\xbb\xcf\x8c\xce\xb3\xce\xbf\xcf\x82", /* Greek */
        "3\xc3\x97\xc2\xa3" "20 deal",                                /* 3x£20 */
        "na\xc3\xafve Bront\xc3\xab\xe2\x80\xa6",                /* naïve Brontë… */
        "\xe2\x94\x9c\xe2\x94\xa4 box \xe2\x94\xbc\xe2\x94\x90", /* box drawing */
        "Stra\xc3\x9f" "e \xc3\x84rger \xc3\x96l",                   /* German capitals */
    };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        CHECK(fokus_bpe_encode(tok, keep[i], strlen(keep[i]), &a, &err) == FOKUS_OK);
        CHECK(fokus_bpe_encode_ex(tok, keep[i], strlen(keep[i]), FOKUS_CLEAN_NO_FTFY, &b, &err) == FOKUS_OK);
        bool same = a.n == b.n;
        for (size_t k = 0; same && k < a.n; k++) same = a.items[k].id == b.items[k].id;
        CHECK_MSG(same, "intact text %zu was changed by ftfy", i);
    }
    fokus_bpe_pieces_free(&a);
    fokus_bpe_pieces_free(&b);
}

static void expect_spans(const char *text, size_t len, const size_t (*spans)[2], size_t n)
{
    fokus_bpe_pieces p = {0};
    fokus_error err;
    CHECK(fokus_bpe_encode(tok, text, len, &p, &err) == FOKUS_OK);
    CHECK_MSG(p.n == n, "\"%.*s\": %zu pieces, expected %zu", (int)len, text, p.n, n);
    for (size_t i = 0; i < n && i < p.n; i++)
        CHECK_MSG(p.items[i].begin == spans[i][0] && p.items[i].end == spans[i][1],
                  "\"%.*s\" piece %zu (id %d): span [%zu, %zu), expected [%zu, %zu)", (int)len, text, i,
                  p.items[i].id, p.items[i].begin, p.items[i].end, spans[i][0], spans[i][1]);
    fokus_bpe_pieces_free(&p);
}
#define SPANS(text, ...)                                                            \
    do {                                                                            \
        static const size_t s_[][2] = {__VA_ARGS__};                                \
        expect_spans(text, sizeof(text) - 1, s_, sizeof s_ / sizeof s_[0]);         \
    } while (0)

static void test_spans(void)
{
    if (!tok) { check_skip("no vocabulary"); return; }
    SPANS("A photo of a CAT", {0, 1}, {2, 7}, {8, 10}, {11, 12}, {13, 16});
    SPANS("   cat  ", {3, 6});
    /* an entity becomes one letter, which spans the whole entity */
    SPANS("caf&eacute; cr\xc3\xa8me", {0, 11}, {12, 14}, {14, 16}, {16, 18});
    /* NFC: e + combining acute compose into one character spanning both */
    SPANS("e\xcc\x81", {0, 3});
    SPANS("e\xcc\x81t\xc3\xa9", {0, 3}, {3, 6}); /* "\xc3\xa9" + "t\xc3\xa9</w>" */
    /* one CJK character split into byte tokens: all share its span */
    SPANS("\xe7\x8c\xab", {0, 3}, {0, 3}, {0, 3});
    /* ligature ﬆ becomes "st" (one token) */
    SPANS("\xef\xac\x86", {0, 3});
    /* invalid UTF-8: U+FFFD for the bad byte, then the word */
    SPANS("\xff" "cat", {0, 1}, {1, 4});
    /* CRLF and a fullwidth space are whitespace; words keep their own bytes */
    SPANS("a\r\nb\xe3\x80\x80" "c", {0, 1}, {3, 4}, {7, 8});
    /* a long word split in several pieces: consecutive spans inside the word */
    fokus_bpe_pieces p = {0};
    fokus_error err;
    const char *w = "hippopotomonstrosesquippedaliophobia";
    CHECK(fokus_bpe_encode(tok, w, strlen(w), &p, &err) == FOKUS_OK);
    CHECK(p.n == 10);
    size_t at = 0;
    for (size_t i = 0; i < p.n; i++) {
        CHECK(p.items[i].begin == at && p.items[i].end > at);
        at = p.items[i].end;
    }
    CHECK(at == strlen(w));
    fokus_bpe_pieces_free(&p);
}

static void test_decode(void)
{
    if (!tok) { check_skip("no vocabulary"); return; }
    fokus_bpe_pieces p = {0};
    fokus_error err;
    char *s = NULL;
    size_t len = 0;
    const char *text = "a photo of a cat, 8k";
    CHECK(fokus_bpe_encode(tok, text, strlen(text), &p, &err) == FOKUS_OK);
    int32_t ids[64];
    for (size_t i = 0; i < p.n; i++) ids[i] = p.items[i].id;
    CHECK(fokus_bpe_decode(tok, ids, p.n, &s, &len, &err) == FOKUS_OK);
    CHECK_STR(s, "a photo of a cat , 8 k ");
    CHECK(len == strlen(s));
    free(s);
    /* byte tokens of one character decode back to it; a lone byte token to U+FFFD */
    int32_t cat[] = {163, 234, 257};
    CHECK(fokus_bpe_encode(tok, "\xe7\x8c\xab", 3, &p, &err) == FOKUS_OK && p.n == 3);
    for (int i = 0; i < 3; i++) cat[i] = p.items[i].id;
    CHECK(fokus_bpe_decode(tok, cat, 3, &s, &len, &err) == FOKUS_OK);
    CHECK_STR(s, "\xe7\x8c\xab ");
    free(s);
    CHECK(fokus_bpe_decode(tok, cat, 1, &s, &len, &err) == FOKUS_OK);
    CHECK_STR(s, "\xef\xbf\xbd");
    free(s);
    int32_t special[] = {49406, 320, 49407};
    CHECK(fokus_bpe_decode(tok, special, 3, &s, &len, &err) == FOKUS_OK);
    CHECK_STR(s, "<|startoftext|>a <|endoftext|>");
    free(s);
    CHECK(fokus_bpe_decode(tok, NULL, 0, &s, &len, &err) == FOKUS_OK && len == 0 && s[0] == 0);
    free(s);
    int32_t bad[] = {5, 49408};
    s = NULL;
    CHECK(fokus_bpe_decode(tok, bad, 2, &s, &len, &err) == FOKUS_ERANGE && s == NULL);
    CHECK(strstr(err.msg, "ids[1]") != NULL);
    /* round trip: decoding and re-encoding every plain dev row gives its ids back */
    int same = 0, total = 0;
    for (size_t r = 0; r < n_rows; r++) {
        if (rows[r].ftfy || rows[r].n == 0) continue;
        CHECK(fokus_bpe_decode(tok, rows[r].ids, rows[r].n, &s, &len, &err) == FOKUS_OK);
        CHECK(fokus_bpe_encode(tok, s, len, &p, &err) == FOKUS_OK);
        same += same_ids(&p, rows[r].ids, rows[r].n);
        total++;
        free(s);
    }
    printf("# decode round trip: %d/%d plain rows re-encode to the same ids\n", same, total);
    /* "cat</w>" is the one row whose decoded text ("cat </w> "-like) cannot come back */
    CHECK(total == 0 || same >= total - 2);
    fokus_bpe_pieces_free(&p);
}

/* ---- loaders ---- */

static char tmpdir[256];

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* The merge lines the OpenAI tokenizer uses (48,894 after the header). */
static char *read_merges(size_t *len)
{
    gzFile g = gzopen(vocab_path, "rb");
    if (!g) return NULL;
    size_t cap = 1 << 22, n = 0;
    char *buf = malloc(cap);
    int k;
    while ((k = gzread(g, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)k;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    gzclose(g);
    /* keep the header and 48,894 lines */
    size_t lines = 0, i;
    for (i = 0; i < n && lines < 48895; i++) lines += buf[i] == '\n';
    *len = i;
    return buf;
}

static void compare_loader(const char *path, const char *what)
{
    fokus_bpe *t = NULL;
    fokus_error err;
    fokus_status st = fokus_bpe_load(&t, path, &err);
    CHECK_MSG(st == FOKUS_OK, "%s (%s): %s", what, path, st ? err.msg : "");
    if (st != FOKUS_OK) return;
    CHECK_EQ_INT(fokus_bpe_vocab_size(t), 49408);
    CHECK_EQ_INT(fokus_bpe_bos(t), 49406);
    CHECK_EQ_INT(fokus_bpe_eos(t), 49407);
    int ok[2], total[2], ref_ok[2], ref_total[2];
    encode_rows(t, ok, total, false);
    encode_rows(tok, ref_ok, ref_total, false);
    CHECK_MSG(ok[0] == ref_ok[0] && ok[1] == ref_ok[1], "%s: %d+%d rows match, OpenAI file %d+%d", what,
              ok[0], ok[1], ref_ok[0], ref_ok[1]);
    /* and id for id the same as the OpenAI-file tokenizer on every row */
    fokus_bpe_pieces a = {0}, b = {0};
    int differ = 0;
    for (size_t r = 0; r < n_rows; r++) {
        fokus_bpe_encode(t, rows[r].text, rows[r].len, &a, &err);
        fokus_bpe_encode(tok, rows[r].text, rows[r].len, &b, &err);
        bool same = a.n == b.n;
        for (size_t i = 0; same && i < a.n; i++)
            same = a.items[i].id == b.items[i].id && a.items[i].begin == b.items[i].begin &&
                   a.items[i].end == b.items[i].end;
        differ += !same;
    }
    CHECK_MSG(differ == 0, "%s: %d rows differ from the OpenAI-file tokenizer", what, differ);
    fokus_bpe_pieces_free(&a);
    fokus_bpe_pieces_free(&b);
    fokus_bpe_free(t);
}

static void test_loaders(void)
{
    if (!tok) { check_skip("no vocabulary"); return; }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fokus_bpe_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    size_t mlen = 0;
    char *merges = read_merges(&mlen);
    CHECK(merges != NULL);
    if (!merges) return;

    /* vocab.json from the tokenizer's own token strings */
    json_t *vocab = json_object();
    for (int32_t id = 0; id < fokus_bpe_vocab_size(tok); id++)
        json_object_set_new(vocab, fokus_bpe_token(tok, id), json_integer(id));
    char *vj = json_dumps(vocab, JSON_COMPACT);
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/hf", tmpdir);
    mkdir(dir, 0700);
    write_file(dir, "vocab.json", vj, strlen(vj));
    /* merges.txt: HF writes "#version: 0.2" then the same lines */
    const char *nl = memchr(merges, '\n', mlen);
    size_t body = mlen - (size_t)(nl + 1 - merges);
    char *mt = malloc(body + 32);
    int h = sprintf(mt, "#version: 0.2\n");
    memcpy(mt + h, nl + 1, body);
    write_file(dir, "merges.txt", mt, (size_t)h + body);
    compare_loader(dir, "HF folder");
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    compare_loader(path, "HF vocab.json");
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    compare_loader(path, "HF merges.txt");

    /* tokenizer.json, merges as "a b" strings and as [a, b] pairs */
    for (int style = 0; style < 2; style++) {
        json_t *root = json_object(), *model = json_object(), *ml = json_array(), *added = json_array();
        const char *p = nl + 1, *end = merges + mlen;
        while (p < end) {
            const char *e = memchr(p, '\n', (size_t)(end - p));
            if (!e) e = end;
            const char *sp = memchr(p, ' ', (size_t)(e - p));
            if (sp) {
                if (style == 0) {
                    json_array_append_new(ml, json_stringn(p, (size_t)(e - p)));
                } else {
                    json_t *pair = json_array();
                    json_array_append_new(pair, json_stringn(p, (size_t)(sp - p)));
                    json_array_append_new(pair, json_stringn(sp + 1, (size_t)(e - sp - 1)));
                    json_array_append_new(ml, pair);
                }
            }
            p = e + 1;
        }
        /* special tokens only as added_tokens, as in some exported files */
        json_t *v2 = json_deep_copy(vocab);
        json_object_del(v2, "<|startoftext|>");
        json_object_del(v2, "<|endoftext|>");
        json_t *a1 = json_pack("{s:i, s:s, s:b}", "id", 49406, "content", "<|startoftext|>", "special", 1);
        json_t *a2 = json_pack("{s:i, s:s, s:b}", "id", 49407, "content", "<|endoftext|>", "special", 1);
        json_array_append_new(added, a1);
        json_array_append_new(added, a2);
        json_object_set_new(model, "type", json_string("BPE"));
        json_object_set_new(model, "vocab", v2);
        json_object_set_new(model, "merges", ml);
        json_object_set_new(model, "end_of_word_suffix", json_string("</w>"));
        json_object_set_new(root, "version", json_string("1.0"));
        json_object_set_new(root, "added_tokens", added);
        json_object_set_new(root, "model", model);
        char *tj = json_dumps(root, JSON_COMPACT);
        char name[64];
        snprintf(name, sizeof name, "tokenizer%d.json", style);
        write_file(tmpdir, name, tj, strlen(tj));
        snprintf(path, sizeof path, "%s/%s", tmpdir, name);
        compare_loader(path, style ? "tokenizer.json [a, b] merges" : "tokenizer.json \"a b\" merges");
        fokus_error err;
        fokus_bpe *t = NULL;
        CHECK(fokus_bpe_load_tokenizer_json_mem(&t, tj, strlen(tj), "mem", &err) == FOKUS_OK);
        fokus_bpe_free(t);
        free(tj);
        json_decref(root);
    }
    /* the plain (uncompressed) OpenAI text, from memory and from a file */
    write_file(tmpdir, "bpe_simple_vocab_16e6.txt", merges, mlen);
    snprintf(path, sizeof path, "%s/bpe_simple_vocab_16e6.txt", tmpdir);
    compare_loader(path, "OpenAI .txt");
    fokus_error err;
    fokus_bpe *t = NULL;
    CHECK(fokus_bpe_load_openai_mem(&t, merges, mlen, NULL, &err) == FOKUS_OK);
    CHECK(t && fokus_bpe_vocab_size(t) == 49408);
    fokus_bpe_free(t);
    /* FOKUS_CLIP_VOCAB when no path is given */
    setenv("FOKUS_CLIP_VOCAB", vocab_path, 1);
    t = NULL;
    CHECK(fokus_bpe_load(&t, NULL, &err) == FOKUS_OK && t != NULL);
    fokus_bpe_free(t);
    unsetenv("FOKUS_CLIP_VOCAB");
    t = NULL;
    CHECK(fokus_bpe_load(&t, NULL, &err) == FOKUS_EINVAL && t == NULL);
    CHECK(strstr(err.msg, "FOKUS_CLIP_VOCAB") != NULL);

    free(vj);
    free(mt);
    free(merges);
    json_decref(vocab);
}

/* A broken file must give `st` and a message starting with the path. */
static void expect_fail(const char *path, fokus_status want, const char *what)
{
    fokus_bpe *t = (fokus_bpe *)&t;
    fokus_error err = {{0}};
    fokus_status st = fokus_bpe_load(&t, path, &err);
    CHECK_MSG(st == want, "%s: status %s, expected %s (%s)", what, fokus_status_name(st),
              fokus_status_name(want), err.msg);
    CHECK_MSG(t == NULL, "%s: output not cleared", what);
    CHECK_MSG(strncmp(err.msg, path, strlen(path)) == 0, "%s: message \"%s\" does not start with the path",
              what, err.msg);
}

static void test_broken_files(void)
{
    if (!tok || !tmpdir[0]) { check_skip("no vocabulary"); return; }
    char dir[600], path[700];
    snprintf(path, sizeof path, "%s/missing.txt.gz", tmpdir);
    expect_fail(path, FOKUS_EIO, "missing file");

    /* truncated gzip */
    FILE *f = fopen(vocab_path, "rb");
    char *gz = malloc(1 << 21);
    size_t n = f ? fread(gz, 1, 1 << 21, f) : 0;
    if (f) fclose(f);
    write_file(tmpdir, "trunc.txt.gz", gz, n / 3);
    snprintf(path, sizeof path, "%s/trunc.txt.gz", tmpdir);
    expect_fail(path, FOKUS_EFORMAT, "truncated gzip");
    gz[n / 2] ^= 0x55; /* corrupt in the middle */
    write_file(tmpdir, "corrupt.txt.gz", gz, n);
    snprintf(path, sizeof path, "%s/corrupt.txt.gz", tmpdir);
    expect_fail(path, FOKUS_EFORMAT, "corrupt gzip");
    free(gz);

    write_file(tmpdir, "empty.txt", "", 0);
    snprintf(path, sizeof path, "%s/empty.txt", tmpdir);
    expect_fail(path, FOKUS_EFORMAT, "empty file");
    write_file(tmpdir, "binary.txt", "#v\n\xff\xfe \x80\n", 9);
    snprintf(path, sizeof path, "%s/binary.txt", tmpdir);
    expect_fail(path, FOKUS_EFORMAT, "not UTF-8");
    write_file(tmpdir, "three.txt", "#v\na b c\n", 9);
    snprintf(path, sizeof path, "%s/three.txt", tmpdir);
    expect_fail(path, FOKUS_EFORMAT, "three symbols on a line");

    snprintf(dir, sizeof dir, "%s/bad", tmpdir);
    mkdir(dir, 0700);
    expect_fail(dir, FOKUS_EIO, "folder without vocabulary");
    write_file(dir, "vocab.json", "{\"a\": 1", 7);
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    expect_fail(path, FOKUS_EFORMAT, "truncated JSON");
    write_file(dir, "vocab.json", "{\"a\": 1}", 8);
    expect_fail(path, FOKUS_EIO, "vocab.json without merges.txt");
    write_file(dir, "merges.txt", "#version: 0.2\na b\n", 18);
    expect_fail(path, FOKUS_EFORMAT, "vocab.json without byte symbols");
    write_file(dir, "vocab.json", "{\"a\": \"x\"}", 10);
    expect_fail(path, FOKUS_EFORMAT, "non-integer id");
    write_file(dir, "vocab.json", "{\"a\": 99999999999}", 18);
    expect_fail(path, FOKUS_EFORMAT, "huge id");
    write_file(dir, "vocab.json", "[1, 2]", 6);
    expect_fail(path, FOKUS_EFORMAT, "vocab.json not an object");
    write_file(dir, "tok.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": 5}}", 58);
    snprintf(path, sizeof path, "%s/tok.json", dir);
    expect_fail(path, FOKUS_EFORMAT, "tokenizer.json merges not an array");
    write_file(dir, "tok.json", "{\"model\": {\"type\": \"WordPiece\"}}", 33);
    expect_fail(path, FOKUS_EFORMAT, "tokenizer.json not BPE");
    write_file(dir, "tok.json", "{\"model\": 3}", 12);
    expect_fail(path, FOKUS_EFORMAT, "tokenizer.json model not an object");

    /* a merge whose result is not in vocab.json */
    fokus_bpe *t = NULL;
    fokus_error err;
    json_t *vocab = json_object();
    for (int32_t id = 0; id < 512; id++) json_object_set_new(vocab, fokus_bpe_token(tok, id), json_integer(id));
    json_object_set_new(vocab, "<|startoftext|>", json_integer(512));
    json_object_set_new(vocab, "<|endoftext|>", json_integer(513));
    char *vj = json_dumps(vocab, 0);
    CHECK(fokus_bpe_load_hf_mem(&t, vj, strlen(vj), "#version: 0.2\n", 14, "v.json", &err) == FOKUS_OK);
    fokus_bpe_pieces p = {0};
    CHECK(t && fokus_bpe_encode(t, "cat", 3, &p, &err) == FOKUS_OK && p.n == 3); /* bytes only */
    fokus_bpe_pieces_free(&p);
    fokus_bpe_free(t);
    t = NULL;
    CHECK(fokus_bpe_load_hf_mem(&t, vj, strlen(vj), "c a\n", 4, "v.json", &err) == FOKUS_EFORMAT);
    CHECK(t == NULL && strncmp(err.msg, "v.json: merge 1", 15) == 0);
    free(vj);
    json_decref(vocab);
}

/* ---- threads: one tokenizer, several threads, same answers ---- */

typedef struct { int ok; } thread_arg;

static void *encode_all(void *argp)
{
    thread_arg *a = argp;
    fokus_bpe_pieces p = {0};
    fokus_error err;
    a->ok = 1;
    for (int rep = 0; rep < 20; rep++)
        for (size_t r = 0; r < n_rows; r++) {
            if (fokus_bpe_encode(tok, rows[r].text, rows[r].len, &p, &err) != FOKUS_OK) a->ok = 0;
            if (!rows[r].ftfy && !same_ids(&p, rows[r].ids, rows[r].n)) a->ok = 0;
        }
    fokus_bpe_pieces_free(&p);
    return NULL;
}

static void test_threads(void)
{
    if (!tok || !n_rows) { check_skip("no vocabulary"); return; }
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, encode_all, &args[i]);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) CHECK(args[i].ok);
}

/* ---- bounded work on hostile input ---- */

static void test_large_inputs(void)
{
    if (!tok) { check_skip("no vocabulary"); return; }
    size_t n = 1 << 20;
    char *s = malloc(n);
    fokus_bpe_pieces p = {0};
    fokus_error err;
    const char fills[][4] = {"(", "a", "\xff", "&", "e\xcc\x81"};
    for (size_t k = 0; k < sizeof fills / sizeof fills[0]; k++) {
        size_t fl = strlen(fills[k]);
        for (size_t i = 0; i < n; i++) s[i] = fills[k][i % fl];
        double t0 = fokus_clock();
        fokus_status st = fokus_bpe_encode(tok, s, n, &p, &err);
        double dt = fokus_clock() - t0;
        CHECK_MSG(st == FOKUS_OK, "1 MiB of '%s': %s", fills[k], err.msg);
        printf("# 1 MiB of \"%s\": %zu tokens in %.3f s\n", k == 2 ? "\\xff" : fills[k], p.n, dt);
        for (size_t i = 0; i < p.n; i++)
            if (p.items[i].end > n || p.items[i].begin >= p.items[i].end) {
                CHECK_MSG(0, "bad span at piece %zu", i);
                break;
            }
    }
    /* nested entities: ftfy needs one round per level, within its work budget */
    const char *amp = "tom &amp;amp;amp;amp; jerry";
    CHECK(fokus_bpe_encode(tok, amp, strlen(amp), &p, &err) == FOKUS_OK && p.n == 3);
    fokus_bpe_pieces_free(&p);
    free(s);
}

int main(void)
{
    const char *shared = check_shared_dir();
    if (shared) {
        snprintf(vocab_path, sizeof vocab_path, "%.3900s/clip/bpe_simple_vocab_16e6.txt.gz", shared);
        snprintf(oracle_path, sizeof oracle_path, "%.3900s/oracles/clip_tokens_dev.jsonl", shared);
        fokus_error err;
        if (fokus_bpe_load(&tok, vocab_path, &err) != FOKUS_OK) {
            CHECK_MSG(0, "loading %s: %s", vocab_path, err.msg);
            tok = NULL;
        }
        load_rows();
    } else {
        fprintf(stderr, "SKIP test_bpe: ../shared (or $FOKUS_SHARED) is absent; the tokenizer tests need "
                        "shared/clip/bpe_simple_vocab_16e6.txt.gz and shared/oracles/\n");
    }
    RUN(test_dev_rows);
    RUN(test_special_tokens);
    RUN(test_empty);
    RUN(test_spans);
    RUN(test_ftfy);
    RUN(test_decode);
    RUN(test_loaders);
    RUN(test_broken_files);
    RUN(test_threads);
    RUN(test_large_inputs);
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    for (size_t i = 0; i < n_rows; i++) {
        free(rows[i].text);
        free(rows[i].ids);
    }
    free(rows);
    fokus_bpe_free(tok);
    return check_summary("test_bpe");
}
