/* quorum_cli: `ferry quorum describe --status|--replication`, mirroring Kafka 3.7's kafka-metadata-quorum.sh.
 *
 * Connects (kclient) to --bootstrap-server (a broker listener, which forwards DescribeQuorum to the active
 * controller as Kafka's brokers do; REQUEST_TIMED_OUT when it reaches none) or --bootstrap-controller (a controller listener:
 * then, as Kafka's admin client, to the active controller that listener's DescribeCluster names), sends
 * DescribeQuorum (v1 when served, else v0) for __cluster_metadata partition 0, and prints:
 *   --status       ClusterId (from DescribeCluster, v1 with EndpointType 2 on a controller listener, or
 *                  Metadata v2+, whichever the listener serves; else "unknown"), LeaderId, LeaderEpoch, HighWatermark, MaxFollowerLag,
 *                  MaxFollowerLagTimeMs, CurrentVoters, CurrentObservers, as kafka-metadata-quorum does
 *                  (the lag is the leader's log end minus the lowest voter's);
 *   --replication  the table NodeId LogEndOffset Lag LastFetchTimestamp LastCaughtUpTimestamp Status
 *                  (Leader, then Follower voters, then Observers; cells left-aligned and tab-separated as
 *                  Kafka's ToolsUtils.prettyPrintTable), with --human-readable "N ms ago" for times.
 * Errors go to stderr as "Error: <what>" (for a Kafka error also its name and code); exit status 0
 * success, 1 failure (unreachable, a Kafka error such as NOT_LEADER_OR_FOLLOWER or REQUEST_TIMED_OUT, no leader among the
 * voters), 2 usage error. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_support.h"
#include "broker/cli/cli.h"
#include "broker/cli/cli_args.h"
#include "broker/cli/kclient.h"
#include "proto_codec.h"

enum { QUORUM_EXIT_FAIL = 1, QUORUM_EXIT_USAGE = CLI_EXIT_USAGE };

struct quorum_opts {
    const char *bootstrap;
    bool controller; /* --bootstrap-controller */
    bool describe, status, replication, human_readable, help;
    int timeout_ms;
};

static const char quorum_usage_text[] =
    "usage: ferry quorum (--bootstrap-server HOST:PORT | --bootstrap-controller HOST:PORT) describe\n"
    "                    (--status | --replication [--human-readable]) [--timeout-ms MS]\n"
    "Describes the KRaft metadata quorum, as kafka-metadata-quorum.sh does.\n"
    "options:\n"
    "  --bootstrap-server HOST:PORT      a broker listener to ask\n"
    "  --bootstrap-controller HOST:PORT  a controller listener to ask\n"
    "  --status                          leader, epoch, high watermark, lag, voters and observers\n"
    "  --replication                     per replica: log end offset, lag, last fetch and caught-up times\n"
    "  --human-readable                  with --replication: times as \"N ms ago\"\n"
    "  --timeout-ms MS                   network timeout per request (default 30000)\n"
    "  --help                            this text\n"
    "exit status: 0 success, 1 failure (unreachable, a Kafka error, no leader), 2 usage error\n";

