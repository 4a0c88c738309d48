/* storage: see storage.h. */
#include "kraftmode/storage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config.h"
#include "broker/log/logdir.h"
#include "kraftmode/metalog.h"
#include "proto_messages.h"

static const char *const mv_names[] = {
    NULL,      "3.0-IV1", "3.1-IV0", "3.2-IV0", "3.3-IV0", "3.3-IV1", "3.3-IV2", "3.3-IV3", "3.4-IV0", "3.5-IV0", "3.5-IV1",
    "3.5-IV2", "3.6-IV0", "3.6-IV1", "3.6-IV2", "3.7-IV0", "3.7-IV1", "3.7-IV2", "3.7-IV3", "3.7-IV4", "3.8-IV0",
};

const char *storage_metadata_version_name(int16_t level)
{
    if (level < 1 || (size_t)level >= sizeof mv_names / sizeof *mv_names)
        return "unknown";
    return mv_names[level];
}

int storage_random_uuid(char out[23])
{
    proto_uuid u;
    int rc = log_uuid_random(&u);
    if (rc)
        return rc;
    proto_uuid_to_base64(u, out);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void storage_dirs_free(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ferry_free(dirs[i]);
    ferry_free(dirs);
}

int storage_dirs(const struct ferry_config *cfg, char ***dirs, size_t *n)
{
    size_t nlog = cfg->log_dirs.count, cap = nlog + 1, k = 0;
    char **d = ferry_calloc(cap, sizeof *d);
    if (!d)
        return FERRY_ENOMEM;
    for (size_t i = 0; i <= nlog; i++) {
        const char *p = i < nlog ? cfg->log_dirs.items[i] : cfg->metadata_log_dir;
        if (!p || !p[0])
            continue;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(d[j], p) == 0;
        if (dup)
            continue;
        if (!(d[k++] = ferry_strdup(p))) {
            storage_dirs_free(d, k);
            return FERRY_ENOMEM;
        }
    }
    qsort(d, k, sizeof *d, cmp_str);
    *dirs = d;
    *n = k;
    return 0;
}

static int mkdirs(const char *path)
{
    char *p = ferry_strdup(path);
    if (!p)
        return FERRY_ENOMEM;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                rc = FERRY_EIO;
            *s = c;
            if (!c || rc)
                break;
        }
    }
    ferry_free(p);
    return rc;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = ferry_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Writes bootstrap.checkpoint: FeatureLevelRecord(metadata.version = mv). */
static int write_bootstrap(const char *dir, int16_t mv, int64_t now_ms)
{
    struct FeatureLevelRecord fl = {.Name = proto_str_from("metadata.version"), .FeatureLevel = mv};
    struct metalog_rec rec = {&proto_msg_FeatureLevelRecord, 0, &fl};
    char *path = path_join(dir, METALOG_BOOTSTRAP_FILE);
    if (!path)
        return FERRY_ENOMEM;
    int rc = metalog_write_snapshot_file(path, &rec, 1, now_ms);
    ferry_free(path);
    return rc;
}

/* What one directory holds. */
struct dir_state {
    const char *path;
    int read_rc; /* 0 formatted, FERRY_ENOTFOUND empty, else unreadable */
    struct logdir_meta meta;
};

static int read_dirs(char **dirs, size_t n, struct dir_state **out)
{
    struct dir_state *s = ferry_calloc(n ? n : 1, sizeof *s);
    if (!s)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        s[i].path = dirs[i];
        s[i].read_rc = logdir_meta_read(dirs[i], &s[i].meta);
    }
    *out = s;
    return 0;
}

/* A fresh directory id, different from every one already used. */
static int new_directory_id(const struct dir_state *s, size_t n, proto_uuid *out)
{
    for (int tries = 0; tries < 100; tries++) {
        int rc = log_uuid_random(out);
        if (rc)
            return rc;
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = s[i].read_rc == 0 && s[i].meta.has_directory_id && memcmp(&s[i].meta.directory_id, out, 16) == 0;
        if (!used)
            return 0;
    }
    return FERRY_EIO;
}

/* Formats one empty directory. */
static int format_dir(struct dir_state *d, const struct dir_state *all, size_t n, int32_t node_id,
                      const char *cluster_id, int16_t mv, int64_t now_ms, char *err, size_t errlen)
{
    if (mkdirs(d->path)) {
        snprintf(err, errlen, "Cannot create log directory %s: %s", d->path, strerror(errno));
        return FERRY_EIO;
    }
    int rc = write_bootstrap(d->path, mv, now_ms);
    if (rc) {
        snprintf(err, errlen, "Error while writing %s/%s: %s", d->path, METALOG_BOOTSTRAP_FILE, ferry_strerror(rc));
        return rc;
    }
    struct logdir_meta m = {.version = 1, .node_id = node_id, .has_directory_id = true};
    snprintf(m.cluster_id, sizeof m.cluster_id, "%s", cluster_id);
    rc = new_directory_id(all, n, &m.directory_id);
    if (!rc)
        rc = logdir_meta_write(d->path, &m);
    if (rc) {
        snprintf(err, errlen, "Error while writing meta.properties file %s: %s", d->path, ferry_strerror(rc));
        return rc;
    }
    d->meta = m;
    d->read_rc = 0;
    return 0;
}

