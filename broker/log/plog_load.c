/* plog_load: finding a partition log's segments on disk and recovering them at open (Kafka's LogLoader):
 * leftovers of interrupted operations are removed, segments are opened in offset order, trusted ones get
 * the cheap checks and the others a full recovery, and the log is cut at the first corruption (what is cut
 * goes to `.corrupt` side files). See log.h. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "log_fs.h"
#include "plog_internal.h"

#define EPOCH_FILE "leader-epoch-checkpoint"
#define PARTITION_METADATA_FILE "partition.metadata"

struct dir_listing {
    int64_t *bases;
    size_t n, cap;
    int64_t *index_bases; /* bases of .index/.timeindex/.txnindex files, to find orphans */
    char **index_names;
    size_t ni, capi;
};

static int add_i64(int64_t **a, size_t *n, size_t *cap, int64_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        int64_t *na = ferry_realloc(*a, c * sizeof *na);
        if (!na)
            return FERRY_ENOMEM;
        *a = na;
        *cap = c;
    }
    (*a)[(*n)++] = v;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void free_listing(struct dir_listing *l)
{
    ferry_free(l->bases);
    ferry_free(l->index_bases);
    for (size_t i = 0; i < l->ni; i++)
        ferry_free(l->index_names[i]);
    ferry_free(l->index_names);
}

static void unlink_in_dir(const struct plog *log, const char *name, const char *why)
{
    char *path = log_path_join(log->dir, name);
    if (!path)
        return;
    if (unlink(path) == 0)
        LOG_INFO("log", "%s: deleted %s (%s)", log->name, path, why);
    else if (errno != ENOENT)
        LOG_WARN("log", "%s: cannot delete %s: %s", log->name, path, strerror(errno));
    ferry_free(path);
}

/* Lists the directory: segment base offsets, index files; removes leftovers of interrupted operations. */
static int list_dir(struct plog *log, struct dir_listing *l)
{
    int src = plog_clean_recover_files(log);
    if (src)
        return src;
    DIR *d = opendir(log->dir);
    if (!d) {
        LOG_ERROR("log", "%s: cannot list %s: %s", log->name, log->dir, strerror(errno));
        return FERRY_EIO;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        int64_t base;
        if (ends_with(name, ".deleted")) {
            unlink_in_dir(log, name, "left over from a deletion");
        } else if (ends_with(name, ".cleaned") || strcmp(name, EPOCH_FILE ".tmp") == 0 ||
                   strcmp(name, PARTITION_METADATA_FILE ".tmp") == 0) {
            unlink_in_dir(log, name, "left over from an interrupted write");
        } else if (log_parse_segment_name(name, ".log", &base)) {
            rc = add_i64(&l->bases, &l->n, &l->cap, base);
        } else if (log_parse_segment_name(name, ".index", &base) || log_parse_segment_name(name, ".timeindex", &base) ||
                   log_parse_segment_name(name, ".txnindex", &base)) {
            size_t before = l->ni, cap = l->capi;
            rc = add_i64(&l->index_bases, &l->ni, &l->capi, base);
            if (rc == 0 && l->capi != cap) {
                char **nn = ferry_realloc(l->index_names, l->capi * sizeof *nn);
                if (!nn)
                    rc = FERRY_ENOMEM;
                else
                    l->index_names = nn;
            }
            if (rc == 0) {
                l->index_names[before] = ferry_strdup(name);
                if (!l->index_names[before]) {
                    l->ni = before;
                    rc = FERRY_ENOMEM;
                }
            } else {
                l->ni = before;
            }
        }
    }
    closedir(d);
    if (rc)
        return rc;
    if (l->n > 1)
        qsort(l->bases, l->n, sizeof *l->bases, cmp_i64);
    for (size_t i = 0; i < l->ni; i++) {
        if (l->n == 0 || !bsearch(&l->index_bases[i], l->bases, l->n, sizeof *l->bases, cmp_i64))
            unlink_in_dir(log, l->index_names[i], "an orphaned index file");
    }
    return 0;
}

