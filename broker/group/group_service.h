/* group_service: the loop adapter of the group coordinator. It owns the pure core (group_coord), gives it
 * the wall-clock time, runs one libuv timer at the core's next deadline (session expiries, rebalance
 * deadlines, the initial rebalance delay) and another on offsets.retention.check.interval.ms for offset
 * expiry. The request handlers (broker/api/group.c) call the core and then group_service_rearm.
 *
 * Persistence: the core's offset and group records are encoded in Kafka's __consumer_offsets formats
 * (group_records.h) and collected per partition (abs(hash(group)) % offsets.topic.num.partitions);
 * group_service_persist writes them as one record batch per partition through the I/O hook and reports
 * when every append is done (an OffsetCommit is answered only then). When the broker starts hosting a
 * partition of __consumer_offsets (group_service_hosted), its records are loaded in bounded chunks, one
 * chunk per loop turn; meanwhile the groups of that partition get COORDINATOR_LOAD_IN_PROGRESS. A record
 * that does not decode is logged with its partition and offset and skipped.
 *
 * Ownership: created and closed on the loop thread; group_service_close answers every parked request
 * with NOT_COORDINATOR, closes the timers and frees the service once libuv has closed them. */
#ifndef FERRY_GROUP_SERVICE_H
#define FERRY_GROUP_SERVICE_H

#include <uv.h>

#include "broker/config/config.h"
#include "broker/log/log.h"
#include "group_coord.h"

struct group_service;

typedef void (*group_io_done_fn)(void *arg, int rc);
struct group_io {
    void *ctx;
    /* Appends one record batch (ferry_malloc'd; the hook owns it) to __consumer_offsets-<partition> and
     * calls done(arg, rc) once it is written (and flushed if the topic's policy asks). Returns a negative
     * error, without calling done, when the partition is not hosted. */
    int (*append)(void *ctx, int32_t partition, uint8_t *batch, size_t len, group_io_done_fn done, void *arg);
};

int group_service_new(uv_loop_t *loop, const struct ferry_config *cfg, const struct group_sink *sink,
                      const struct group_io *io, struct group_service **out);
void group_service_close(struct group_service *s);

struct group_coord *group_service_coord(struct group_service *s);
/* Wall-clock milliseconds (commit timestamps are persisted, so they are wall-clock, as Kafka's). */
int64_t group_service_now(void);
/* Re-arms the deadline timer after an event changed the core's deadlines, and writes pending records. */
void group_service_rearm(struct group_service *s);

/* Whether this node coordinates the group now: 0, NOT_COORDINATOR (its partition is not hosted) or
 * COORDINATOR_LOAD_IN_PROGRESS. */
int16_t group_service_check(struct group_service *s, proto_str group_id);
/* True while a hosted __consumer_offsets partition is still loading (ListGroups reports it). */
bool group_service_loading(const struct group_service *s);
/* The __consumer_offsets partition of a group. */
int32_t group_service_partition(const struct group_service *s, proto_str group_id);
/* The broker hosts __consumer_offsets-<partition> (log): load it. */
void group_service_hosted(struct group_service *s, int32_t partition, struct plog *log);

/* The broker no longer leads __consumer_offsets-<partition>: its groups are unloaded (parked requests get
 * NOT_COORDINATOR) and the partition answers NOT_COORDINATOR until it is hosted again. */
void group_service_unhosted(struct group_service *s, int32_t partition);

/* Writes the records collected so far; done(arg, kafka error) once every append finished (at once when
 * there is nothing to write). done may be NULL. */
typedef void (*group_persist_fn)(void *arg, int16_t err);
void group_service_persist(struct group_service *s, group_persist_fn done, void *arg);

#endif
