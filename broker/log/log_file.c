/* log_file: see log_file.h. */
#include "log_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"

enum { MIN_BUDGET = 4, MIN_RESERVE = 64 };

/* The loop thread's list of open managed files. */
static struct {
    size_t budget; /* 0: not derived yet */
    size_t open;
    size_t reopens;
    struct log_file *head, *tail;
} lru;

static size_t budget_from_rlimit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 768; /* three quarters of the usual 1024 */
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    size_t limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)1 << 30 ? (size_t)1 << 30 : rl.rlim_cur;
    size_t reserve = limit / 4 > MIN_RESERVE ? limit / 4 : MIN_RESERVE;
    size_t budget = limit > reserve + MIN_BUDGET ? limit - reserve : MIN_BUDGET;
    LOG_INFO("log", "open segment file budget: %zu descriptors (RLIMIT_NOFILE %zu, %zu kept for sockets and other "
                    "files)", budget, limit, limit - budget);
    return budget;
}

size_t log_fd_budget(void)
{
    if (lru.budget == 0)
        lru.budget = budget_from_rlimit();
    return lru.budget;
}

size_t log_fd_open_count(void) { return lru.open; }
size_t log_fd_reopen_count(void) { return lru.reopens; }

static void unlink_lru(struct log_file *f)
{
    if (f->lru_prev)
        f->lru_prev->lru_next = f->lru_next;
    else
        lru.head = f->lru_next;
    if (f->lru_next)
        f->lru_next->lru_prev = f->lru_prev;
    else
        lru.tail = f->lru_prev;
    f->lru_prev = f->lru_next = NULL;
}

static void push_head(struct log_file *f)
{
    f->lru_prev = NULL;
    f->lru_next = lru.head;
    if (lru.head)
        lru.head->lru_prev = f;
    else
        lru.tail = f;
    lru.head = f;
}

/* Closes the descriptor; a managed file leaves the list. */
static void close_fd(struct log_file *f)
{
    if (f->fd < 0)
        return;
    if (f->managed) {
        unlink_lru(f);
        lru.open--;
    }
    close(f->fd);
    f->fd = -1;
}

/* Closes least recently used descriptors until at most `keep` stay open. */
static void shrink_to(size_t keep)
{
    while (lru.open > keep && lru.tail)
        close_fd(lru.tail);
}

/* A managed file's descriptor just opened: make room under the budget, then put it first. */
static void add_open(struct log_file *f)
{
    shrink_to(log_fd_budget() - 1);
    push_head(f);
    lru.open++;
}

void log_fd_budget_set(size_t budget)
{
    lru.budget = budget == 0 ? 0 : budget < MIN_BUDGET ? MIN_BUDGET : budget;
    shrink_to(log_fd_budget());
}

bool log_fd_shed(const char *path)
{
    if ((errno != EMFILE && errno != ENFILE) || lru.open == 0)
        return false;
    LOG_WARN("log", "out of file descriptors opening %s (%zu segment files open): closing half of them", path,
             lru.open);
    shrink_to(lru.open / 2);
    return true;
}

int log_open_error(int fallback) { return errno == EMFILE || errno == ENFILE ? FERRY_ENOFD : fallback; }

/* open(2), retried once after closing half of the cached descriptors when the process is out of them. */
static int open_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0 && log_fd_shed(path))
        fd = open(path, flags | O_CLOEXEC, 0644);
    return fd;
}

int log_file_open(struct log_file *f, char *path, bool create, bool managed)
{
    *f = (struct log_file){.fd = -1, .path = path, .managed = managed};
    if (!path)
        return FERRY_ENOMEM;
    if (managed)
        shrink_to(log_fd_budget() - 1); /* before the open, so that EMFILE is rarer */
    f->fd = managed ? open_path(path, O_RDWR | (create ? O_CREAT : 0))
                    : open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (f->fd < 0) {
        int e = errno;
        ferry_free(f->path);
        f->path = NULL;
        errno = e;
        return FERRY_EIO;
    }
    if (managed)
        add_open(f);
    return 0;
}

int log_file_fd(struct log_file *f)
{
    if (f->fd >= 0) {
        if (f->managed && lru.head != f) {
            unlink_lru(f);
            push_head(f);
        }
        return f->fd;
    }
    if (!f->managed)
        return -1; /* an unmanaged file is open until closed */
    if (!f->path) {
        LOG_ERROR("log", "cannot reopen a segment file whose name was lost (out of memory at a rename)");
        return -1;
    }
    shrink_to(log_fd_budget() - 1);
    int fd = open_path(f->path, O_RDWR);
    if (fd < 0) {
        int e = errno;
        LOG_ERROR("log", "cannot reopen segment file %s: %s%s", f->path, strerror(e),
                  e == ENOENT ? " (renamed or deleted behind the broker?)" : "");
        errno = e;
        return -1;
    }
    f->fd = fd;
    lru.reopens++;
    add_open(f);
    return fd;
}

void log_file_release(struct log_file *f)
{
    if (f->managed)
        close_fd(f);
}

void log_file_park(struct log_file *f)
{
    if (!f->managed)
        close_fd(f);
}

void log_file_close(struct log_file *f)
{
    close_fd(f);
    ferry_free(f->path);
    f->path = NULL;
}

void log_file_set_path(struct log_file *f, char *new_path)
{
    if (!new_path)
        LOG_ERROR("log", "out of memory renaming %s: it will not be reopened", f->path ? f->path : "?");
    ferry_free(f->path);
    f->path = new_path;
}

void log_file_manage(struct log_file *f)
{
    if (f->managed)
        return;
    f->managed = true;
    if (f->fd >= 0)
        add_open(f);
}
