/* The serialized KafkaPrincipal of an Envelope's RequestPrincipal (broker/proto/principal.h): the exact
 * bytes Kafka 3.7's DefaultKafkaPrincipalBuilder.serialize gives for User:ANONYMOUS, read back, and every
 * malformed form refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "principal.h"

/* int16 version 0; compact "User"; compact "ANONYMOUS"; tokenAuthenticated false; no tagged fields */
static const uint8_t ANONYMOUS[] = {0x00, 0x00, 0x05, 'U', 's', 'e', 'r', 0x0a, 'A', 'N', 'O', 'N', 'Y',
                                    'M',  'O',  'U',  'S', 0x00, 0x00};

static void test_anonymous_bytes(void **state)
{
    (void)state;
    struct proto_writer w;
    proto_writer_init(&w);
    struct DefaultPrincipalData p = kafka_principal_anonymous();
    kafka_principal_write(&w, &p);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.len, sizeof ANONYMOUS);
    assert_memory_equal(w.buf, ANONYMOUS, sizeof ANONYMOUS);
    proto_writer_free(&w);
}

static void test_read_back(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    struct DefaultPrincipalData p;
    assert_int_equal(kafka_principal_read((proto_bytes){ANONYMOUS, sizeof ANONYMOUS}, &a, &p), 0);
    assert_int_equal(p.Type.len, 4);
    assert_memory_equal(p.Type.p, "User", 4);
    assert_int_equal(p.Name.len, 9);
    assert_memory_equal(p.Name.p, "ANONYMOUS", 9);
    assert_false(p.TokenAuthenticated);

    /* a token-authenticated principal with a tagged field Ferry does not know (skipped) */
    static const uint8_t tagged[] = {0x00, 0x00, 0x05, 'U', 's', 'e', 'r', 0x02, 'x', 0x01, 0x01, 0x07, 0x01, 0xff};
    assert_int_equal(kafka_principal_read((proto_bytes){tagged, sizeof tagged}, &a, &p), 0);
    assert_int_equal(p.Name.len, 1);
    assert_true(p.TokenAuthenticated);
    proto_arena_free(&a);
}

static void test_malformed(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    struct DefaultPrincipalData p;
    assert_int_equal(kafka_principal_read((proto_bytes){NULL, -1}, &a, &p), FERRY_EPARSE); /* null */
    for (size_t n = 0; n < sizeof ANONYMOUS; n++) /* every truncation */
        assert_int_equal(kafka_principal_read((proto_bytes){ANONYMOUS, (int32_t)n}, &a, &p), FERRY_EPARSE);
    uint8_t b[sizeof ANONYMOUS + 1];
    memcpy(b, ANONYMOUS, sizeof ANONYMOUS);
    b[sizeof ANONYMOUS] = 0;
    assert_int_equal(kafka_principal_read((proto_bytes){b, sizeof b}, &a, &p), FERRY_EPARSE); /* trailing byte */
    memcpy(b, ANONYMOUS, sizeof ANONYMOUS);
    b[1] = 1; /* version 1 */
    assert_int_equal(kafka_principal_read((proto_bytes){b, sizeof ANONYMOUS}, &a, &p), FERRY_EPARSE);
    memcpy(b, ANONYMOUS, sizeof ANONYMOUS);
    b[2] = 0; /* null Type */
    assert_int_equal(kafka_principal_read((proto_bytes){b, sizeof ANONYMOUS}, &a, &p), FERRY_EPARSE);
    proto_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anonymous_bytes),
        cmocka_unit_test(test_read_back),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
