/* cli_args: argument-parsing pieces shared by the operator subcommands (topics, quorum): Kafka-style
 * "--name value" / "--name=value" options, bounded integers, and the usage-error message. */
#ifndef FERRY_CLI_ARGS_H
#define FERRY_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_EXIT_USAGE 2

/* Prints "ferry <cmd>: <message>" and the --help hint to err; returns CLI_EXIT_USAGE. */
int cli_usage_error(FILE *err, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A base-10 integer in [min, max] filling the whole string. */
bool cli_parse_int(const char *s, long min, long max, int32_t *out);

/* argv[*i] as one of the options in names[0..n) that take a value ("--name value" or "--name=value"): sets
 * *name (the matched entry) and *value, advancing *i past a separate value. Returns 0, or CLI_EXIT_USAGE
 * after printing why (unknown option, missing value) as `ferry <cmd>`. */
int cli_value_option(int argc, char **argv, int *i, const char *const *names, size_t n, const char *cmd, FILE *err,
                     const char **name, const char **value);

#endif
