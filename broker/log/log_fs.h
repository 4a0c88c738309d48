/* log_fs: small POSIX file helpers for the log module (internal). Full reads/writes that retry on EINTR
 * and short counts, path building, atomic file replacement (tmp + fsync + rename + directory fsync),
 * recursive removal. Every function returns 0 or a negative FERRY_E*; errno is logged by the caller's
 * message where it matters. Thread-safe (no shared state). */
#ifndef FERRY_LOG_FS_H
#define FERRY_LOG_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* "<a>/<b>" in a ferry_malloc'd string, NULL on allocation failure. */
char *log_path_join(const char *a, const char *b);
/* printf into a ferry_malloc'd string. */
char *log_path_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* pread/pwrite everything: 0, FERRY_EIO, or (pread only) FERRY_ERANGE when the file ends first. */
int log_pread_full(int fd, void *buf, size_t len, off_t pos);
int log_pwrite_full(int fd, const void *buf, size_t len, off_t pos);

/* fsync of a directory by path. */
int log_fsync_dir(const char *dir);
/* Writes `len` bytes to `<path>.tmp`, fsyncs it, renames it over `path` and fsyncs the directory. */
int log_write_file_atomic(const char *path, const void *data, size_t len);
/* The same without the fsyncs (sync false): the new file replaces the old one whole, but may be lost or
 * torn by a power loss. For files that are only a cache of what can be rebuilt. */
int log_write_file_replace(const char *path, const void *data, size_t len, bool sync);
/* Reads a whole file (at most max_len bytes, else FERRY_ETOOBIG) into a NUL-terminated ferry_malloc'd
 * buffer. FERRY_ENOTFOUND if it does not exist. */
int log_read_file(const char *path, size_t max_len, char **out, size_t *out_len);

/* mkdir -p: creates missing parents and accepts an existing directory. */
int log_mkdir(const char *path);
/* mkdir of one new directory (the parent exists): FERRY_EEXIST if the path exists. */
int log_mkdir_new(const char *path);
/* Makes everything written to the filesystem holding `path` durable, data and directory entries: Linux's
 * syncfs (one pass for any number of new files and directories), else sync(). */
int log_sync_filesystem(const char *path);
/* Removes a file or a directory tree. A missing path is not an error. */
int log_remove_tree(const char *path);
/* Renames `from` to `to`, refusing to replace an existing `to` (FERRY_EEXIST). */
int log_rename_noreplace(const char *from, const char *to);
bool log_path_exists(const char *path);

/* 20-digit zero-padded offset file name: "<dir>/00000000000000000042<suffix>". */
char *log_segment_path(const char *dir, int64_t base_offset, const char *suffix);
/* Parses "<20 digits><suffix>" exactly; true with the offset. */
bool log_parse_segment_name(const char *name, const char *suffix, int64_t *base_offset);

#endif