/* Fills o from the arguments after "quorum". Returns 0, or QUORUM_EXIT_USAGE after printing why. */
static int quorum_parse_args(int argc, char **argv, struct quorum_opts *o, FILE *err)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = 30000;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "describe") == 0) {
            o->describe = true;
        } else if (strcmp(arg, "--status") == 0) {
            o->status = true;
        } else if (strcmp(arg, "--replication") == 0) {
            o->replication = true;
        } else if (strcmp(arg, "--human-readable") == 0) {
            o->human_readable = true;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            o->help = true;
        } else {
            static const char *const with_value[] = {"--bootstrap-server", "--bootstrap-controller", "--timeout-ms"};
            const char *name, *value;
            int rc = cli_value_option(argc, argv, &i, with_value, sizeof with_value / sizeof with_value[0], "quorum",
                                      err, &name, &value);
            if (rc)
                return rc;
            if (strcmp(name, "--timeout-ms") == 0) {
                int32_t ms;
                if (!cli_parse_int(value, 1, 3600 * 1000, &ms))
                    return cli_usage_error(err, "quorum", "invalid --timeout-ms '%s'", value);
                o->timeout_ms = ms;
                continue;
            }
            if (o->bootstrap)
                return cli_usage_error(err, "quorum", "only one of --bootstrap-server or --bootstrap-controller may be given");
            if (!*value)
                return cli_usage_error(err, "quorum", "%s must not be empty", name);
            o->bootstrap = value;
            o->controller = strcmp(name, "--bootstrap-controller") == 0;
        }
    }
    if (o->help)
        return 0;
    if (!o->bootstrap)
        return cli_usage_error(err, "quorum", "one of --bootstrap-server or --bootstrap-controller is required");
    if (!o->describe)
        return cli_usage_error(err, "quorum", "a command is required: describe");
    if (o->status && o->replication)
        return cli_usage_error(err, "quorum", "Only one of --status or --replication should be specified with describe sub-command");
    if (!o->status && !o->replication)
        return cli_usage_error(err, "quorum", "One of --status or --replication must be specified with describe sub-command");
    if (o->human_readable && !o->replication)
        return cli_usage_error(err, "quorum", "The option --human-readable is only supported along with --replication");
    return 0;
}

/* ---- formatting (pure: unit-tested) ------------------------------------------------------------------ */

/* The index of the leader among the voters, or -1. */
static int32_t leader_index(const struct DescribeQuorumResponse_PartitionData *p)
{
    for (int32_t i = 0; i < p->CurrentVoters_n; i++)
        if (p->CurrentVoters[i].ReplicaId == p->LeaderId)
            return i;
    return -1;
}

static int no_leader(FILE *err, const struct DescribeQuorumResponse_PartitionData *p)
{
    fprintf(err, "Error: the quorum has no leader among its voters (LeaderId %d, LeaderEpoch %d)\n", p->LeaderId,
            p->LeaderEpoch);
    return QUORUM_EXIT_FAIL;
}

static void print_ids(FILE *out, const struct DescribeQuorumResponse_ReplicaState *r, int32_t n)
{
    fputc('[', out);
    for (int32_t i = 0; i < n; i++)
        fprintf(out, "%s%d", i ? "," : "", r[i].ReplicaId);
    fputc(']', out);
}

/* kafka-metadata-quorum describe --status. Returns 0, or QUORUM_EXIT_FAIL when no voter is the leader. */
static int quorum_print_status(FILE *out, FILE *err, const char *cluster_id,
                               const struct DescribeQuorumResponse_PartitionData *p)
{
    int32_t li = leader_index(p);
    if (li < 0)
        return no_leader(err, p);
    const struct DescribeQuorumResponse_ReplicaState *leader = &p->CurrentVoters[li];
    int32_t mi = 0; /* the first voter with the lowest log end offset, as Stream.min picks */
    for (int32_t i = 1; i < p->CurrentVoters_n; i++)
        if (p->CurrentVoters[i].LogEndOffset < p->CurrentVoters[mi].LogEndOffset)
            mi = i;
    const struct DescribeQuorumResponse_ReplicaState *lowest = &p->CurrentVoters[mi];
    int64_t lag_ms;
    if (mi == li)
        lag_ms = 0;
    else if (leader->LastCaughtUpTimestamp >= 0 && lowest->LastCaughtUpTimestamp >= 0)
        lag_ms = leader->LastCaughtUpTimestamp - lowest->LastCaughtUpTimestamp;
    else
        lag_ms = -1;
    fprintf(out, "ClusterId:              %s\n", cluster_id ? cluster_id : "unknown");
    fprintf(out, "LeaderId:               %d\n", p->LeaderId);
    fprintf(out, "LeaderEpoch:            %d\n", p->LeaderEpoch);
    fprintf(out, "HighWatermark:          %lld\n", (long long)p->HighWatermark);
    fprintf(out, "MaxFollowerLag:         %lld\n", (long long)(leader->LogEndOffset - lowest->LogEndOffset));
    fprintf(out, "MaxFollowerLagTimeMs:   %lld\n", (long long)lag_ms);
    fprintf(out, "CurrentVoters:          ");
    print_ids(out, p->CurrentVoters, p->CurrentVoters_n);
    fprintf(out, "\nCurrentObservers:       ");
    print_ids(out, p->Observers, p->Observers_n);
    fputc('\n', out);
    return 0;
}

