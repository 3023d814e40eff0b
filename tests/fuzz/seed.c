/* Writes a libFuzzer seed corpus from the dev oracles: every string value of `field`
 * in a .jsonl file becomes one file in `outdir`. Usage: seed FILE.jsonl FIELD OUTDIR */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s FILE.jsonl FIELD OUTDIR\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) return 1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int n = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_error_t e;
        json_t *row = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, &e);
        json_t *v = row ? json_object_get(row, argv[2]) : NULL;
        if (json_is_string(v)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/seed-%s-%04d", argv[3], argv[2], n++);
            FILE *o = fopen(path, "wb");
            if (o) {
                fwrite(json_string_value(v), 1, json_string_length(v), o);
                fclose(o);
            }
        }
        json_decref(row);
    }
    free(line);
    fclose(f);
    printf("%d seeds from %s\n", n, argv[1]);
    return 0;
}
