/* Unit tests for zkmode/zk_broker_rpc.h: a LeaderAndIsr request applied to a real image (partition and
 * leadership appear, the delta records them), a stale controller epoch refused with nothing applied, and an
 * api key that is not a controller request refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "zkmode/zk_broker_rpc.h"

static const proto_uuid ORDERS = {{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                                   0xee, 0xff, 0x01}};

struct fixture {
    struct md_image img;
    struct md_delta d;
    struct zkrpc_broker b;
    struct zkrpc_result res;
    int64_t off;
};

static void fx_init(struct fixture *f)
{
    md_image_init(&f->img);
    md_delta_init(&f->d);
    zkrpc_broker_init(&f->b, 1, 4096);
    zkrpc_result_init(&f->res);
    f->off = 0;
}

static void fx_free(struct fixture *f)
{
    zkrpc_result_free(&f->res);
    zkrpc_broker_free(&f->b);
    md_delta_free(&f->d);
    md_image_free(&f->img);
}

static int32_t replicas[] = {1, 2}, isr[] = {1, 2};
static struct LeaderAndIsrRequest_LeaderAndIsrPartitionState ps[1];
static struct LeaderAndIsrRequest_LeaderAndIsrTopicState ts[1];

static struct LeaderAndIsrRequest orders(int32_t controller_epoch, int32_t leader_epoch)
{
    ps[0] = (struct LeaderAndIsrRequest_LeaderAndIsrPartitionState){
        .PartitionIndex = 0, .ControllerEpoch = controller_epoch, .Leader = 1, .LeaderEpoch = leader_epoch,
        .Isr = isr, .Isr_n = 2, .PartitionEpoch = 3, .Replicas = replicas, .Replicas_n = 2};
    ts[0] = (struct LeaderAndIsrRequest_LeaderAndIsrTopicState){proto_str_from("orders"), ORDERS, ps, 1};
    return (struct LeaderAndIsrRequest){.ControllerId = 2, .ControllerEpoch = controller_epoch, .BrokerEpoch = 4096,
                                        .TopicStates = ts, .TopicStates_n = 1};
}

static void leader_and_isr_applies(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f);
    struct LeaderAndIsrRequest req = orders(5, 1);
    assert_int_equal(zk_broker_rpc_apply(&f.img, &f.off, &f.b, 4, 7, &req, &f.res, &f.d), 0);
    assert_ptr_equal(f.res.response_m, &proto_msg_LeaderAndIsrResponse);
    assert_true(f.res.nrecords > 0);
    assert_int_equal(f.off, (int64_t)f.res.nrecords);
    const struct md_topic *t = md_image_topic(&f.img, "orders");
    assert_non_null(t);
    const struct md_partition *p = md_topic_partition(t, 0);
    assert_non_null(p);
    assert_int_equal(p->leader, 1);
    assert_int_equal(p->leader_epoch, 1);
    fx_free(&f);
}

static void stale_controller_epoch_applies_nothing(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f);
    struct LeaderAndIsrRequest req = orders(5, 1);
    assert_int_equal(zk_broker_rpc_apply(&f.img, &f.off, &f.b, 4, 7, &req, &f.res, &f.d), 0);
    zkrpc_result_free(&f.res);
    zkrpc_result_init(&f.res);
    int64_t off = f.off;
    struct LeaderAndIsrRequest old = orders(4, 2);
    assert_int_equal(zk_broker_rpc_apply(&f.img, &f.off, &f.b, 4, 7, &old, &f.res, &f.d), 0);
    const struct LeaderAndIsrResponse *r = f.res.response;
    assert_int_equal(r->ErrorCode, KERR_STALE_CONTROLLER_EPOCH);
    assert_int_equal(f.res.nrecords, 0);
    assert_int_equal(f.off, off);
    assert_int_equal(md_topic_partition(md_image_topic(&f.img, "orders"), 0)->leader_epoch, 1);
    fx_free(&f);
}

static void other_api_key_refused(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f);
    struct LeaderAndIsrRequest req = orders(5, 1);
    assert_int_equal(zk_broker_rpc_apply(&f.img, &f.off, &f.b, 0, 7, &req, &f.res, &f.d), FERRY_EINVAL);
    assert_null(md_image_topic(&f.img, "orders"));
    assert_int_equal(f.off, 0);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(leader_and_isr_applies),
        cmocka_unit_test(stale_controller_epoch_applies_nothing),
        cmocka_unit_test(other_api_key_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