enum { REPL_COLUMNS = 6, REPL_CELL = 48 };

struct repl_row {
    char cell[REPL_COLUMNS][REPL_CELL];
};

/* A time cell: -1 when unknown, the timestamp, or with human "N ms ago" (false when the timestamp is not
 * in (epoch, now]: Kafka refuses it as clock drift). */
static bool time_cell(char *cell, int64_t ts, bool human, int64_t now_ms, const char *what, FILE *err)
{
    if (ts < 0 || !human) {
        snprintf(cell, REPL_CELL, "%lld", (long long)(ts < 0 ? -1 : ts));
        return true;
    }
    if (ts <= 0 || ts > now_ms) {
        fprintf(err, "Error: Error while computing relative time, possible drift in system clock.\n"
                     "Current timestamp is %lld, %s timestamp is %lld\n", (long long)now_ms, what, (long long)ts);
        return false;
    }
    snprintf(cell, REPL_CELL, "%lld ms ago", (long long)(now_ms - ts));
    return true;
}

static bool fill_row(struct repl_row *row, const struct DescribeQuorumResponse_ReplicaState *r, int64_t leader_leo,
                     const char *status, bool human, int64_t now_ms, FILE *err)
{
    snprintf(row->cell[0], REPL_CELL, "%d", r->ReplicaId);
    snprintf(row->cell[1], REPL_CELL, "%lld", (long long)r->LogEndOffset);
    snprintf(row->cell[2], REPL_CELL, "%lld", (long long)(leader_leo - r->LogEndOffset));
    snprintf(row->cell[5], REPL_CELL, "%s", status);
    return time_cell(row->cell[3], r->LastFetchTimestamp, human, now_ms, "last fetch", err) &&
           time_cell(row->cell[4], r->LastCaughtUpTimestamp, human, now_ms, "last caught up", err);
}

static void print_row(FILE *out, const char *const *cells, const size_t *width)
{
    for (int c = 0; c < REPL_COLUMNS; c++)
        fprintf(out, "%-*s\t", (int)width[c], cells[c]);
    fputc('\n', out);
}

/* kafka-metadata-quorum describe --replication. now_ms: the wall clock, for --human-readable. Returns 0,
 * QUORUM_EXIT_FAIL (no leader among the voters, a time after now with --human-readable) or FERRY_ENOMEM. */
static int quorum_print_replication(FILE *out, FILE *err, const struct DescribeQuorumResponse_PartitionData *p,
                                    bool human, int64_t now_ms)
{
    int32_t li = leader_index(p);
    if (li < 0)
        return no_leader(err, p);
    size_t n = (size_t)p->CurrentVoters_n + (size_t)(p->Observers_n > 0 ? p->Observers_n : 0);
    struct repl_row *rows = calloc(n, sizeof *rows);
    if (!rows)
        return FERRY_ENOMEM;
    int64_t leo = p->CurrentVoters[li].LogEndOffset;
    size_t k = 0;
    bool ok = fill_row(&rows[k++], &p->CurrentVoters[li], leo, "Leader", human, now_ms, err);
    for (int32_t i = 0; ok && i < p->CurrentVoters_n; i++)
        if (i != li)
            ok = fill_row(&rows[k++], &p->CurrentVoters[i], leo, "Follower", human, now_ms, err);
    for (int32_t i = 0; ok && i < p->Observers_n; i++)
        ok = fill_row(&rows[k++], &p->Observers[i], leo, "Observer", human, now_ms, err);
    if (ok) {
        static const char *const headers[REPL_COLUMNS] = {"NodeId", "LogEndOffset", "Lag", "LastFetchTimestamp",
                                                          "LastCaughtUpTimestamp", "Status"};
        size_t width[REPL_COLUMNS];
        for (int c = 0; c < REPL_COLUMNS; c++) {
            width[c] = strlen(headers[c]);
            for (size_t r = 0; r < k; r++)
                if (strlen(rows[r].cell[c]) > width[c])
                    width[c] = strlen(rows[r].cell[c]);
        }
        print_row(out, headers, width);
        for (size_t r = 0; r < k; r++) {
            const char *cells[REPL_COLUMNS];
            for (int c = 0; c < REPL_COLUMNS; c++)
                cells[c] = rows[r].cell[c];
            print_row(out, cells, width);
        }
    }
    free(rows);
    return ok ? 0 : QUORUM_EXIT_FAIL;
}

