/* Unit tests for the quorum node glue: start on real temporary directories, writes through a real libuv
 * loop run until idle (fsync on the thread pool), publisher deltas, restarts that rebuild the image
 * exactly, torn-tail recovery, multi-batch transactions and the abort of a transaction a crash left open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_kraft_fixture.h"
#include <uv.h>

#include "broker/common/ferry_err.h"
#include "broker/config/config.h"
#include "kraftmode/kraft_node.h"
#include "kraftmode/metalog.h"
#include "kraftmode/metalog_loader.h"
#include "kraftmode/quorum_state.h"
#include "proto_codec.h"

struct fx {
    char dir[512];
    struct ferry_config cfg;
    uv_loop_t loop;
    struct kraft_node *node;
    int publishes;
    bool saw_initial;
    int created, deleted, config_changes;
    int done;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    kraft_fixture_config(f->dir, sizeof f->dir, "kraft-node", &f->cfg);
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

static void run(struct fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

static void stop(struct fx *f)
{
    if (f->node)
        kraft_node_stop(f->node);
    f->node = NULL;
    run(f);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    stop(f);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    config_free(&f->cfg);
    kraft_fixture_remove_dir(f->dir);
    free(f);
    return 0;
}

static void start(struct fx *f, bool format)
{
    char err[1024];
    int rc = kraft_node_start(&f->loop, &f->cfg, format, &f->node, err, sizeof err);
    if (rc)
        fail_msg("start: %s", err);
}

static void publish(void *arg, const struct md_image *img, const struct md_delta *d)
{
    struct fx *f = arg;
    (void)img;
    f->publishes++;
    if (d->initial)
        f->saw_initial = true;
    for (int32_t i = 0; i < d->ntopics; i++)
        f->created += d->topics[i]->created;
    f->deleted += d->ndeleted;
    f->config_changes += d->nconfigs;
}

static void on_done(void *arg) { ((struct fx *)arg)->done++; }

/* A canonical text of the image parts that must survive a restart unchanged. */
static void dump_topics_and_configs(const struct md_image *img, char *buf, size_t len)
{
    size_t used = 0, n;
    buf[0] = '\0';
    struct md_topic *const *ts = md_image_topics_sorted(img, &n);
    for (size_t i = 0; i < n; i++) {
        char id[23];
        proto_uuid_to_base64(ts[i]->id, id);
        used += (size_t)snprintf(buf + used, len - used, "topic %s %s %d\n", ts[i]->name, id, ts[i]->nparts);
        for (int32_t p = 0; p < ts[i]->parts_len; p++) {
            const struct md_partition *mp = md_topic_partition(ts[i], p);
            if (mp)
                used += (size_t)snprintf(buf + used, len - used, " p%d leader %d epoch %d/%d replicas %d isr %d\n", p,
                                         mp->leader, mp->leader_epoch, mp->partition_epoch, mp->replicas.n, mp->isr.n);
        }
        const struct md_configs *c = md_image_configs(img, MD_RESOURCE_TOPIC, ts[i]->name);
        for (int32_t k = 0; c && k < c->n; k++)
            used += (size_t)snprintf(buf + used, len - used, " %s=%s\n", c->entries[k].key, c->entries[k].value);
    }
    used += (size_t)snprintf(buf + used, len - used, "mv %d zk %d\n", img->metadata_version, img->zk_migration_state);
    assert_true(used < len);
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void test_start_fresh(void **state)
{
    struct fx *f = *state;
    char err[1024];
    /* Not formatted and not allowed to format: refused, naming the directory and the command. */
    struct kraft_node *n = NULL;
    assert_int_not_equal(kraft_node_start(&f->loop, &f->cfg, false, &n, err, sizeof err), 0);
    assert_null(n);
    assert_non_null(strstr(err, "No meta.properties found in"));
    assert_non_null(strstr(err, "/data"));
    assert_non_null(strstr(err, "ferry storage format"));

    start(f, true);
    const struct md_image *img = kraft_node_image(f->node);
    assert_int_equal(kraft_node_epoch(f->node), 1);
    assert_int_equal(img->metadata_version, 19);
    assert_int_equal(strlen(kraft_node_cluster_id(f->node)), 22);
    assert_string_equal(img->cluster_id, kraft_node_cluster_id(f->node));
    const struct md_broker *b = md_image_broker(img, 1);
    assert_non_null(b);
    assert_false(b->fenced);
    assert_int_equal(b->nendpoints, 1); /* advertised: PLAINTEXT only (CONTROLLER is not advertised) */
    assert_string_equal(b->endpoints[0].name, "PLAINTEXT");
    assert_int_equal(b->endpoints[0].port, 9092);
    assert_int_equal(b->nlog_dirs, 1);
    assert_non_null(md_image_controller(img, 1));
    /* LeaderChange 0, Begin 1, FeatureLevel 2, ZkMigrationState 3, End 4, RegisterController 5,
     * RegisterBroker 6 (its epoch), BrokerRegistrationChange 7. */
    assert_int_equal(b->epoch, 6);
    assert_int_equal(kraft_node_end_offset(f->node), 8);
    assert_int_equal(kraft_node_committed_offset(f->node), 7);

    char path[700];
    snprintf(path, sizeof path, "%s/data/__cluster_metadata-0/quorum-state", f->dir);
    assert_string_equal(read_file(path), "{\"clusterId\":\"\",\"leaderId\":1,\"leaderEpoch\":1,\"votedId\":-1,"
                                         "\"appliedOffset\":0,\"currentVoters\":[{\"voterId\":1}],\"data_version\":0}");
    snprintf(path, sizeof path, "%s/data/__cluster_metadata-0/partition.metadata", f->dir);
    assert_non_null(strstr(read_file(path), "topic_id: AAAAAAAAAAAAAAAAAAAAAQ"));
    snprintf(path, sizeof path, "%s/data/__cluster_metadata-0/leader-epoch-checkpoint", f->dir);
    assert_string_equal(read_file(path), "0\n1\n1 0\n");
    snprintf(path, sizeof path, "%s/data/meta.properties", f->dir);
    char *meta = read_file(path);
    assert_non_null(strstr(meta, "cluster.id="));
    assert_non_null(strstr(meta, "node.id=1"));
    assert_non_null(strstr(meta, "directory.id="));
    snprintf(path, sizeof path, "%s/data/bootstrap.checkpoint", f->dir);
    assert_int_equal(access(path, R_OK), 0);

    /* The initial publication describes everything so far. */
    kraft_node_set_publisher(f->node, publish, f);
    assert_int_equal(f->publishes, 1);
    assert_true(f->saw_initial);
    stop(f);

    /* Restart: a new epoch, the same cluster. */
    start(f, false);
    assert_int_equal(kraft_node_epoch(f->node), 2);
    snprintf(path, sizeof path, "%s/data/__cluster_metadata-0/quorum-state", f->dir);
    assert_non_null(strstr(read_file(path), "\"leaderEpoch\":2"));
    assert_int_equal(md_image_broker(kraft_node_image(f->node), 1)->epoch, 10); /* 8 LeaderChange, 9 controller */
    snprintf(path, sizeof path, "%s/data/__cluster_metadata-0/leader-epoch-checkpoint", f->dir);
    assert_string_equal(read_file(path), "0\n2\n1 0\n2 8\n");
}

static struct CreateTopicsRequest *ct(struct proto_arena *a, const char *name, int32_t np, const char *cfg_key,
                                      const char *cfg_value)
{
    struct CreateTopicsRequest *req = proto_arena_alloc(a, sizeof *req);
    proto_struct_init(proto_msg_CreateTopicsRequest.body, req);
    req->Topics = proto_array_new(a, &desc_CreateTopicsRequest_CreatableTopic, 1);
    req->Topics_n = 1;
    req->Topics[0].Name = proto_str_from(name);
    req->Topics[0].NumPartitions = np;
    req->Topics[0].ReplicationFactor = -1;
    req->Topics[0].Assignments_n = 0;
    req->Topics[0].Configs_n = 0;
    if (cfg_key) {
        req->Topics[0].Configs = proto_array_new(a, &desc_CreateTopicsRequest_CreateableTopicConfig, 1);
        req->Topics[0].Configs_n = 1;
        req->Topics[0].Configs[0].Name = proto_str_from(cfg_key);
        req->Topics[0].Configs[0].Value = proto_str_from(cfg_value);
    }
    return req;
}

static void test_admin_round_trip(void **state)
{
    struct fx *f = *state;
    start(f, true);
    kraft_node_set_publisher(f->node, publish, f);
    struct proto_arena a;
    proto_arena_init(&a);

    /* Three creates queued back to back: the second sees the first (TOPIC_ALREADY_EXISTS) though it is not
     * committed yet; all three are decided in one loop turn and commit together. */
    struct CreateTopicsResponse r1, r2, r3;
    kraft_create_topics(f->node, ct(&a, "orders", 3, "retention.ms", "60000"), 5, &a, &r1, on_done, f);
    kraft_create_topics(f->node, ct(&a, "orders", 1, NULL, NULL), 5, &a, &r2, on_done, f);
    kraft_create_topics(f->node, ct(&a, "logs", 2, NULL, NULL), 5, &a, &r3, on_done, f);
    assert_int_equal(f->done, 0); /* never from inside the call */
    run(f);
    assert_int_equal(f->done, 3);
    assert_int_equal(r1.Topics[0].ErrorCode, 0);
    assert_int_equal(r2.Topics[0].ErrorCode, KERR_TOPIC_ALREADY_EXISTS);
    assert_int_equal(r3.Topics[0].ErrorCode, 0);
    const struct md_image *img = kraft_node_image(f->node);
    assert_int_equal(md_image_topic(img, "orders")->nparts, 3);
    assert_int_equal(md_topic_partition(md_image_topic(img, "orders"), 0)->leader, 1);
    assert_int_equal(f->created, 2);
    assert_int_equal(f->publishes, 2); /* initial + one commit of both creates (the refused one wrote nothing) */

    /* Configs. */
    struct IncrementalAlterConfigsRequest ia;
    proto_struct_init(proto_msg_IncrementalAlterConfigsRequest.body, &ia);
    ia.Resources = proto_array_new(&a, &desc_IncrementalAlterConfigsRequest_AlterConfigsResource, 1);
    ia.Resources_n = 1;
    ia.Resources[0].ResourceType = MD_RESOURCE_TOPIC;
    ia.Resources[0].ResourceName = proto_str_from("logs");
    ia.Resources[0].Configs = proto_array_new(&a, &desc_IncrementalAlterConfigsRequest_AlterableConfig, 1);
    ia.Resources[0].Configs_n = 1;
    ia.Resources[0].Configs[0].Name = proto_str_from("cleanup.policy");
    ia.Resources[0].Configs[0].ConfigOperation = 0;
    ia.Resources[0].Configs[0].Value = proto_str_from("compact");
    struct IncrementalAlterConfigsResponse iar;
    kraft_incremental_alter_configs(f->node, &ia, 1, &a, &iar, on_done, f);
    /* Partitions. */
    struct CreatePartitionsRequest cp;
    proto_struct_init(proto_msg_CreatePartitionsRequest.body, &cp);
    cp.Topics = proto_array_new(&a, &desc_CreatePartitionsRequest_CreatePartitionsTopic, 1);
    cp.Topics_n = 1;
    cp.Topics[0].Name = proto_str_from("logs");
    cp.Topics[0].Count = 4;
    cp.Topics[0].Assignments_n = -1;
    struct CreatePartitionsResponse cpr;
    kraft_create_partitions(f->node, &cp, 1, &a, &cpr, on_done, f);
    /* Delete orders. */
    struct DeleteTopicsRequest dt;
    proto_struct_init(proto_msg_DeleteTopicsRequest.body, &dt);
    proto_str del = proto_str_from("orders");
    dt.TopicNames = &del;
    dt.TopicNames_n = 1;
    struct DeleteTopicsResponse dtr;
    kraft_delete_topics(f->node, &dt, 4, &a, &dtr, on_done, f);
    /* Legacy AlterConfigs on a missing topic. */
    struct AlterConfigsRequest ac;
    proto_struct_init(proto_msg_AlterConfigsRequest.body, &ac);
    ac.Resources = proto_array_new(&a, &desc_AlterConfigsRequest_AlterConfigsResource, 1);
    ac.Resources_n = 1;
    ac.Resources[0].ResourceType = MD_RESOURCE_TOPIC;
    ac.Resources[0].ResourceName = proto_str_from("nope");
    ac.Resources[0].Configs_n = 0;
    struct AlterConfigsResponse acr;
    kraft_alter_configs(f->node, &ac, 1, &a, &acr, on_done, f);
    /* Auto-creation. */
    const char *names[] = {"auto1", "auto1", "bad name"};
    kraft_auto_create_topics(f->node, names, 3, on_done, f);
    run(f);
    assert_int_equal(f->done, 8);
    assert_int_equal(iar.Responses[0].ErrorCode, 0);
    assert_int_equal(cpr.Results[0].ErrorCode, 0);
    assert_int_equal(dtr.Responses[0].ErrorCode, 0);
    assert_int_equal(acr.Responses[0].ErrorCode, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    img = kraft_node_image(f->node);
    assert_null(md_image_topic(img, "orders"));
    assert_null(md_image_configs(img, MD_RESOURCE_TOPIC, "orders"));
    assert_int_equal(md_image_topic(img, "logs")->nparts, 4);
    assert_string_equal(md_configs_get(md_image_configs(img, MD_RESOURCE_TOPIC, "logs"), "cleanup.policy"), "compact");
    assert_non_null(md_image_topic(img, "auto1"));
    assert_int_equal(f->deleted, 1);

    char before[8192], after[8192];
    dump_topics_and_configs(img, before, sizeof before);
    int64_t end = kraft_node_end_offset(f->node);
    stop(f);

    /* The log alone rebuilds the same image. */
    struct metalog *ml;
    char meta_dir[600];
    snprintf(meta_dir, sizeof meta_dir, "%s/data", f->dir);
    assert_int_equal(metalog_open(meta_dir, 0, &ml), 0);
    assert_int_equal(metalog_end_offset(ml), end);
    struct md_image replayed;
    md_image_init(&replayed);
    struct metalog_loader l;
    metalog_loader_init(&l, &replayed, NULL);
    assert_int_equal(metalog_scan(ml, metalog_loader_batch_cb, &l), 0);
    assert_int_equal(l.refused, 0);
    metalog_loader_free(&l);
    metalog_close(ml);
    dump_topics_and_configs(&replayed, after, sizeof after);
    assert_string_equal(before, after);
    md_image_free(&replayed);

    /* And so does a restarted node; its first publication lists every topic. */
    f->publishes = f->created = 0;
    start(f, false);
    dump_topics_and_configs(kraft_node_image(f->node), after, sizeof after);
    assert_string_equal(before, after);
    kraft_node_set_publisher(f->node, publish, f);
    assert_int_equal(f->created, 2); /* logs, auto1 */
    proto_arena_free(&a);
}

static void test_torn_tail(void **state)
{
    struct fx *f = *state;
    start(f, true);
    struct proto_arena a;
    proto_arena_init(&a);
    struct CreateTopicsResponse r;
    kraft_create_topics(f->node, ct(&a, "t", 1, NULL, NULL), 4, &a, &r, on_done, f);
    run(f);
    char before[8192], after[8192];
    dump_topics_and_configs(kraft_node_image(f->node), before, sizeof before);
    stop(f);
    /* A crash in the middle of an append: half a batch at the end of the segment. */
    char seg[700];
    snprintf(seg, sizeof seg, "%s/data/__cluster_metadata-0/00000000000000000000.log", f->dir);
    FILE *fp = fopen(seg, "ab");
    assert_non_null(fp);
    uint8_t junk[40] = {0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 1, 0, 0, 0, 0, 7, 2};
    fwrite(junk, 1, sizeof junk, fp);
    fclose(fp);
    start(f, false);
    dump_topics_and_configs(kraft_node_image(f->node), after, sizeof after);
    assert_string_equal(before, after);
    /* Writes go on after the recovered tail. */
    kraft_create_topics(f->node, ct(&a, "t2", 1, NULL, NULL), 4, &a, &r, on_done, f);
    run(f);
    assert_int_equal(r.Topics[0].ErrorCode, 0);
    stop(f);
    start(f, false);
    assert_non_null(md_image_topic(kraft_node_image(f->node), "t2"));
    proto_arena_free(&a);
}

static int submit_rc = 99;
static void on_submit(void *arg, int rc)
{
    (void)arg;
    submit_rc = rc;
}

static void test_submit_multi_batch(void **state)
{
    struct fx *f = *state;
    start(f, true);
    enum { N = 10050 };
    struct ConfigRecord *recs = calloc(N, sizeof *recs);
    struct metalog_rec *mr = calloc(N, sizeof *mr);
    char (*keys)[16] = calloc(N, 16);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 16, "k%d", i);
        recs[i].ResourceType = MD_RESOURCE_BROKER;
        recs[i].ResourceName = proto_str_from("");
        recs[i].Name = proto_str_from(keys[i]);
        recs[i].Value = proto_str_from("v");
        mr[i] = (struct metalog_rec){&proto_msg_ConfigRecord, 0, &recs[i]};
    }
    int64_t end = kraft_node_end_offset(f->node);
    assert_int_equal(kraft_node_submit(f->node, mr, N, on_submit, NULL), 0);
    assert_int_equal(kraft_node_submit(f->node, mr, 0, on_submit, NULL), FERRY_EINVAL);
    run(f);
    assert_int_equal(submit_rc, 0);
    assert_int_equal(kraft_node_end_offset(f->node), end + N + 2); /* Begin + records + End */
    assert_int_equal(md_image_configs(kraft_node_image(f->node), MD_RESOURCE_BROKER, "")->n, N);
    stop(f);
    free(recs);
    free(mr);
    free(keys);
    start(f, false);
    assert_int_equal(md_image_configs(kraft_node_image(f->node), MD_RESOURCE_BROKER, "")->n, N);
}

