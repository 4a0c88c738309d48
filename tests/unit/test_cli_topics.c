/* Unit tests of `ferry topics` that need no broker: argument parsing, topic selection (kafka-topics'
 * include-list regular expressions) and the kafka-topics output format. The file under test is included
 * so that its static helpers can be called directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "broker/cli/topics_cli.c"

/* Runs topics_parse_args on a NULL-terminated list; captures what it printed. */
static int parse(struct topics_opts *o, char *errout, size_t cap, const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 64; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    memset(errout, 0, cap);
    FILE *err = fmemopen(errout, cap - 1, "w");
    int rc = topics_parse_args(argc, argv, o, err);
    fclose(err);
    return rc;
}

static void test_parse_create_full(void **state)
{
    (void)state;
    struct topics_opts o;
    char err[512];
    assert_int_equal(parse(&o, err, sizeof err, "create", "--bootstrap-server", "127.0.0.1:9092", "--topic", "t1",
                           "--partitions", "3", "--replication-factor=1", "--config", "cleanup.policy=compact",
                           "--config", " retention.ms = 1000 ", "--if-not-exists", NULL),
                     0);
    assert_int_equal(o.cmd, TOPICS_CREATE);
    assert_string_equal(o.bootstrap, "127.0.0.1:9092");
    assert_string_equal(o.topic, "t1");
    assert_int_equal(o.partitions, 3);
    assert_int_equal(o.replication_factor, 1);
    assert_int_equal(o.nconfigs, 2);
    assert_true(proto_str_eq(o.configs[0].key, "cleanup.policy"));
    assert_true(proto_str_eq(o.configs[0].value, "compact"));
    assert_true(proto_str_eq(o.configs[1].key, "retention.ms"));
    assert_true(proto_str_eq(o.configs[1].value, "1000"));
    assert_true(o.if_not_exists);
    assert_string_equal(err, "");
}

static void test_parse_defaults_and_dash_forms(void **state)
{
    (void)state;
    struct topics_opts o;
    char err[512];
    assert_int_equal(parse(&o, err, sizeof err, "--bootstrap-server=h:1", "--create", "--topic=x", NULL), 0);
    assert_int_equal(o.cmd, TOPICS_CREATE);
    assert_int_equal(o.partitions, -1);
    assert_int_equal(o.replication_factor, -1);
    assert_int_equal(o.timeout_ms, 30000);
    assert_int_equal(parse(&o, err, sizeof err, "list", "--bootstrap-server", "h:1", NULL), 0);
    assert_int_equal(o.cmd, TOPICS_LIST);
    assert_null(o.topic);
    assert_int_equal(parse(&o, err, sizeof err, "--describe", "--bootstrap-server", "h:1", "--topic", "a,b",
                           "--if-exists", "--exclude-internal", NULL),
                     0);
    assert_int_equal(o.cmd, TOPICS_DESCRIBE);
    assert_true(o.if_exists && o.exclude_internal);
    /* a topic may be named like a command */
    assert_int_equal(parse(&o, err, sizeof err, "delete", "--bootstrap-server", "h:1", "--topic", "list", NULL), 0);
    assert_int_equal(o.cmd, TOPICS_DELETE);
    assert_string_equal(o.topic, "list");
}

static void test_parse_help(void **state)
{
    (void)state;
    struct topics_opts o;
    char err[512];
    assert_int_equal(parse(&o, err, sizeof err, "--help", NULL), 0);
    assert_true(o.help);
    assert_int_equal(parse(&o, err, sizeof err, "create", "-h", NULL), 0);
    assert_true(o.help);
}

