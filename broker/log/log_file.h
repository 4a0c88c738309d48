/* log_file: a segment file (`.log`, `.index`, `.timeindex`) whose descriptor is opened on demand under the
 * process-wide budget of open segment files (internal).
 *
 * Why: a broker hosting 100,000 partition replicas would need 300,000 descriptors to keep every segment
 * file open, far above a usual `nofile` limit. Instead every *managed* file is in one least-recently-used
 * list; log_file_fd() reopens a closed file (by its current path, never creating it) and, when the number
 * of open managed files has reached the budget, first closes the least recently used ones. A file whose
 * descriptor was closed keeps everything else (its path, an index's in-memory tail), so closing loses
 * nothing. The active segment's files stay at the head of the list while it is appended to, so the append
 * path does not reopen anything in the steady state.
 *
 * The budget (log_fd_budget): three quarters of RLIMIT_NOFILE, the last quarter (at least 64) left for
 * sockets, the metadata and checkpoint files, the flush and cleaner threads' short-lived descriptors.
 * The first use raises the soft limit to the hard one (as the JVM does for Kafka). Tests can set it.
 *
 * Rules that keep a descriptor from ever naming the wrong file:
 *   - the fd returned by log_file_fd is used at once and never kept across another log_file_fd call (that
 *     call may close it); every syscall on a segment file goes through log_file_fd;
 *   - after a rename log_file_set_path makes the path follow the file; a reopen never uses O_CREAT, so a
 *     file renamed or deleted behind the broker's back gives a clear ENOENT error, not a new empty file;
 *   - a reopen failure (ENOENT, or EMFILE even after closing half of the cached descriptors) is logged with
 *     the path and log_file_fd returns -1: the caller's syscall then fails (EBADF) into its own error path.
 *
 * Threads: managed files belong to the event-loop thread. An *unmanaged* file (created on a worker, e.g.
 * the cleaner's `.cleaned` segments) keeps its descriptor open outside the budget until log_file_manage
 * (loop thread) puts it under the budget. */
#ifndef FERRY_LOG_FILE_H
#define FERRY_LOG_FILE_H

#include <stdbool.h>
#include <stddef.h>

struct log_file {
    int fd;      /* -1 while closed */
    char *path;  /* owned: the file's current name */
    bool managed;
    struct log_file *lru_prev, *lru_next; /* open managed files, most recently used first */
};

/* Opens `path` read-write (created with `create`), taking ownership of path (freed on failure too; NULL
 * path: FERRY_ENOMEM). 0, or FERRY_EIO with errno set (the caller logs it). */
int log_file_open(struct log_file *f, char *path, bool create, bool managed);
/* The descriptor, reopened if the budget had closed it, and marked most recently used. -1 after a logged
 * error. */
int log_file_fd(struct log_file *f);
/* Whether the descriptor is open now (no reopen). */
static inline bool log_file_is_open(const struct log_file *f) { return f->fd >= 0; }
/* Closes the descriptor but keeps the file reopenable (a segment that went inactive). */
void log_file_release(struct log_file *f);
/* An unmanaged file made by a worker for the loop: closes its descriptor, which reopens once the file is
 * managed (log_file_manage), so that no descriptor stays open outside the budget meanwhile. */
void log_file_park(struct log_file *f);
/* Closes the descriptor and frees the path. */
void log_file_close(struct log_file *f);
/* The file was renamed to `new_path` (ownership taken). NULL (an allocation failure) leaves no path: a
 * later reopen then fails with a log line instead of opening whatever has the old name. */
void log_file_set_path(struct log_file *f, char *new_path);
/* An unmanaged file joins the budget (loop thread). */
void log_file_manage(struct log_file *f);

/* Loop thread: an open just failed with errno EMFILE or ENFILE (the process is out of descriptors): closes
 * half of the cached managed descriptors (logged with `path`, the file being opened) so that the open can
 * be tried once more. False (nothing closed) for another errno or when none is cached. log_file_fd does
 * this itself; the loop's segment creation and loading use it for their unmanaged opens. */
bool log_fd_shed(const char *path);
/* A worker's open failed (errno): FERRY_ENOFD when the process was out of descriptors (EMFILE/ENFILE), else
 * fallback. A worker cannot shed the loop's descriptors itself: its loop-side completion does (log_fd_shed),
 * and the work is tried again. */
int log_open_error(int fallback);
/* The budget: most managed descriptors open at once. */
size_t log_fd_budget(void);
/* Tests: sets the budget (at least 4); 0 goes back to the RLIMIT_NOFILE rule. Closes descriptors over it. */
void log_fd_budget_set(size_t budget);
/* Managed descriptors open now. */
size_t log_fd_open_count(void);
/* Reopens done since the process started (a measure of churn for tests and benchmarks). */
size_t log_fd_reopen_count(void);

#endif
