/* log_fs: see log_fs.h. */
#define _GNU_SOURCE /* syncfs */
#include "log_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"

char *log_path_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = ferry_malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *log_path_join(const char *a, const char *b) { return log_path_fmt("%s/%s", a, b); }

char *log_segment_path(const char *dir, int64_t base_offset, const char *suffix)
{
    return log_path_fmt("%s/%020lld%s", dir, (long long)base_offset, suffix);
}

bool log_parse_segment_name(const char *name, const char *suffix, int64_t *base_offset)
{
    size_t n = strlen(name), sl = strlen(suffix);
    if (n != 20 + sl || strcmp(name + 20, suffix) != 0)
        return false;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        if (v > (INT64_MAX - (name[i] - '0')) / 10)
            return false;
        v = v * 10 + (name[i] - '0');
    }
    *base_offset = v;
    return true;
}

int log_pread_full(int fd, void *buf, size_t len, off_t pos)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FERRY_EIO;
        }
        if (n == 0)
            return FERRY_ERANGE;
        p += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}

int log_pwrite_full(int fd, const void *buf, size_t len, off_t pos)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FERRY_EIO;
        }
        p += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}

int log_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return FERRY_EIO;
    int rc = fsync(fd) == 0 ? 0 : FERRY_EIO;
    close(fd);
    return rc;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ferry_strdup(".");
    if (slash == path)
        return ferry_strdup("/");
    return ferry_strndup(path, (size_t)(slash - path));
}

int log_write_file_atomic(const char *path, const void *data, size_t len)
{
    return log_write_file_replace(path, data, len, true);
}

int log_write_file_replace(const char *path, const void *data, size_t len, bool sync)
{
    int rc = FERRY_ENOMEM;
    char *tmp = log_path_fmt("%s.tmp", path);
    char *dir = dir_of(path);
    if (!tmp || !dir)
        goto free_names;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = FERRY_EIO;
        goto free_names;
    }
    rc = log_pwrite_full(fd, data, len, 0);
    if (rc == 0 && sync && fsync(fd) != 0)
        rc = FERRY_EIO;
    if (close(fd) != 0 && rc == 0)
        rc = FERRY_EIO;
    if (rc != 0)
        goto remove_tmp;
    if (rename(tmp, path) != 0) {
        rc = FERRY_EIO;
        goto remove_tmp;
    }
    rc = sync ? log_fsync_dir(dir) : 0;
    goto free_names;
remove_tmp:
    unlink(tmp);
free_names:
    ferry_free(tmp);
    ferry_free(dir);
    return rc;
}

int log_read_file(const char *path, size_t max_len, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO;
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = FERRY_EIO;
        goto close_fd;
    }
    if ((uint64_t)st.st_size > max_len) {
        rc = FERRY_ETOOBIG;
        goto close_fd;
    }
    size_t len = (size_t)st.st_size;
    char *buf = ferry_malloc(len + 1);
    if (!buf) {
        rc = FERRY_ENOMEM;
        goto close_fd;
    }
    rc = log_pread_full(fd, buf, len, 0);
    if (rc != 0) {
        ferry_free(buf);
        goto close_fd;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
close_fd:
    close(fd);
    return rc;
}

int log_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0)
        return 0;
    if (errno == ENOENT) {
        /* Create the parents first (mkdir -p). */
        char *parent = ferry_strdup(path);
        if (!parent)
            return FERRY_ENOMEM;
        char *slash = strrchr(parent, '/');
        while (slash && slash > parent && slash[1] == '\0') { /* trailing slashes */
            *slash = '\0';
            slash = strrchr(parent, '/');
        }
        int rc = FERRY_EIO;
        if (slash && slash != parent) {
            *slash = '\0';
            rc = log_mkdir(parent);
        }
        ferry_free(parent);
        if (rc)
            return rc;
        if (mkdir(path, 0755) == 0)
            return 0;
    }
    if (errno != EEXIST)
        return FERRY_EIO;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return FERRY_EIO;
    return 0;
}

int log_mkdir_new(const char *path)
{
    if (mkdir(path, 0755) == 0)
        return 0;
    return errno == EEXIST ? FERRY_EEXIST : FERRY_EIO;
}

int log_sync_filesystem(const char *path)
{
#ifdef __linux__
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return FERRY_EIO;
    int rc = syncfs(fd) == 0 ? 0 : FERRY_EIO;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
#else
    (void)path;
    sync();
    return 0;
#endif
}

bool log_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int log_rename_noreplace(const char *from, const char *to)
{
    /* renameat2(RENAME_NOREPLACE) is not on every filesystem; link+unlink is not either. A check before
     * the rename is enough here: only this process writes its log directories (the .lock file). */
    if (log_path_exists(to))
        return FERRY_EEXIST;
    return rename(from, to) == 0 ? 0 : FERRY_EIO;
}

int log_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : FERRY_EIO;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? 0 : FERRY_EIO;
    DIR *d = opendir(path);
    if (!d)
        return FERRY_EIO;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *child = log_path_join(path, e->d_name);
        if (!child) {
            rc = FERRY_ENOMEM;
            break;
        }
        int r = log_remove_tree(child);
        ferry_free(child);
        if (r != 0 && rc == 0)
            rc = r;
    }
    closedir(d);
    if (rc == 0 && rmdir(path) != 0 && errno != ENOENT)
        rc = FERRY_EIO;
    return rc;
}
