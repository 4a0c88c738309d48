/* Unit tests for the codecs of /admin/reassign_partitions and /admin/preferred_replica_election
 * (zkmode/znode/znode_admin.c): Kafka's bytes decode and encode back byte for byte, unknown keys (the
 * "log_dirs" older tools wrote) are ignored, malformed content is refused with a message naming the field,
 * and allocation failures leak nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "zkmode/znode/znode_codec.h"

static const char REASSIGN[] =
    "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":0,\"replicas\":[4,5,6]},"
    "{\"topic\":\"payments.eu\",\"partition\":12,\"replicas\":[]}]}";
static const char PREFERRED[] =
    "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":3},{\"topic\":\"x\",\"partition\":0}]}";

static void round_trip(const char *json, bool reassign)
{
    zk_admin_partitions d;
    zk_err e = {{0}};
    int rc = reassign ? zk_reassignment_decode(json, strlen(json), &d, &e)
                      : zk_preferred_election_decode(json, strlen(json), &d, &e);
    assert_int_equal(rc, 0);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(reassign ? zk_reassignment_encode(&d, &out, &len) : zk_preferred_election_encode(&d, &out, &len),
                     0);
    assert_string_equal(out, json);
    assert_int_equal(len, strlen(json));
    ferry_free(out);
    zk_admin_partitions_free(&d);
    assert_int_equal(d.n, 0);
}

static void test_round_trips(void **state)
{
    (void)state;
    round_trip(REASSIGN, true);
    round_trip(PREFERRED, false);
    round_trip("{\"version\":1,\"partitions\":[]}", true);
    zk_admin_partitions d;
    assert_int_equal(zk_reassignment_decode(REASSIGN, strlen(REASSIGN), &d, NULL), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.partitions[0].topic, "orders");
    assert_int_equal(d.partitions[0].partition, 0);
    assert_int_equal(d.partitions[0].n_replicas, 3);
    assert_int_equal(d.partitions[0].replicas[2], 6);
    assert_int_equal(d.partitions[1].partition, 12);
    assert_int_equal(d.partitions[1].n_replicas, 0);
    zk_admin_partitions_free(&d);
    /* the log_dirs of older tools, and any other key, are ignored */
    const char *dirs = "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":1,\"replicas\":[2],"
                       "\"log_dirs\":[\"any\"]}],\"extra\":true}";
    assert_int_equal(zk_reassignment_decode(dirs, strlen(dirs), &d, NULL), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.partitions[0].replicas[0], 2);
    zk_admin_partitions_free(&d);
    /* a reassignment's entries read as a preferred election (replicas ignored) */
    assert_int_equal(zk_preferred_election_decode(REASSIGN, strlen(REASSIGN), &d, NULL), 0);
    assert_int_equal(d.partitions[0].n_replicas, 0);
    zk_admin_partitions_free(&d);
}

static void test_rejections(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        bool reassign;
        int rc;
        const char *field;
    } bad[] = {
        {"", true, FERRY_EPARSE, "empty"},
        {"{\"version\":2,\"partitions\":[]}", true, FERRY_EUNSUPPORTED, "version"},
        {"{\"partitions\":[]}", true, FERRY_EPARSE, "version"},
        {"{\"version\":1}", true, FERRY_EPARSE, "partitions"},
        {"{\"version\":1,\"partitions\":{}}", false, FERRY_EPARSE, "partitions"},
        {"{\"version\":1,\"partitions\":[3]}", false, FERRY_EPARSE, "partitions[0]"},
        {"{\"version\":1,\"partitions\":[{\"partition\":0}]}", false, FERRY_EPARSE, "topic"},
        {"{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":\"0\"}]}", false, FERRY_EPARSE, "partition"},
        {"{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":-1}]}", false, FERRY_ERANGE, "partition"},
        {"{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}", true, FERRY_EPARSE, "replicas"},
        {"{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[\"1\"]}]}", true, FERRY_EPARSE,
         "replicas"},
        {"{\"version\":1,\"partitions\":[]} x", true, FERRY_EPARSE, ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zk_admin_partitions d;
        zk_err e = {{0}};
        int rc = bad[i].reassign ? zk_reassignment_decode(bad[i].json, strlen(bad[i].json), &d, &e)
                                 : zk_preferred_election_decode(bad[i].json, strlen(bad[i].json), &d, &e);
        if (rc == 0 || (bad[i].rc != FERRY_EPARSE && rc != bad[i].rc))
            fail_msg("case %zu (%s): got %d", i, bad[i].json, rc);
        assert_non_null(strstr(e.msg, bad[i].field));
        assert_int_equal(d.n, 0);
        assert_null(d.partitions);
    }
}

static void test_alloc_failures(void **state)
{
    (void)state;
    bool done = false;
    for (long n = 0; !done && n < 1000; n++) {
        zk_admin_partitions d;
        ferry_alloc_fail_after(n);
        int rc = zk_reassignment_decode(REASSIGN, strlen(REASSIGN), &d, NULL);
        char *out = NULL;
        if (rc == 0)
            rc = zk_reassignment_encode(&d, &out, NULL);
        ferry_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == FERRY_ENOMEM);
        done = rc == 0;
        if (done)
            assert_string_equal(out, REASSIGN);
        ferry_free(out);
        zk_admin_partitions_free(&d);
    }
    assert_true(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