/* Kafka's MetaPropertiesEnsemble.verify over the formatted directories. */
static int verify(const struct dir_state *s, size_t n, int32_t node_id, const char *cluster_id, char *err,
                  size_t errlen)
{
    const char *expected = cluster_id && cluster_id[0] ? cluster_id : NULL;
    for (size_t i = 0; i < n; i++) {
        const struct logdir_meta *m = &s[i].meta;
        if (s[i].read_rc != 0)
            continue;
        if (!m->cluster_id[0]) {
            snprintf(err, errlen, "cluster.id was not specified in %s/meta.properties", s[i].path);
            return FERRY_EINVAL;
        }
        if (!expected) {
            expected = m->cluster_id;
        } else if (strcmp(expected, m->cluster_id) != 0) {
            snprintf(err, errlen, "Invalid cluster.id in: %s/meta.properties. Expected %s, but read %s", s[i].path,
                     expected, m->cluster_id);
            return FERRY_EINVAL;
        }
        if (m->node_id < 0) {
            snprintf(err, errlen, "node.id was not specified in %s/meta.properties", s[i].path);
            return FERRY_EINVAL;
        }
        if (m->node_id != node_id) {
            snprintf(err, errlen, "Stored node id %d doesn't match previous node id %d in %s/meta.properties. If you "
                                  "moved your data, make sure your configured node id matches. If you intend to "
                                  "create a new node, you should remove all data in your data directories.",
                     m->node_id, node_id, s[i].path);
            return FERRY_EINVAL;
        }
        for (size_t j = 0; j < i && m->has_directory_id; j++) {
            if (s[j].read_rc == 0 && s[j].meta.has_directory_id &&
                memcmp(&s[j].meta.directory_id, &m->directory_id, 16) == 0) {
                char id[23];
                proto_uuid_to_base64(m->directory_id, id);
                snprintf(err, errlen, "Duplicate directory ID %s found. It was the ID of %s, but also of %s", id,
                         s[j].path, s[i].path);
                return FERRY_EINVAL;
            }
        }
    }
    return 0;
}

static int check_unreadable(const struct dir_state *s, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i].read_rc != 0 && s[i].read_rc != FERRY_ENOTFOUND) {
            snprintf(err, errlen, "I/O error trying to read log directory %s: %s/meta.properties: %s", s[i].path,
                     s[i].path, s[i].read_rc == FERRY_EPARSE ? "not a valid meta.properties file"
                                                              : ferry_strerror(s[i].read_rc));
            return FERRY_EIO;
        }
    }
    return 0;
}

int storage_format(const struct ferry_config *cfg, const struct storage_format_opts *opts, char *err, size_t errlen)
{
    proto_uuid cid;
    if (!opts->cluster_id || proto_uuid_from_base64(opts->cluster_id, &cid) != 0) {
        snprintf(err, errlen, "Cluster ID string %s does not appear to be a valid UUID: expected 22 characters of "
                              "base64url (make one with 'ferry storage random-uuid')",
                 opts->cluster_id ? opts->cluster_id : "(none)");
        return FERRY_EINVAL;
    }
    if (cfg->mode == FERRY_MODE_LEGACY) {
        snprintf(err, errlen, "The configuration file appears to be for a legacy cluster. Formatting is only "
                              "supported for clusters in KRaft mode (process.roles set).");
        return FERRY_EINVAL;
    }
    if (cfg->node_id < 0) {
        snprintf(err, errlen, "The node.id must be set to a non-negative integer. We saw %d", (int)cfg->node_id);
        return FERRY_EINVAL;
    }
    int16_t mv = opts->metadata_version ? opts->metadata_version : STORAGE_METADATA_VERSION_LATEST;
    int64_t now = opts->now_ms ? opts->now_ms : wall_ms();
    char **dirs;
    size_t n;
    struct dir_state *s = NULL;
    int rc = storage_dirs(cfg, &dirs, &n);
    if (rc)
        return rc;
    if (n == 0) {
        snprintf(err, errlen, "No log directories found in the configuration.");
        rc = FERRY_EINVAL;
        goto out;
    }
    if ((rc = read_dirs(dirs, n, &s)) != 0)
        goto out;
    if ((rc = verify(s, n, cfg->node_id, opts->cluster_id, err, errlen)) != 0)
        goto out;
    for (size_t i = 0; i < n && !opts->ignore_formatted; i++) {
        if (s[i].read_rc == 0) {
            snprintf(err, errlen, "Log directory %s is already formatted. Use --ignore-formatted to ignore this "
                                  "directory and format the others.", s[i].path);
            rc = FERRY_EINVAL;
            goto out;
        }
    }
    if ((rc = check_unreadable(s, n, err, errlen)) != 0)
        goto out;
    size_t formatted = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].read_rc != FERRY_ENOTFOUND)
            continue;
        if (opts->out)
            fprintf(opts->out, "Formatting %s with metadata.version %s.\n", s[i].path, storage_metadata_version_name(mv));
        rc = format_dir(&s[i], s, n, cfg->node_id, opts->cluster_id, mv, now, err, errlen);
        if (rc)
            goto out;
        formatted++;
    }
    if (!formatted && opts->out)
        fprintf(opts->out, "All of the log directories are already formatted.\n");
