/* test_kraft_fixture: the start and end of every quorum-node test fixture: a fresh directory and a config
 * whose log.dirs points into it, and the directory's removal. */
#ifndef TEST_KRAFT_FIXTURE_H
#define TEST_KRAFT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "broker/config/config.h"

/* Makes <FERRY_TEST_TMP or /tmp>/<prefix>-XXXXXX in dir and loads cfg with log.dirs=<dir>/data; fails the
 * test on any error. */
static void kraft_fixture_config(char *dir, size_t dirlen, const char *prefix, struct ferry_config *cfg)
{
    const char *base = getenv("FERRY_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(dir, dirlen, "%s/%s-XXXXXX", base, prefix);
    assert_non_null(mkdtemp(dir));
    char set[600];
    snprintf(set, sizeof set, "log.dirs=%s/data", dir);
    const char *overrides[] = {set};
    char err[512];
    if (config_load(cfg, NULL, overrides, 1, err, sizeof err) != 0)
        fail_msg("config: %s", err);
}

/* Removes the fixture's directory tree; fails the test if it cannot. */
static inline void kraft_fixture_remove_dir(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

#endif
