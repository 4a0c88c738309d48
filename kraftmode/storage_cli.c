/* storage_cli: `ferry storage format|random-uuid`, the counterpart of kafka-storage.sh.
 *
 *   ferry storage random-uuid
 *   ferry storage format --config FILE --cluster-id ID [--ignore-formatted]
 *
 * Exit status: 0 success, 1 failure (the reason on stderr), 2 usage error. */
#include <stdio.h>
#include <string.h>

#include "broker/cli/cli.h"
#include "broker/common/ferry_err.h"
#include "broker/config/config.h"
#include "kraftmode/storage.h"

static const char usage_text[] =
    "usage: ferry storage <command> [options]\n"
    "  random-uuid                        print a random cluster id (22 characters of base64url)\n"
    "  format --config FILE --cluster-id ID [--ignore-formatted]\n"
    "                                     write meta.properties and bootstrap.checkpoint into every log\n"
    "                                     directory (log.dirs and metadata.log.dir) that is not formatted\n"
    "    -c, --config FILE                the node's configuration file (quorum mode: process.roles set)\n"
    "    -t, --cluster-id ID              the cluster id, as printed by 'ferry storage random-uuid'\n"
    "    -g, --ignore-formatted           skip directories that are already formatted instead of failing\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static int usage(FILE *out, const char *problem)
{
    if (problem)
        fprintf(out, "ferry storage: %s\n", problem);
    fputs(usage_text, out);
    return out == stdout ? 0 : 2;
}

static int cmd_random_uuid(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout, NULL);
        char msg[256];
        snprintf(msg, sizeof msg, "random-uuid takes no arguments (got '%s')", argv[i]);
        return usage(stderr, msg);
    }
    char id[23];
    if (storage_random_uuid(id) != 0) {
        fprintf(stderr, "ferry storage: cannot read random bytes from the system\n");
        return 1;
    }
    printf("%s\n", id);
    return 0;
}

static int cmd_format(int argc, char **argv)
{
    const char *config_path = NULL, *cluster_id = NULL;
    bool ignore_formatted = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout, NULL);
        if (strcmp(a, "--ignore-formatted") == 0 || strcmp(a, "-g") == 0) {
            ignore_formatted = true;
        } else if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
            if (i + 1 >= argc)
                return usage(stderr, "--config needs a file name");
            config_path = argv[++i];
        } else if (strcmp(a, "--cluster-id") == 0 || strcmp(a, "-t") == 0) {
            if (i + 1 >= argc)
                return usage(stderr, "--cluster-id needs a value");
            cluster_id = argv[++i];
        } else {
            char msg[256];
            snprintf(msg, sizeof msg, "unexpected argument '%s'", a);
            return usage(stderr, msg);
        }
    }
    if (!config_path)
        return usage(stderr, "format needs --config FILE");
    if (!cluster_id)
        return usage(stderr, "format needs --cluster-id ID (make one with 'ferry storage random-uuid')");
    struct ferry_config cfg;
    char err[1024];
    if (config_load(&cfg, config_path, NULL, 0, err, sizeof err) != 0) {
        fprintf(stderr, "ferry storage: %s\n", err);
        return 1;
    }
    struct storage_format_opts opts = {.cluster_id = cluster_id, .ignore_formatted = ignore_formatted, .out = stdout};
    int rc = storage_format(&cfg, &opts, err, sizeof err);
    config_free(&cfg);
    if (rc) {
        fprintf(stderr, "ferry storage: %s\n", err);
        return 1;
    }
    return 0;
}

int cli_storage_main(int argc, char **argv)
{
    if (argc < 1)
        return usage(stderr, "a command is needed");
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "help") == 0)
        return usage(stdout, NULL);
    if (strcmp(argv[0], "random-uuid") == 0)
        return cmd_random_uuid(argc - 1, argv + 1);
    if (strcmp(argv[0], "format") == 0)
        return cmd_format(argc - 1, argv + 1);
    char msg[256];
    snprintf(msg, sizeof msg, "unknown command '%s'", argv[0]);
    return usage(stderr, msg);
}
