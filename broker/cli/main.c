/* main: the `ferry` command line: `ferry server`, `ferry storage`, `ferry topics`. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: ferry server|storage|topics ...\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "ferry: unknown command '%s'\n", argv[1]);
    return 2;
}