/* ---- requests --------------------------------------------------------------------------------------- */

static void print_kafka_error(FILE *err, const struct kclient *c, int16_t code)
{
    fprintf(err, "Error: %s:%d answered DescribeQuorum with %s (Kafka error %d): %s\n", c->host, c->port,
            kafka_error_name(code), code, kclient_kafka_message(code));
    if (code == KERR_NOT_LEADER_OR_FOLLOWER)
        fprintf(err, "(that node is not the quorum leader, or the leadership is moving: ask the active "
                     "controller, or again)\n");
    else if (code == KERR_REQUEST_TIMED_OUT)
        fprintf(err, "(the broker could not reach the active controller, to which it forwards DescribeQuorum: "
                     "are the controllers running?)\n");
}

/* DescribeQuorum for the metadata partition. Returns 0 with *part, QUORUM_EXIT_FAIL after printing why. */
static int describe_quorum(struct kclient *c, struct proto_arena *a, FILE *err,
                           const struct DescribeQuorumResponse_PartitionData **part)
{
    int version = kclient_pick_version(c, API_DESCRIBE_QUORUM, 0);
    struct DescribeQuorumRequest req;
    proto_struct_init(proto_msg_DescribeQuorumRequest.body, &req);
    struct DescribeQuorumRequest_TopicData topic = {proto_str_from("__cluster_metadata"), NULL, 1};
    struct DescribeQuorumRequest_PartitionData partition = {0};
    topic.Partitions = &partition;
    req.Topics = &topic;
    req.Topics_n = 1;
    struct DescribeQuorumResponse resp;
    if (version < 0 || kclient_call(c, API_DESCRIBE_QUORUM, (int16_t)version, &req, a, &resp) < 0) {
        fprintf(err, "Error: %s\n", kclient_errmsg(c));
        return QUORUM_EXIT_FAIL;
    }
    if (resp.ErrorCode) {
        print_kafka_error(err, c, resp.ErrorCode);
        return QUORUM_EXIT_FAIL;
    }
    if (resp.Topics_n != 1 || resp.Topics[0].Partitions_n != 1) {
        fprintf(err, "Error: %s:%d answered DescribeQuorum for %d topics, not the metadata partition alone\n",
                c->host, c->port, resp.Topics_n);
        return QUORUM_EXIT_FAIL;
    }
    *part = &resp.Topics[0].Partitions[0];
    if ((*part)->ErrorCode) {
        print_kafka_error(err, c, (*part)->ErrorCode);
        return QUORUM_EXIT_FAIL;
    }
    return 0;
}

/* The active controller's endpoint in a controller listener's DescribeCluster answer (KIP-919): the node
 * named ControllerId. false when there is none (no active controller known, or not among the nodes). */
static bool active_controller(const struct DescribeClusterResponse *dc, proto_str *host, int32_t *port)
{
    if (dc->ErrorCode || dc->ControllerId < 0)
        return false;
    for (int32_t i = 0; i < dc->Brokers_n; i++) {
        if (dc->Brokers[i].BrokerId == dc->ControllerId) {
            *host = dc->Brokers[i].Host;
            *port = dc->Brokers[i].Port;
            return true;
        }
    }
    return false;
}

/* DescribeCluster (v1 with EndpointType 2 on a controller listener, as Kafka's admin client does with
 * bootstrap.controllers): 0 with *out, or -1 when the listener does not serve it or it fails. */
