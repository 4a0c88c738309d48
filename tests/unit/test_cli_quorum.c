/* Unit tests of `ferry quorum describe` that need no node: argument parsing and the
 * kafka-metadata-quorum output (--status lines, the --replication table, --human-readable, no leader). The
 * file under test is included so that its static helpers can be called directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/cli/quorum_cli.c"

#define TS INT64_C(1700000000000)

/* Runs quorum_parse_args on a NULL-terminated list; captures what it printed. */
static int parse(struct quorum_opts *o, char *errout, size_t cap, const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 32; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    memset(errout, 0, cap);
    FILE *err = fmemopen(errout, cap - 1, "w");
    int rc = quorum_parse_args(argc, argv, o, err);
    fclose(err);
    return rc;
}

static void test_parse(void **state)
{
    (void)state;
    struct quorum_opts o;
    char err[512];
    assert_int_equal(parse(&o, err, sizeof err, "--bootstrap-server", "h:1", "describe", "--status", NULL), 0);
    assert_string_equal(o.bootstrap, "h:1");
    assert_false(o.controller);
    assert_true(o.status);
    assert_int_equal(parse(&o, err, sizeof err, "describe", "--replication", "--human-readable",
                           "--bootstrap-controller=c:2", "--timeout-ms", "500", NULL),
                     0);
    assert_string_equal(o.bootstrap, "c:2");
    assert_true(o.controller);
    assert_true(o.replication && o.human_readable);
    assert_int_equal(o.timeout_ms, 500);
    assert_int_equal(parse(&o, err, sizeof err, "--help", NULL), 0);
    assert_true(o.help);

    static const struct {
        const char *args[6];
        const char *why;
    } bad[] = {
        {{"describe", "--status"}, "one of --bootstrap-server or --bootstrap-controller is required"},
        {{"--bootstrap-server", "h:1", "--bootstrap-controller", "c:2", "describe", "--status"}, "only one of"},
        {{"--bootstrap-server", "h:1", "--status"}, "a command is required: describe"},
        {{"--bootstrap-server", "h:1", "describe"}, "One of --status or --replication must be specified"},
        {{"--bootstrap-server", "h:1", "describe", "--status", "--replication"}, "Only one of --status or --replication"},
        {{"--bootstrap-server", "h:1", "describe", "--status", "--human-readable"}, "only supported along with"},
        {{"--bootstrap-server", "h:1", "describe", "--status", "--bogus"}, "unknown option or argument '--bogus'"},
        {{"--bootstrap-server"}, "option --bootstrap-server needs a value"},
        {{"--bootstrap-server", "h:1", "describe", "--status", "--timeout-ms", "0"}, "invalid --timeout-ms '0'"},
        {{"--bootstrap-server", "", "describe", "--status"}, "--bootstrap-server must not be empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const *a = bad[i].args;
        int rc = parse(&o, err, sizeof err, a[0], a[1], a[2], a[3], a[4], a[5], NULL);
        if (rc != QUORUM_EXIT_USAGE || !strstr(err, bad[i].why) || !strstr(err, "Run 'ferry quorum --help'"))
            fail_msg("case %zu: rc %d, stderr \"%s\", want \"%s\"", i, rc, err, bad[i].why);
    }
}

/* Three voters (1 leads) and an observer. */
static struct DescribeQuorumResponse_ReplicaState voters[] = {
    {1, 100, TS, TS}, {2, 90, TS - 10, TS - 500}, {3, 95, TS - 5, TS - 100}};
static struct DescribeQuorumResponse_ReplicaState observers[] = {{7, 80, TS - 50, -1}};
static const struct DescribeQuorumResponse_PartitionData quorum = {0, 0, 1, 5, 99, voters, 3, observers, 1};

/* Runs a printer into buffers; returns its result. */
#define CAPTURE(out_buf, err_buf, call)                                                                    \
    ({                                                                                                      \
        memset(out_buf, 0, sizeof out_buf);                                                                 \
        memset(err_buf, 0, sizeof err_buf);                                                                 \
        FILE *out = fmemopen(out_buf, sizeof out_buf - 1, "w");                                             \
        FILE *err = fmemopen(err_buf, sizeof err_buf - 1, "w");                                             \
        int rc_ = call;                                                                                     \
        fclose(out);                                                                                        \
        fclose(err);                                                                                        \
        rc_;                                                                                                \
    })

static void test_status(void **state)
{
    (void)state;
    char obuf[2048], ebuf[512];
    assert_int_equal(CAPTURE(obuf, ebuf, quorum_print_status(out, err, "kraft-cluster-7", &quorum)), 0);
    assert_string_equal(obuf, "ClusterId:              kraft-cluster-7\n"
                             "LeaderId:               1\n"
                             "LeaderEpoch:            5\n"
                             "HighWatermark:          99\n"
                             "MaxFollowerLag:         10\n"
                             "MaxFollowerLagTimeMs:   500\n"
                             "CurrentVoters:          [1,2,3]\n"
                             "CurrentObservers:       [7]\n");
    /* the lowest voter never caught up: -1; the single voter: no lag at all; no cluster id known */
    struct DescribeQuorumResponse_ReplicaState v2[] = {{1, 100, TS, TS}, {2, 90, TS - 10, -1}};
    struct DescribeQuorumResponse_PartitionData q = {0, 0, 1, 5, 99, v2, 2, NULL, 0};
    assert_int_equal(CAPTURE(obuf, ebuf, quorum_print_status(out, err, "c", &q)), 0);
    assert_non_null(strstr(obuf, "MaxFollowerLag:         10\nMaxFollowerLagTimeMs:   -1\n"));
    assert_non_null(strstr(obuf, "CurrentObservers:       []\n"));
    q.CurrentVoters_n = 1;
    assert_int_equal(CAPTURE(obuf, ebuf, quorum_print_status(out, err, NULL, &q)), 0);
    assert_non_null(strstr(obuf, "ClusterId:              unknown\n"));
    assert_non_null(strstr(obuf, "MaxFollowerLag:         0\nMaxFollowerLagTimeMs:   0\nCurrentVoters:          [1]\n"));
    /* the leader is the lowest voter (ties: the first one) */
    struct DescribeQuorumResponse_ReplicaState v3[] = {{1, 90, TS, TS}, {2, 90, TS - 10, TS - 9}};
    q = (struct DescribeQuorumResponse_PartitionData){0, 0, 1, 5, 99, v3, 2, NULL, 0};
    assert_int_equal(CAPTURE(obuf, ebuf, quorum_print_status(out, err, "c", &q)), 0);
    assert_non_null(strstr(obuf, "MaxFollowerLag:         0\nMaxFollowerLagTimeMs:   0\n"));
}

static void test_replication(void **state)
{
    (void)state;
    char obuf[2048], ebuf[512];
    assert_int_equal(CAPTURE(obuf, ebuf, quorum_print_replication(out, err, &quorum, false, 0)), 0);
    assert_string_equal(obuf,
                        "NodeId\tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus  \t\n"
                        "1     \t100         \t0  \t1700000000000     \t1700000000000        \tLeader  \t\n"
                        "2     \t90          \t10 \t1699999999990     \t1699999999500        \tFollower\t\n"
                        "3     \t95          \t5  \t1699999999995     \t1699999999900        \tFollower\t\n"
                        "7     \t80          \t20 \t1699999999950     \t-1                   \tObserver\t\n");
    assert_int_equal(CAPTURE(obuf, ebuf, quorum_print_replication(out, err, &quorum, true, TS + 1000)), 0);
    assert_string_equal(obuf,
                        "NodeId\tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus  \t\n"
                        "1     \t100         \t0  \t1000 ms ago       \t1000 ms ago          \tLeader  \t\n"
                        "2     \t90          \t10 \t1010 ms ago       \t1500 ms ago          \tFollower\t\n"
                        "3     \t95          \t5  \t1005 ms ago       \t1100 ms ago          \tFollower\t\n"
                        "7     \t80          \t20 \t1050 ms ago       \t-1                   \tObserver\t\n");
    /* a time after now: Kafka's clock-drift error */
    assert_int_equal(CAPTURE(obuf, ebuf, quorum_print_replication(out, err, &quorum, true, TS - 1)), QUORUM_EXIT_FAIL);
    assert_non_null(strstr(ebuf, "possible drift in system clock"));
    assert_string_equal(obuf, "");
}

static void test_no_leader(void **state)
{
    (void)state;
    char obuf[1024], ebuf[512];
    struct DescribeQuorumResponse_PartitionData q = quorum;
    q.LeaderId = -1;
    assert_int_equal(CAPTURE(obuf, ebuf, quorum_print_status(out, err, "c", &q)), QUORUM_EXIT_FAIL);
    assert_non_null(strstr(ebuf, "Error: the quorum has no leader among its voters (LeaderId -1"));
    assert_string_equal(obuf, "");
    q.LeaderId = 7; /* an observer is no leader */
    assert_int_equal(CAPTURE(obuf, ebuf, quorum_print_replication(out, err, &q, false, 0)), QUORUM_EXIT_FAIL);
    assert_non_null(strstr(ebuf, "no leader among its voters (LeaderId 7"));
}

/* The active controller in a controller listener's DescribeCluster answer. */
static void test_active_controller(void **state)
{
    (void)state;
    struct DescribeClusterResponse_DescribeClusterBroker nodes[] = {
        {3001, {"ctrl-1", 6}, 9093, {NULL, -1}}, {3002, {"ctrl-2", 6}, 9094, {NULL, -1}}};
    struct DescribeClusterResponse dc = {.ControllerId = 3002, .Brokers = nodes, .Brokers_n = 2};
    proto_str host;
    int32_t port;
    assert_true(active_controller(&dc, &host, &port));
    assert_true(proto_str_eq(host, "ctrl-2"));
    assert_int_equal(port, 9094);
    dc.ControllerId = -1; /* none known */
    assert_false(active_controller(&dc, &host, &port));
    dc.ControllerId = 3003; /* not among the registered controllers */
    assert_false(active_controller(&dc, &host, &port));
    dc.ControllerId = 3001;
    dc.ErrorCode = 114;
    assert_false(active_controller(&dc, &host, &port));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_replication),
        cmocka_unit_test(test_no_leader),
        cmocka_unit_test(test_active_controller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
