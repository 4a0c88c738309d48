/* main: the `ferry` command line; dispatches to the subcommands in cli.h. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int usage(FILE *out)
{
    fprintf(out, "usage: ferry <command> [options]\n"
                 "  server  [--config FILE] [--set KEY=VALUE]...   run a node\n"
                 "  storage format|random-uuid ...                  prepare log directories\n"
                 "  topics  create|delete|list|describe ...         manage topics through any broker\n"
                 "  quorum  describe --status|--replication ...     describe the KRaft metadata quorum\n"
                 "Run 'ferry <command> --help' for a command's options.\n");
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return usage(stdout);
    if (strcmp(argv[1], "server") == 0)
        return cli_server_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "storage") == 0)
        return cli_storage_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "topics") == 0)
        return cli_topics_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "quorum") == 0)
        return cli_quorum_main(argc - 2, argv + 2);
    fprintf(stderr, "ferry: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