static int describe_cluster(struct kclient *c, bool controller, struct proto_arena *a,
                            struct DescribeClusterResponse *out)
{
    if (!kclient_broker_api(c, API_DESCRIBE_CLUSTER))
        return -1;
    int v = kclient_pick_version(c, API_DESCRIBE_CLUSTER, controller ? 1 : 0);
    if (v < 0)
        return -1;
    struct DescribeClusterRequest req;
    proto_struct_init(proto_msg_DescribeClusterRequest.body, &req);
    req.EndpointType = controller ? 2 : 1;
    if (kclient_call(c, API_DESCRIBE_CLUSTER, (int16_t)v, &req, a, out) != 0 || out->ErrorCode != 0)
        return -1;
    return 0;
}

/* The cluster id, from DescribeCluster or Metadata v2+, whichever the listener serves; NULL when neither
 * answers. */
static const char *cluster_id(struct kclient *c, bool controller, struct proto_arena *a)
{
    struct DescribeClusterResponse dc;
    if (describe_cluster(c, controller, a, &dc) == 0)
        return proto_arena_strdup(a, dc.ClusterId);
    int v = kclient_broker_api(c, API_METADATA) ? kclient_pick_version(c, API_METADATA, 2) : -1;
    if (v < 0)
        return NULL;
    struct MetadataRequest req;
    proto_struct_init(proto_msg_MetadataRequest.body, &req);
    req.Topics_n = 0; /* v1+: an empty list asks for no topic */
    req.AllowAutoTopicCreation = false;
    struct MetadataResponse resp;
    if (kclient_call(c, API_METADATA, (int16_t)v, &req, a, &resp) == 0 && resp.ClusterId.len >= 0)
        return proto_arena_strdup(a, resp.ClusterId);
    return NULL;
}

/* --bootstrap-controller: DescribeQuorum goes to the active controller, found as Kafka's admin client finds
 * it (DescribeCluster's ControllerId among the controllers); the bootstrap node itself when it names none.
 * Returns 0, or QUORUM_EXIT_FAIL after printing why (the active controller is unreachable). */
static int connect_active_controller(struct kclient *c, struct proto_arena *a, FILE *err)
{
    struct DescribeClusterResponse dc;
    proto_str host;
    int32_t port;
    if (describe_cluster(c, true, a, &dc) != 0 || !active_controller(&dc, &host, &port))
        return 0;
    char *h = proto_arena_strdup(a, host);
    if (!h || (strcmp(h, c->host) == 0 && port == c->port))
        return 0;
    if (kclient_connect(c, h, port) < 0) {
        fprintf(err, "Error: the active controller %d: %s\n", dc.ControllerId, kclient_errmsg(c));
        return QUORUM_EXIT_FAIL;
    }
    return 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_describe(const struct quorum_opts *o, FILE *out, FILE *err)
{
    struct kclient c;
    kclient_init(&c);
    c.timeout_ms = o->timeout_ms;
    if (kclient_connect_bootstrap(&c, o->bootstrap) < 0) {
        fprintf(err, "Error: %s\n", kclient_errmsg(&c));
        return QUORUM_EXIT_FAIL;
    }
    struct proto_arena a;
    proto_arena_init(&a);
    const struct DescribeQuorumResponse_PartitionData *p = NULL;
    int rc = o->controller ? connect_active_controller(&c, &a, err) : 0;
    if (rc == 0)
        rc = describe_quorum(&c, &a, err, &p);
    if (rc == 0 && o->status)
        rc = quorum_print_status(out, err, cluster_id(&c, o->controller, &a), p);
    else if (rc == 0)
        rc = quorum_print_replication(out, err, p, o->human_readable, wall_ms());
    if (rc == FERRY_ENOMEM) {
        fprintf(err, "Error: out of memory\n");
        rc = QUORUM_EXIT_FAIL;
    }
    proto_arena_free(&a);
    kclient_close(&c);
    return rc;
}

int cli_quorum_main(int argc, char **argv)
{
    struct quorum_opts o;
    int rc = quorum_parse_args(argc, argv, &o, stderr);
    if (rc)
        return rc;
    if (o.help) {
        fputs(quorum_usage_text, stdout);
        return 0;
    }
    return run_describe(&o, stdout, stderr);
}
