/* tests/fuzz/replay.c: replays a fuzz corpus without libFuzzer (make test / make unit).
 * Usage: replay_<target> CORPUS_DIR. Prints "PASS replay_<name>" per file; a crash aborts the
 * process (non-zero exit), which the runner reports. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t cap = 4096, len = 0;
    uint8_t *data = malloc(cap);
    size_t n;
    while ((n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            data = realloc(data, cap);
        }
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    struct dirent **names;
    int n = scandir(argv[1], &names, NULL, by_name);
    if (n < 0) {
        perror(argv[1]);
        return 1;
    }
    int failed = 0, files = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]->d_name);
            if (replay_file(path) == 0) {
                printf("PASS replay_%s\n", names[i]->d_name);
                files++;
            } else {
                printf("FAIL replay_%s: cannot read\n", names[i]->d_name);
                failed++;
            }
        }
        free(names[i]);
    }
    free(names);
    if (files == 0 && failed == 0) {
        printf("FAIL replay: empty corpus %s\n", argv[1]);
        return 1;
    }
    return failed ? 1 : 0;
}