/* A crash between BeginTransaction and EndTransaction: the restarted leader aborts it. */
static void test_open_transaction_aborted(void **state)
{
    struct fx *f = *state;
    start(f, true);
    int32_t epoch = kraft_node_epoch(f->node);
    stop(f);
    char meta_dir[600];
    snprintf(meta_dir, sizeof meta_dir, "%s/data", f->dir);
    struct metalog *ml;
    assert_int_equal(metalog_open(meta_dir, 0, &ml), 0);
    struct BeginTransactionRecord begin = {.Name = proto_str_from("partial")};
    proto_uuid id = {{1, 2, 3}};
    struct TopicRecord topic = {.Name = proto_str_from("half"), .TopicId = id};
    struct metalog_rec recs[] = {{&proto_msg_BeginTransactionRecord, 0, &begin}, {&proto_msg_TopicRecord, 0, &topic}};
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(metalog_build_batch(&w, 0, epoch, 0, recs, 2), 0);
    struct plog_append_info info;
    assert_int_equal(metalog_append(ml, w.buf, w.len, epoch, 0, &info), 0);
    proto_writer_free(&w);
    assert_int_equal(metalog_close(ml), 0);

    start(f, false);
    assert_null(md_image_topic(kraft_node_image(f->node), "half"));
    stop(f);
    /* The log now carries the AbortTransactionRecord: a plain replay agrees. */
    assert_int_equal(metalog_open(meta_dir, 0, &ml), 0);
    struct md_image img;
    md_image_init(&img);
    struct metalog_loader l;
    metalog_loader_init(&l, &img, NULL);
    assert_int_equal(metalog_scan(ml, metalog_loader_batch_cb, &l), 0);
    assert_false(l.in_txn);
    assert_null(md_image_topic(&img, "half"));
    metalog_loader_free(&l);
    md_image_free(&img);
    metalog_close(ml);
}