static void test_parse_usage_errors(void **state)
{
    (void)state;
    struct topics_opts o;
    char err[512];
    struct {
        const char *argv[8];
        const char *expect; /* a piece of the message */
    } cases[] = {
        {{"--bootstrap-server", "h:1", NULL}, "exactly one of"},
        {{"list", NULL}, "--bootstrap-server"},
        {{"create", "--bootstrap-server", "h:1", NULL}, "create: missing required option --topic"},
        {{"delete", "--bootstrap-server", "h:1", NULL}, "delete: missing required option --topic"},
        {{"create", "--bootstrap-server", "h:1", "--topic", "t", "--partitions", "0", NULL}, "partitions must be"},
        {{"create", "--bootstrap-server", "h:1", "--topic", "t", "--partitions", "3x", NULL}, "partitions must be"},
        {{"create", "--bootstrap-server", "h:1", "--topic", "t", "--replication-factor", "40000", NULL},
         "replication factor"},
        {{"create", "--bootstrap-server", "h:1", "--topic", "t", "--config", "novalue", NULL}, "key=val"},
        {{"create", "--bootstrap-server", "h:1", "--topic", "t", "--config", "a=b=c", NULL}, "key=val"},
        {{"create", "--bootstrap-server", "h:1", "--topic", "t", "--config", "a=", NULL}, "key=val"},
        {{"delete", "--bootstrap-server", "h:1", "--topic", "t", "--partitions", "2", NULL},
         "--partitions can only be used with create"},
        {{"list", "--bootstrap-server", "h:1", "--if-exists", NULL}, "--if-exists"},
        {{"create", "--bootstrap-server", "h:1", "--topic", "t", "--exclude-internal", NULL}, "--exclude-internal"},
        {{"list", "describe", "--bootstrap-server", "h:1", NULL}, "only one of"},
        {{"list", "--bootstrap-server", "h:1", "--bogus", NULL}, "unknown option or argument '--bogus'"},
        {{"list", "--bootstrap-server", NULL}, "needs a value"},
        {{"list", "--bootstrap-server", "h:1", "--timeout-ms", "0", NULL}, "--timeout-ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char **a = cases[i].argv;
        int rc = parse(&o, err, sizeof err, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        if (rc != TOPICS_EXIT_USAGE || !strstr(err, cases[i].expect))
            fail_msg("case %zu: rc %d, stderr '%s', expected '%s'", i, rc, err, cases[i].expect);
        assert_non_null(strstr(err, "Run 'ferry topics --help' for usage."));
    }
}

/* ---- output -------------------------------------------------------------------------------------------- */

static proto_str S(const char *s) { return proto_str_from(s); }

static void capture_begin(FILE **f, char **buf, size_t *len)
{
    *f = open_memstream(buf, len);
    assert_non_null(*f);
}

static void test_describe_format(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    int32_t r1[] = {1, 2, 3}, isr1[] = {1, 3}, r0[] = {2, 3, 1}, isr0[] = {2, 3, 1};
    struct MetadataResponse_MetadataResponsePartition parts[2] = {
        {.PartitionIndex = 1, .LeaderId = -1, .ReplicaNodes = r1, .ReplicaNodes_n = 3, .IsrNodes = isr1,
         .IsrNodes_n = 2},
        {.PartitionIndex = 0, .LeaderId = 2, .ReplicaNodes = r0, .ReplicaNodes_n = 3, .IsrNodes = isr0,
         .IsrNodes_n = 3},
    };
    struct MetadataResponse_MetadataResponseTopic t = {.Name = S("orders"), .Partitions = parts, .Partitions_n = 2};
    struct DescribeConfigsResponse_DescribeConfigsResourceResult entries[3] = {
        {.Name = S("cleanup.policy"), .Value = S("compact"), .ConfigSource = 1},
        {.Name = S("retention.ms"), .Value = S("604800000"), .ConfigSource = CONFIG_SOURCE_DEFAULT},
        {.Name = S("segment.bytes"), .Value = S("1048576"), .ConfigSource = 4},
    };
    struct DescribeConfigsResponse_DescribeConfigsResult cfg = {.Configs = entries, .Configs_n = 3};

    FILE *f;
    char *buf = NULL;
    size_t len = 0;
    capture_begin(&f, &buf, &len);
    assert_int_equal(topics_print_description(f, &t, &cfg, 1, &a), 0);
    fclose(f);
    assert_string_equal(buf, "Topic: orders\tPartitionCount: 2\tReplicationFactor: 3\t"
                             "Configs: cleanup.policy=compact,segment.bytes=1048576\n"
                             "\tTopic: orders\tPartition: 0\tLeader: 2\tReplicas: 2,3,1\tIsr: 2,3,1\n"
                             "\tTopic: orders\tPartition: 1\tLeader: none\tReplicas: 1,2,3\tIsr: 1,3\n");
    free(buf);

    /* With a topic id, no configs known, and DescribeConfigs v0's IsDefault flag. */
    for (int i = 0; i < 16; i++)
        t.TopicId.b[i] = (uint8_t)i;
    capture_begin(&f, &buf, &len);
    assert_int_equal(topics_print_description(f, &t, NULL, 0, &a), 0);
    fclose(f);
    assert_non_null(strstr(buf, "Topic: orders\tTopicId: AAECAwQFBgcICQoLDA0ODw\tPartitionCount: 2\t"
                                "ReplicationFactor: 3\tConfigs: \n"));
    free(buf);
    entries[0].IsDefault = true;
    capture_begin(&f, &buf, &len);
    assert_int_equal(topics_print_description(f, &t, &cfg, 0, &a), 0);
    fclose(f);
    assert_non_null(strstr(buf, "Configs: retention.ms=604800000,segment.bytes=1048576\n"));
    free(buf);
    proto_arena_free(&a);
}

static void test_select_topics(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    struct MetadataResponse_MetadataResponseTopic topics[] = {
        {.Name = S("zeta")},
        {.Name = S("a.b")},
        {.Name = S("__consumer_offsets"), .IsInternal = true},
        {.Name = S("axb")},
        {.Name = S("gone"), .ErrorCode = KERR_UNKNOWN_TOPIC_OR_PARTITION},
        {.Name = S("a.bc")},
    };
    struct MetadataResponse md = {.Topics = topics, .Topics_n = 6};
    struct topics_opts o;
    memset(&o, 0, sizeof o);
    const struct MetadataResponse_MetadataResponseTopic **sel;
    char names[256];

#define SELECTED(expect)                                                                                     \
    do {                                                                                                     \
        int n_ = select_topics(&o, &md, &a, &sel, stderr);                                                   \
        assert_true(n_ >= 0);                                                                                \
        names[0] = '\0';                                                                                     \
        for (int i_ = 0; i_ < n_; i_++)                                                                      \
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%.*s", i_ ? " " : "",           \
                     (int)sel[i_]->Name.len, sel[i_]->Name.p);                                               \
        assert_string_equal(names, expect);                                                                  \
    } while (0)

    SELECTED("__consumer_offsets a.b a.bc axb zeta");
    o.exclude_internal = true;
    SELECTED("a.b a.bc axb zeta");
    o.topic = "a.b"; /* a regular expression, matched against the whole name, as kafka-topics does */
    SELECTED("a.b axb");
    o.topic = "'a\\.b,zeta'";
    SELECTED("a.b zeta");
    o.topic = "a.*";
    SELECTED("a.b a.bc axb");
    o.topic = "nothing";
    SELECTED("");
    o.topic = "(";
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(select_topics(&o, &md, &a, &sel, devnull), FERRY_EINVAL);
    fclose(devnull);
    proto_arena_free(&a);
}

static void test_error_report(void **state)
{
    (void)state;
    FILE *f;
    char *buf = NULL;
    size_t len = 0;
    capture_begin(&f, &buf, &len);
    print_kafka_error(f, KERR_TOPIC_ALREADY_EXISTS, (proto_str){NULL, -1}, "Topic 'x' already exists.");
    fclose(f);
    assert_string_equal(buf, "Error while executing topic command : Topic 'x' already exists.\n"
                             "ERROR TOPIC_ALREADY_EXISTS (Kafka error 36)\n");
    free(buf);
    capture_begin(&f, &buf, &len);
    print_kafka_error(f, KERR_INVALID_REPLICATION_FACTOR, S("Unable to replicate the partition 3 time(s)"), NULL);
    print_kafka_error(f, KERR_INVALID_PARTITIONS, (proto_str){NULL, -1}, NULL);
    fclose(f);
    assert_string_equal(buf, "Error while executing topic command : Unable to replicate the partition 3 time(s)\n"
                             "ERROR INVALID_REPLICATION_FACTOR (Kafka error 38)\n"
                             "Error while executing topic command : Number of partitions is below 1.\n"
                             "ERROR INVALID_PARTITIONS (Kafka error 37)\n");
    free(buf);
}

/* A loopback port that nothing listens on (bound, then released). */
static int unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* Nothing listens on the address: exit status 1 and a "connection refused" line. */
static void test_unreachable_broker(void **state)
{
    (void)state;
    struct topics_opts o;
    char err[512], addr[64], expect[128];
    int port = unused_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    snprintf(expect, sizeof expect, "Error while executing topic command : %s: connection refused", addr);
    assert_int_equal(parse(&o, err, sizeof err, "list", "--bootstrap-server", addr, NULL), 0);
    memset(err, 0, sizeof err);
    FILE *f = fmemopen(err, sizeof err - 1, "w");
    assert_int_equal(cmd_list(&o, stdout, f), TOPICS_EXIT_FAIL);
    fclose(f);
    assert_non_null(strstr(err, expect));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_create_full),
        cmocka_unit_test(test_parse_defaults_and_dash_forms),
        cmocka_unit_test(test_parse_help),
        cmocka_unit_test(test_parse_usage_errors),
        cmocka_unit_test(test_describe_format),
        cmocka_unit_test(test_select_topics),
        cmocka_unit_test(test_error_report),
        cmocka_unit_test(test_unreachable_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
