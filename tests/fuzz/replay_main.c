/* Runs a fuzz target over files (the committed corpus and the regressions),
 * so that `make test` replays every input that ever mattered, with the
 * sanitizers of the test build, no libFuzzer needed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    for (int k = 1; k < argc; k++) {
        FILE *f = fopen(argv[k], "rb");
        if (!f) {
            fprintf(stderr, "replay: cannot open %s\n", argv[k]);
            return 2;
        }
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0, got;
        do {
            if (len == cap) {
                cap = cap ? 2 * cap : 4096;
                uint8_t *grown = realloc(buf, cap);
                if (!grown) {
                    free(buf);
                    fclose(f);
                    return 2;
                }
                buf = grown;
            }
            got = fread(buf + len, 1, cap - len, f);
            len += got;
        } while (got);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