static void test_unparseable_quorum_state(void **state)
{
    struct fx *f = *state;
    start(f, true);
    stop(f);
    char path[700];
    snprintf(path, sizeof path, "%s/data/__cluster_metadata-0/quorum-state", f->dir);
    FILE *fp = fopen(path, "wb");
    fputs("{not json", fp);
    fclose(fp);
    start(f, false); /* deleted and reset; the epoch comes from the log */
    assert_int_equal(kraft_node_epoch(f->node), 2);
}

/* Stop with writes queued and one in flight: no callback after stop, nothing leaks, the log stays whole. */
static void test_stop_with_pending_writes(void **state)
{
    struct fx *f = *state;
    start(f, true);
    struct proto_arena a;
    proto_arena_init(&a);
    struct CreateTopicsResponse r1, r2;
    kraft_create_topics(f->node, ct(&a, "one", 1, NULL, NULL), 4, &a, &r1, on_done, f);
    kraft_create_topics(f->node, ct(&a, "two", 1, NULL, NULL), 4, &a, &r2, on_done, f);
    /* One loop turn appends both writes together (their fsync runs on the thread pool), then stop: neither
     * is answered; after the restart both or neither are in the log. */
    uv_run(&f->loop, UV_RUN_NOWAIT);
    kraft_node_stop(f->node);
    f->node = NULL;
    run(f);
    assert_int_equal(f->done, 0);
    start(f, false);
    const struct md_image *img = kraft_node_image(f->node);
    assert_int_equal(md_image_topic(img, "one") != NULL, md_image_topic(img, "two") != NULL);
    proto_arena_free(&a);
}