out:
    ferry_free(s);
    storage_dirs_free(dirs, n);
    return rc;
}

/* Adds a directory.id to files that lack one (Kafka 3.7 rewrites them at start-up). */
static int add_directory_ids(struct dir_state *s, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i].read_rc != 0 || s[i].meta.has_directory_id)
            continue;
        int rc = new_directory_id(s, n, &s[i].meta.directory_id);
        if (rc)
            return rc;
        s[i].meta.has_directory_id = true;
        s[i].meta.version = 1;
        LOG_INFO("kraft", "rewriting %s/meta.properties with a directory.id", s[i].path);
        rc = logdir_meta_write(s[i].path, &s[i].meta);
        if (rc) {
            snprintf(err, errlen, "Error while writing meta.properties file %s: %s", s[i].path, ferry_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static int check_metadata_location(const struct dir_state *s, size_t n, const char *meta_dir, char *err,
                                   size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].path, meta_dir) == 0)
            continue;
        char *p = path_join(s[i].path, METALOG_PARTITION_DIR);
        if (!p)
            return FERRY_ENOMEM;
        struct stat st;
        bool found = stat(p, &st) == 0;
        if (found)
            snprintf(err, errlen, "Found unexpected metadata location in data directory `%s` (the configured metadata "
                                  "directory is %s).", p, meta_dir);
        ferry_free(p);
        if (found)
            return FERRY_EINVAL;
    }
    return 0;
}

int kraft_storage_ensure(const struct ferry_config *cfg, bool format_if_missing, char *cluster_id_out, char *err,
                         size_t errlen)
{
    char **dirs;
    size_t n;
    struct dir_state *s = NULL;
    int rc = storage_dirs(cfg, &dirs, &n);
    if (rc)
        return rc;
    if (n == 0 || !cfg->metadata_log_dir) {
        snprintf(err, errlen, "No metadata log directory was specified (set log.dirs or metadata.log.dir).");
        rc = FERRY_EINVAL;
        goto out;
    }
    if ((rc = read_dirs(dirs, n, &s)) != 0)
        goto out;
    if ((rc = check_unreadable(s, n, err, errlen)) != 0)
        goto out;
    if ((rc = verify(s, n, cfg->node_id, NULL, err, errlen)) != 0)
        goto out;
    const char *cluster_id = NULL;
    for (size_t i = 0; i < n && !cluster_id; i++)
        if (s[i].read_rc == 0)
            cluster_id = s[i].meta.cluster_id;
    char fresh[23];
    for (size_t i = 0; i < n; i++) {
        if (s[i].read_rc != FERRY_ENOTFOUND)
            continue;
        if (!format_if_missing) {
            snprintf(err, errlen, "No meta.properties found in %s (have you run '%s' to format the directory? "
                                  "'ferry storage random-uuid' makes a cluster id)", s[i].path, STORAGE_FORMAT_COMMAND);
            rc = FERRY_EINVAL;
            goto out;
        }
        if (!cluster_id) {
            if ((rc = storage_random_uuid(fresh)) != 0)
                goto out;
            cluster_id = fresh;
        }
        LOG_INFO("kraft", "formatting %s (cluster id %s, node %d, metadata.version %s)", s[i].path, cluster_id,
                 (int)cfg->node_id, storage_metadata_version_name(STORAGE_METADATA_VERSION_LATEST));
        rc = format_dir(&s[i], s, n, cfg->node_id, cluster_id, STORAGE_METADATA_VERSION_LATEST, wall_ms(), err, errlen);
        if (rc)
            goto out;
    }
    if ((rc = add_directory_ids(s, n, err, errlen)) != 0)
        goto out;
    if ((rc = check_metadata_location(s, n, cfg->metadata_log_dir, err, errlen)) != 0)
        goto out;
    if (cluster_id_out)
        snprintf(cluster_id_out, 23, "%.22s", cluster_id ? cluster_id : "");
out:
    ferry_free(s);
    storage_dirs_free(dirs, n);
    return rc;
}