static void recovered_batch(void *arg, const struct rb_header *h)
{
    struct plog *log = arg;
    int32_t epoch = h->partition_leader_epoch;
    if (epoch >= 0 && epoch > log_epochs_latest(&log->epochs))
        plog_assign_epoch(log, epoch, h->base_offset);
}

/* Opens every segment, recovers those that need it and cuts the log at the first corruption. */
int plog_load_segments(struct plog *log, const struct plog_open_opts *opts, int64_t now, bool *changed)
{
    struct dir_listing l = {0};
    int rc = list_dir(log, &l);
    if (rc)
        goto free_listing;

    char *epoch_path = log_path_join(log->dir, EPOCH_FILE);
    if (!epoch_path) {
        rc = FERRY_ENOMEM;
        goto free_listing;
    }
    bool clean = opts->clean_shutdown;
    int64_t rp = opts->recovery_point > 0 ? opts->recovery_point : 0;
    rc = log_epochs_load(&log->epochs, epoch_path);
    if (rc == FERRY_EPARSE) {
        LOG_ERROR("log", "%s: %s is damaged; recovering every segment to rebuild the epoch cache", log->name,
                  epoch_path);
        clean = false;
        rp = 0;
        log->epoch_gen++;
        rc = 0;
    }
    ferry_free(epoch_path);
    if (rc)
        goto free_listing;

    /* Without a clean shutdown, recovery starts at the segment holding the recovery point. */
    size_t first_unflushed = SIZE_MAX;
    if (!clean) {
        first_unflushed = 0;
        while (first_unflushed + 1 < l.n && l.bases[first_unflushed + 1] <= rp)
            first_unflushed++;
    }
    for (size_t i = 0; i < l.n; i++) {
        struct log_segment *s;
        bool suspect = false;
        rc = log_segment_open(log->dir, l.bases[i], log->cfg.segment_index_bytes, now, &s, &suspect);
        if (rc)
            goto free_listing;
        rc = plog_push_segment(log, s);
        if (rc) {
            log_segment_close(s);
            goto free_listing;
        }
        bool recover = i >= first_unflushed || suspect;
        if (i > 0 && s->base_offset < log->segs[i - 1]->next_offset) {
            LOG_ERROR("log", "%s: segment %lld overlaps the previous one (which ends at offset %lld)", log->name,
                      (long long)s->base_offset, (long long)log->segs[i - 1]->next_offset);
            goto cut_here;
        }
        if (!recover) {
            rc = log_segment_load(s);
            if (rc == FERRY_ECORRUPT) {
                LOG_WARN("log", "%s: the indexes or the tail of segment %s.log fail sanity checks; recovering it",
                         log->name, s->stem);
                recover = true;
            } else if (rc) {
                goto free_listing;
            }
        } else if (suspect) {
            LOG_WARN("log", "%s: index files of segment %s.log are missing or damaged; rebuilding them", log->name,
                     s->stem);
        }
        if (recover) {
            int64_t cut = log_segment_recover(s, log->cfg.index_interval_bytes, recovered_batch, log);
            if (cut < 0) {
                rc = (int)cut;
                goto free_listing;
            }
            *changed = true;
            if (cut > 0)
                goto cut_after;
        }
        continue;
    cut_here:
        log->nsegs--; /* s and all later segments leave the log */
        log_segment_move_aside(s);
    cut_after:
        *changed = true;
        for (size_t j = i + 1; j < l.n; j++) {
            struct log_segment *later;
            bool ignored;
            if (log_segment_open(log->dir, l.bases[j], log->cfg.segment_index_bytes, now, &later, &ignored) == 0)
                log_segment_move_aside(later);
        }
        break;
    }
    /* Inactive segments need no descriptor until they are read. */
    for (size_t i = 0; i + 1 < log->nsegs; i++)
        log_segment_release_files(log->segs[i]);
    rc = 0;
free_listing:
    free_listing(&l);
    return rc;
}