/* A single voter that resigns (SIGTERM: broker_begin_shutdown) has no successor to wait for: like Kafka's
 * graceful shutdown with no remote voters, it is done at once instead of after
 * controller.quorum.election.timeout.ms (the test sets an hour, which a bug would wait out in the loop). */
static int resigned;
static void on_resigned(void *arg)
{
    (void)arg;
    resigned++;
}

static void test_single_voter_resigns_at_once(void **state)
{
    struct fx *f = *state;
    f->cfg.controller_quorum_election_timeout_ms = 3600 * 1000;
    start(f, true);
    assert_true(kraft_node_is_active_controller(f->node));
    resigned = 0;
    kraft_node_resign(f->node, on_resigned, NULL);
    for (int i = 0; i < 5 && !resigned; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(resigned, 1);
    assert_false(kraft_node_is_active_controller(f->node));
}

/* Reloads the config with the voters given (the node stays 1, log.dirs unchanged). */
static void set_voters(struct fx *f, const char *voters)
{
    config_free(&f->cfg);
    char set[600];
    snprintf(set, sizeof set, "log.dirs=%s/data", f->dir);
    char v[300];
    snprintf(v, sizeof v, "controller.quorum.voters=%s", voters);
    const char *overrides[] = {set, v};
    char err[512];
    if (config_load(&f->cfg, NULL, overrides, 2, err, sizeof err) != 0)
        fail_msg("config: %s", err);
}

/* One of three voters with no peers reachable: no leader, so it is not the active controller; admin
 * writes answer NOT_CONTROLLER and raw submissions FERRY_EUNSUPPORTED, from the loop. A voter set that
 * differs from quorum-state's refuses to start. */
static void test_not_controller(void **state)
{
    struct fx *f = *state;
    set_voters(f, "1@127.0.0.1:9093,2@127.0.0.1:19093,3@127.0.0.1:29093");
    start(f, true);
    assert_false(kraft_node_is_active_controller(f->node));
    assert_int_equal(kraft_node_leader_id(f->node), -1);
    const char *host;
    uint16_t port;
    assert_false(kraft_node_leader_endpoint(f->node, &host, &port));
    assert_int_equal(kraft_node_high_watermark(f->node), -1);
    struct proto_arena a;
    proto_arena_init(&a);
    struct CreateTopicsResponse r;
    proto_struct_init(proto_msg_CreateTopicsResponse.body, &r);
    kraft_create_topics(f->node, ct(&a, "nope", 1, NULL, NULL), 4, &a, &r, on_done, f);
    submit_rc = 0;
    struct TopicRecord topic = {.Name = proto_str_from("raw"), .TopicId = {{9, 9}}};
    struct metalog_rec rec = {&proto_msg_TopicRecord, 0, &topic};
    assert_int_equal(kraft_node_submit(f->node, &rec, 1, on_submit, NULL), 0);
    assert_int_equal(f->done, 0); /* never from inside the call */
    run(f);
    assert_int_equal(f->done, 1);
    assert_int_equal(r.Topics_n, 1);
    assert_int_equal(r.Topics[0].ErrorCode, KERR_NOT_CONTROLLER);
    assert_int_equal(submit_rc, FERRY_EUNSUPPORTED);
    assert_null(md_image_topic(kraft_node_image(f->node), "nope"));
    stop(f);
    proto_arena_free(&a);

    /* quorum-state names three voters (as once this node has voted): a single-voter configuration is
     * refused, naming the file */
    char pdir[700];
    snprintf(pdir, sizeof pdir, "%s/data/__cluster_metadata-0", f->dir);
    struct quorum_state qs;
    quorum_state_init(&qs);
    qs.leader_epoch = 3;
    qs.voters[0] = 1;
    qs.voters[1] = 2;
    qs.voters[2] = 3;
    qs.nvoters = 3;
    assert_int_equal(quorum_state_write(pdir, &qs), 0);
    set_voters(f, "1@127.0.0.1:9093");
    char err[1024];
    struct kraft_node *n = NULL;
    assert_int_not_equal(kraft_node_start(&f->loop, &f->cfg, false, &n, err, sizeof err), 0);
    assert_null(n);
    assert_non_null(strstr(err, "differs from controller.quorum.voters"));
}

/* Listeners on port 0: the broker registers again once the bound ports are known. */
static void test_listeners_bound(void **state)
{
    struct fx *f = *state;
    config_free(&f->cfg);
    char set[600];
    snprintf(set, sizeof set, "log.dirs=%s/data", f->dir);
    const char *overrides[] = {set, "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:9093"};
    char err[512];
    if (config_load(&f->cfg, NULL, overrides, 2, err, sizeof err) != 0)
        fail_msg("config: %s", err);
    start(f, true);
    kraft_node_set_publisher(f->node, publish, f);
    const struct md_broker *b = md_image_broker(kraft_node_image(f->node), 1);
    assert_int_equal(b->endpoints[0].port, 0);
    const char *names[] = {"PLAINTEXT", "CONTROLLER"};
    const uint16_t ports[] = {41234, 9093};
    int64_t end = kraft_node_end_offset(f->node);
    kraft_node_listeners_bound(f->node, names, ports, 2);
    run(f);
    b = md_image_broker(kraft_node_image(f->node), 1);
    assert_int_equal(b->endpoints[0].port, 41234);
    assert_int_equal(b->epoch, end);
    assert_false(b->fenced);
    assert_int_equal(kraft_node_end_offset(f->node), end + 2);
    /* Already current: nothing written. */
    kraft_node_listeners_bound(f->node, names, ports, 2);
    run(f);
    assert_int_equal(kraft_node_end_offset(f->node), end + 2);
}

/* AllocateProducerIds: blocks of 1000 from 0, durable across a restart; a stale broker epoch is refused. */
struct pid_result {
    int64_t first;
    int32_t len;
    int16_t error;
    int calls;
};

static void on_pids(void *arg, int64_t first, int32_t len, int16_t error)
{
    struct pid_result *r = arg;
    r->first = first;
    r->len = len;
    r->error = error;
    r->calls++;
}

static void test_allocate_producer_ids(void **state)
{
    struct fx *f = *state;
    start(f, true);
    int64_t epoch = md_image_broker(kraft_node_image(f->node), 1)->epoch;
    struct pid_result r = {0};
    kraft_allocate_producer_ids(f->node, 1, epoch, on_pids, &r);
    assert_int_equal(r.calls, 0); /* never from inside the call */
    run(f);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.len, 1000);
    kraft_allocate_producer_ids(f->node, 1, epoch, on_pids, &r);
    run(f);
    assert_int_equal(r.first, 1000);
    assert_int_equal(kraft_node_image(f->node)->producer_ids.next_producer_id, 2000);
    kraft_allocate_producer_ids(f->node, 1, epoch + 1, on_pids, &r);
    kraft_allocate_producer_ids(f->node, 7, epoch, on_pids, &r);
    run(f);
    assert_int_equal(r.calls, 4);
    assert_int_equal(r.error, KERR_STALE_BROKER_EPOCH);
    assert_int_equal(r.first, -1);
    stop(f);
    start(f, false);
    assert_int_equal(kraft_node_image(f->node)->producer_ids.next_producer_id, 2000);
    epoch = md_image_broker(kraft_node_image(f->node), 1)->epoch;
    kraft_allocate_producer_ids(f->node, 1, epoch, on_pids, &r);
    run(f);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.first, 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_multi_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_transaction_aborted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unparseable_quorum_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_controller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_pending_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listeners_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocate_producer_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_voter_resigns_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
