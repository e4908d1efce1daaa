/* replay.c — a fuzz target without libFuzzer: runs LLVMFuzzerTestOneInput
 * on every file named, or in a directory named (not recursively). The normal
 * build's regression test of the inputs that once crashed a target, and of
 * its seeds. Fails when a path cannot be read or there is no input at all. */
#include "fuzz.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

/* Runs the target on one file; 0, or -1 if it cannot be read. */
static int replay_file(const char *path) {
    printf("%s\n", path); /* the last line names the input of a crash */
    fflush(stdout);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st)) {
        if (f) fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size + 1); /* + 1: never malloc(0) */
    int bad = !data || fread(data, 1, size, f) != size;
    fclose(f);
    if (!bad) LLVMFuzzerTestOneInput(data, size);
    free(data);
    return bad ? -1 : 0;
}

int main(int argc, char **argv) {
    int n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *dir = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? opendir(argv[i]) : NULL;
        if (!dir) {
            if (replay_file(argv[i])) {
                fprintf(stderr, "replay: cannot read %s\n", argv[i]);
                return 1;
            }
            n++;
            continue;
        }
        for (struct dirent *e; (e = readdir(dir));) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (e->d_name[0] == '.' || stat(path, &st) || !S_ISREG(st.st_mode)) continue;
            if (replay_file(path)) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                return 1;
            }
            n++;
        }
        closedir(dir);
    }
    printf("replayed %d inputs\n", n);
    return n > 0 ? 0 : 1;
}
