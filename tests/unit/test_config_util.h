/* Helpers for the config module's unit tests: temporary YAML files, loading with overrides, capturing
 * stderr (LOG_WARN lines), and finding files of the source tree. Header-only; each test_config_*.c is its
 * own executable. */
#ifndef TEST_CONFIG_UTIL_H
#define TEST_CONFIG_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/config/config.h"

static char tcu_dir[512];
static int tcu_seq;

/* A fresh directory under $FERRY_TEST_TMP (or /tmp) for this process. */
static __attribute__((unused)) const char *tcu_tmpdir(void)
{
    if (tcu_dir[0])
        return tcu_dir;
    const char *base = getenv("FERRY_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(tcu_dir, sizeof tcu_dir, "%s/config-XXXXXX", base);
    assert_non_null(mkdtemp(tcu_dir));
    return tcu_dir;
}

/* Write `text` to a new file in the temp dir; the path is returned in a static rotating buffer. */
static __attribute__((unused)) const char *tcu_write(const char *text)
{
    static char paths[4][600];
    char *path = paths[tcu_seq % 4];
    snprintf(path, sizeof paths[0], "%s/cfg-%d.yaml", tcu_tmpdir(), tcu_seq++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static char tcu_err[1024];

/* config_load from YAML text (NULL = no file) and up to 8 overrides, NULL-terminated. */
static __attribute__((unused)) int tcu_load(struct ferry_config *cfg, const char *yaml, ...)
{
    const char *sets[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, yaml);
    const char *s;
    while (n < 8 && (s = va_arg(ap, const char *)))
        sets[n++] = s;
    va_end(ap);
    tcu_err[0] = '\0';
    return config_load(cfg, yaml ? tcu_write(yaml) : NULL, sets, n, tcu_err, sizeof tcu_err);
}

#define LOAD_OK(cfg, ...)                                                                                              \
    do {                                                                                                               \
        int rc_ = tcu_load((cfg), __VA_ARGS__, NULL);                                                                  \
        if (rc_ != 0)                                                                                                  \
            fail_msg("config_load failed (%d): %s", rc_, tcu_err);                                                     \
    } while (0)

/* Expect failure with `rc`; the message must contain every one of the given fragments. */
static __attribute__((unused)) void tcu_expect_fail(int rc, int want_rc, const char *const *fragments)
{
    if (rc != want_rc)
        fail_msg("config_load returned %d, wanted %d; message: %s", rc, want_rc, tcu_err);
    for (size_t i = 0; fragments[i]; i++)
        if (!strstr(tcu_err, fragments[i]))
            fail_msg("message '%s' lacks '%s'", tcu_err, fragments[i]);
}

#define LOAD_FAILS(want_rc, yaml, sets, ...)                                                                           \
    do {                                                                                                               \
        struct ferry_config c_;                                                                                        \
        const char *frag_[] = {__VA_ARGS__, NULL};                                                                     \
        const char *const *s_ = sets;                                                                                  \
        size_t n_ = 0;                                                                                                 \
        while (s_ && s_[n_])                                                                                           \
            n_++;                                                                                                      \
        tcu_err[0] = '\0';                                                                                             \
        const char *y_ = (yaml);                                                                                       \
        int rc_ = config_load(&c_, y_ ? tcu_write(y_) : NULL, s_, n_, tcu_err, sizeof tcu_err);                        \
        if (rc_ == 0)                                                                                                  \
            config_free(&c_);                                                                                          \
        tcu_expect_fail(rc_, (want_rc), frag_);                                                                        \
    } while (0)

#define SETS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* stderr capture, for LOG_WARN lines. */
static int tcu_saved_stderr = -1;
static char tcu_capture_path[600];

static __attribute__((unused)) void tcu_capture_start(void)
{
    fflush(stderr);
    snprintf(tcu_capture_path, sizeof tcu_capture_path, "%s/stderr-%d.txt", tcu_tmpdir(), tcu_seq++);
    int fd = open(tcu_capture_path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    assert_true(fd >= 0);
    tcu_saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

/* Stop capturing; returns what was written (static buffer). */
static __attribute__((unused)) const char *tcu_capture_stop(void)
{
    static char text[8192];
    fflush(stderr);
    dup2(tcu_saved_stderr, 2);
    close(tcu_saved_stderr);
    FILE *f = fopen(tcu_capture_path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    fputs(text, stderr); /* keep it visible in the test log */
    return text;
}

/* A file of the source tree, found from this header's path. */
static __attribute__((unused)) const char *tcu_source_path(const char *rel)
{
    static char path[1024];
    const char *here = __FILE__; /* .../tests/unit/test_config_util.h */
    const char *cut = strstr(here, "tests/unit/test_config_util.h");
    if (!cut)
        return NULL;
    snprintf(path, sizeof path, "%.*s%s", (int)(cut - here), here, rel);
    return path;
}

static __attribute__((unused)) char *tcu_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

#endif
