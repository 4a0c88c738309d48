/* quorum_state: see quorum_state.h. JSON through jansson (insertion order kept, compact separators). */
#include "quorum_state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"

void quorum_state_init(struct quorum_state *qs)
{
    memset(qs, 0, sizeof *qs);
    qs->leader_id = -1;
    qs->voted_id = -1;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

char *quorum_state_to_json(const struct quorum_state *qs)
{
    if (qs->nvoters > QUORUM_STATE_MAX_VOTERS)
        return NULL;
    int32_t voters[QUORUM_STATE_MAX_VOTERS];
    memcpy(voters, qs->voters, qs->nvoters * sizeof *voters);
    qsort(voters, qs->nvoters, sizeof *voters, cmp_i32);
    json_t *o = json_object();
    json_t *arr = json_array();
    char *out = NULL;
    if (!o || !arr)
        goto done;
    for (size_t i = 0; i < qs->nvoters; i++) {
        json_t *v = json_object();
        if (!v || json_object_set_new(v, "voterId", json_integer(voters[i])) || json_array_append_new(arr, v))
            goto done;
    }
    if (json_object_set_new(o, "clusterId", json_string("")) ||
        json_object_set_new(o, "leaderId", json_integer(qs->leader_id)) ||
        json_object_set_new(o, "leaderEpoch", json_integer(qs->leader_epoch)) ||
        json_object_set_new(o, "votedId", json_integer(qs->voted_id)) ||
        json_object_set_new(o, "appliedOffset", json_integer(0)) || json_object_set(o, "currentVoters", arr) ||
        json_object_set_new(o, "data_version", json_integer(0)))
        goto done;
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) {
        out = ferry_strdup(text);
        free(text);
    }
done:
    json_decref(arr);
    json_decref(o);
    return out;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = ferry_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Parses the file text into qs; FERRY_EPARSE if it is not a QuorumStateData object. */
static int parse(const char *text, const char *path, struct quorum_state *qs)
{
    json_error_t jerr;
    /* Kafka reads only the first line. */
    size_t len = strcspn(text, "\n");
    json_t *o = json_loadb(text, len, 0, &jerr);
    if (!o || !json_is_object(o)) {
        LOG_WARN("kraft", "%s: not a JSON object (%s)", path, o ? "wrong type" : jerr.text);
        json_decref(o);
        return FERRY_EPARSE;
    }
    int rc = FERRY_EPARSE;
    json_t *dv = json_object_get(o, "data_version");
    if (!json_is_integer(dv)) {
        LOG_WARN("kraft", "%s: no data_version field", path);
        goto out;
    }
    if (json_integer_value(dv) != 0) {
        LOG_ERROR("kraft", "%s: unknown data_version %lld", path, (long long)json_integer_value(dv));
        rc = FERRY_EUNSUPPORTED;
        goto out;
    }
    json_t *lid = json_object_get(o, "leaderId"), *ep = json_object_get(o, "leaderEpoch"),
           *vid = json_object_get(o, "votedId"), *voters = json_object_get(o, "currentVoters");
    if (!json_is_integer(lid) || !json_is_integer(ep) || !json_is_integer(vid) ||
        (voters && !json_is_array(voters) && !json_is_null(voters))) {
        LOG_WARN("kraft", "%s: missing or mistyped leaderId/leaderEpoch/votedId/currentVoters", path);
        goto out;
    }
    quorum_state_init(qs);
    qs->leader_id = (int32_t)json_integer_value(lid);
    qs->leader_epoch = (int32_t)json_integer_value(ep);
    qs->voted_id = (int32_t)json_integer_value(vid);
    if (qs->leader_epoch < 0) {
        LOG_WARN("kraft", "%s: negative leaderEpoch", path);
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(voters, i, v)
    {
        json_t *id = json_object_get(v, "voterId");
        if (!json_is_integer(id) || qs->nvoters == QUORUM_STATE_MAX_VOTERS) {
            LOG_WARN("kraft", "%s: bad currentVoters entry", path);
            goto out;
        }
        qs->voters[qs->nvoters++] = (int32_t)json_integer_value(id);
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int quorum_state_read(const char *partition_dir, struct quorum_state *qs)
{
    quorum_state_init(qs);
    char *path = path_join(partition_dir, QUORUM_STATE_FILE);
    if (!path)
        return FERRY_ENOMEM;
    int rc;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO;
        if (rc == FERRY_EIO)
            LOG_ERROR("kraft", "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool read_err = ferror(f);
    fclose(f);
    if (read_err) {
        LOG_ERROR("kraft", "cannot read %s", path);
        rc = FERRY_EIO;
        goto out;
    }
    buf[n] = '\0';
    rc = parse(buf, path, qs);
    if (rc == FERRY_EPARSE) {
        LOG_WARN("kraft", "%s cannot be parsed: deleting it; the node starts again at epoch 0", path);
        unlink(path);
        quorum_state_init(qs);
        rc = FERRY_ENOTFOUND;
    }
out:
    ferry_free(path);
    return rc;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return FERRY_EIO;
    int rc = fsync(fd) == 0 ? 0 : FERRY_EIO;
    close(fd);
    return rc;
}

int quorum_state_write(const char *partition_dir, const struct quorum_state *qs)
{
    if (qs->nvoters > QUORUM_STATE_MAX_VOTERS)
        return FERRY_EINVAL;
    char *json = quorum_state_to_json(qs);
    char *path = path_join(partition_dir, QUORUM_STATE_FILE);
    char *tmp = path_join(partition_dir, QUORUM_STATE_FILE ".tmp");
    int rc = FERRY_ENOMEM;
    if (!json || !path || !tmp)
        goto out;
    rc = FERRY_EIO;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        LOG_ERROR("kraft", "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    size_t len = strlen(json), done = 0;
    while (done < len) {
        ssize_t w = write(fd, json + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (done != len || fsync(fd) != 0) {
        LOG_ERROR("kraft", "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        LOG_ERROR("kraft", "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (fsync_dir(partition_dir)) {
        LOG_ERROR("kraft", "cannot fsync %s: %s", partition_dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    ferry_free(json);
    ferry_free(path);
    ferry_free(tmp);
    return rc;
}
