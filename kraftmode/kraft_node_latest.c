/* kraft_node_latest: the active controller's latest image, what its decisions are made against: the
 * committed image at activation plus every batch this controller has decided since, committed or not
 * (what Kafka's QuorumController keeps in its timeline structures, and tests/sim/ctrl_app.c's `latest`).
 * It lets many operations be in flight at once: each is decided against the records of the ones before
 * it, its batches are applied here at once, and it is answered when the high watermark passes them.
 *
 * It is built by copying the committed image (through a snapshot encoding, the one deep copy the image
 * has) when nothing proposed is uncommitted, i.e. at activation; it is dropped when the node stops leading
 * (the pending operations fail with NOT_CONTROLLER: kraft_node_lost_leadership) or when a batch could not
 * be applied to it, and then rebuilt once everything proposed has committed. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/kraft_node_internal.h"

void kraft_latest_init(struct kraft_node *n)
{
    md_image_init(&n->latest.img);
    metalog_loader_init(&n->latest.loader, &n->latest.img, NULL);
    n->latest.epoch = -1;
}

void kraft_latest_drop(struct kraft_node *n)
{
    struct kraft_latest *l = &n->latest;
    metalog_loader_free(&l->loader);
    md_image_free(&l->img);
    md_image_init(&l->img);
    metalog_loader_init(&l->loader, &l->img, NULL);
    l->epoch = -1;
}

const struct md_image *kraft_node_decision_image(const struct kraft_node *n)
{
    return n->latest.epoch >= 0 ? &n->latest.img : &n->img;
}

/* A deep copy of the committed image: its snapshot encoding, loaded into a fresh image. */
static int copy_committed(struct kraft_node *n, struct md_image *out)
{
    struct proto_writer w;
    proto_writer_init(&w);
    int64_t now = kraft_wall_ms();
    int rc = snapshot_build_image(&w, &n->img, n->rio.active_epoch, now, now);
    char why[256] = "";
    md_image_init(out);
    if (!rc)
        rc = snapshot_load_buf(w.buf, w.len, -1, n->img.last_offset + 1, out, NULL, why, sizeof why);
    proto_writer_free(&w);
    if (rc) {
        LOG_ERROR("kraft", "node %d: cannot copy the committed metadata image for the controller: %s %s", n->node_id,
                  ferry_strerror(rc), why);
        md_image_free(out);
        return rc;
    }
    /* what a snapshot does not carry */
    snprintf(out->cluster_id, sizeof out->cluster_id, "%s", n->img.cluster_id);
    out->last_offset = n->img.last_offset;
    return 0;
}

int kraft_latest_ensure(struct kraft_node *n, bool *ready)
{
    struct kraft_latest *l = &n->latest;
    int32_t epoch = n->rio.active_epoch;
    *ready = l->epoch == epoch;
    if (*ready)
        return 0;
    if (l->epoch >= 0)
        kraft_latest_drop(n);
    if (n->rio.applied_end < raft_log_end(n->rio.raft) || n->rio.staged_count > 0)
        return 0; /* records proposed but not yet committed: rebuilt once they are */
    struct md_image copy;
    int rc = copy_committed(n, &copy);
    if (rc)
        return rc;
    metalog_loader_free(&l->loader);
    md_image_free(&l->img);
    l->img = copy; /* moved: nothing in an image points into the struct itself */
    metalog_loader_init(&l->loader, &l->img, NULL);
    l->loader.next_offset = n->rio.applied_end;
    l->epoch = epoch;
    *ready = true;
    return 0;
}

int kraft_latest_apply(struct kraft_node *n, const uint8_t *batch, size_t len)
{
    if (n->latest.epoch < 0)
        return 0; /* before activation (the single voter's start): decisions use the committed image */
    int rc = metalog_loader_batch(&n->latest.loader, batch, len);
    if (rc) {
        LOG_ERROR("kraft", "node %d: a batch the controller proposed does not apply to its latest image (%s); the "
                           "next decisions wait until everything proposed has committed",
                  n->node_id, ferry_strerror(rc));
        kraft_latest_drop(n);
    }
    return rc;
}
