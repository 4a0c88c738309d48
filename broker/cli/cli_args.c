/* cli_args: see cli_args.h. */
#include "cli_args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(FILE *err, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(err, "ferry %s: ", cmd);
    vfprintf(err, fmt, ap);
    fprintf(err, "\nRun 'ferry %s --help' for usage.\n", cmd);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

bool cli_parse_int(const char *s, long min, long max, int32_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = (int32_t)v;
    return true;
}

int cli_value_option(int argc, char **argv, int *i, const char *const *names, size_t n, const char *cmd, FILE *err,
                     const char **name, const char **value)
{
    const char *arg = argv[*i];
    size_t namelen = strcspn(arg, "=");
    *name = NULL;
    for (size_t k = 0; k < n; k++)
        if (strlen(names[k]) == namelen && strncmp(arg, names[k], namelen) == 0)
            *name = names[k];
    if (!*name)
        return cli_usage_error(err, cmd, "unknown option or argument '%s'", arg);
    if (arg[namelen] == '=')
        *value = arg + namelen + 1;
    else if (*i + 1 < argc)
        *value = argv[++*i];
    else
        return cli_usage_error(err, cmd, "option %s needs a value", *name);
    return 0;
}
