/* tp_table: the (topic, partition) intrusive hash table: finds exactly what was inserted (names that are
 * prefixes of each other, many partitions of one topic; not a name with a NUL inside), grows with its entries, removes during iteration,
 * and keeps working when its allocations fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/tp_table.h"

struct entry {
    char topic[32];
    int32_t partition;
    struct tp_link link;
    int seen;
};

static struct entry *find(const struct tp_table *t, const char *topic, int32_t partition)
{
    struct tp_link *l = tp_table_find(t, topic, strlen(topic), partition);
    return l ? TP_ENTRY(l, struct entry, link) : NULL;
}

static void finds_what_was_inserted(void **state)
{
    (void)state;
    struct tp_table t;
    tp_table_init(&t);
    assert_null(find(&t, "a", 0)); /* empty, nothing allocated */
    struct entry e[4] = {{"ab", 0}, {"abc", 0}, {"ab", 1}, {"b", 0}};
    for (int i = 0; i < 4; i++)
        tp_table_insert(&t, &e[i].link, e[i].topic, e[i].partition);
    assert_int_equal(t.count, 4);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(find(&t, e[i].topic, e[i].partition), &e[i]);
    assert_null(find(&t, "a", 0));    /* a prefix of a name */
    assert_null(find(&t, "abcd", 0)); /* a name longer than one */
    assert_null(find(&t, "ab", 2));
    /* a length-bounded name (a request's topic string is not NUL-terminated) */
    assert_ptr_equal(tp_table_find(&t, "abcdef", 2, 1), &e[2].link);
    assert_ptr_equal(tp_table_find(&t, "abcdef", 3, 0), &e[1].link);
    assert_true(tp_table_remove(&t, &e[1].link));
    assert_false(tp_table_remove(&t, &e[1].link));
    assert_null(find(&t, "abc", 0));
    assert_ptr_equal(find(&t, "ab", 0), &e[0]);
    assert_int_equal(t.count, 3);
    tp_table_free(&t);
    assert_int_equal(t.count, 0);
    assert_null(find(&t, "ab", 0));
}

static void count_visit(void *arg, struct tp_link *l)
{
    (*(int *)arg)++;
    TP_ENTRY(l, struct entry, link)->seen++;
}

static void remove_odd(void *arg, struct tp_link *l)
{
    struct entry *e = TP_ENTRY(l, struct entry, link);
    if (e->partition % 2)
        tp_table_remove(arg, l);
}

/* 100,000 partitions of a few topics: the buckets keep up with the entries, every entry is found and
 * visited once, and entries can be removed while iterating. */
static void grows_and_iterates(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct entry *e = ferry_calloc(N, sizeof *e);
    assert_non_null(e);
    struct tp_table t;
    tp_table_init(&t);
    for (int i = 0; i < N; i++) {
        snprintf(e[i].topic, sizeof e[i].topic, "topic-%d", i % 7);
        e[i].partition = i / 7;
        tp_table_insert(&t, &e[i].link, e[i].topic, e[i].partition);
    }
    assert_int_equal(t.count, N);
    assert_true(t.nbuckets >= N);
    size_t longest = 0;
    for (size_t b = 0; b < t.nbuckets; b++) {
        size_t n = 0;
        for (struct tp_link *l = t.buckets[b]; l; l = l->next)
            n++;
        longest = n > longest ? n : longest;
    }
    assert_true(longest < 16); /* spread, not chained */
    for (int i = 0; i < N; i++)
        assert_ptr_equal(find(&t, e[i].topic, e[i].partition), &e[i]);
    int visits = 0;
    tp_table_each(&t, count_visit, &visits);
    assert_int_equal(visits, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(e[i].seen, 1);
    tp_table_each(&t, remove_odd, &t);
    for (int i = 0; i < N; i++)
        assert_true((find(&t, e[i].topic, e[i].partition) != NULL) == (e[i].partition % 2 == 0));
    tp_table_free(&t);
    ferry_free(e);
}

/* Allocation failures: the first buckets cannot be allocated, then growing fails; every insert still
 * lands and is found. */
static void works_without_memory(void **state)
{
    (void)state;
    enum { N = 200 };
    struct entry e[N];
    memset(e, 0, sizeof e);
    struct tp_table t;
    tp_table_init(&t);
    ferry_alloc_fail_after(0);
    for (int i = 0; i < N; i++) {
        snprintf(e[i].topic, sizeof e[i].topic, "t%d", i % 3);
        e[i].partition = i;
        tp_table_insert(&t, &e[i].link, e[i].topic, e[i].partition);
    }
    ferry_alloc_fail_after(-1);
    assert_int_equal(t.count, N);
    assert_int_equal(t.nbuckets, 1);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(find(&t, e[i].topic, e[i].partition), &e[i]);
    /* memory again: the next insert grows the table and moves the chain out of the table itself */
    struct entry more = {"late", 7};
    tp_table_insert(&t, &more.link, more.topic, more.partition);
    assert_true(t.nbuckets > 1);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(find(&t, e[i].topic, e[i].partition), &e[i]);
    assert_ptr_equal(find(&t, "late", 7), &more);
    assert_true(tp_table_remove(&t, &e[5].link));
    assert_null(find(&t, e[5].topic, 5));
    tp_table_free(&t);
}

/* A request's name with a NUL inside whose hash equals an entry's (FNV-1a over "a" and over the key below
 * collide: the key's last bytes were found by a meet-in-the-middle search): no match, and nothing read
 * past the entry's name (the name is a 2-byte allocation, so the address sanitizer catches an over-read). */
static void name_with_nul_is_not_found(void **state)
{
    (void)state;
    struct tp_table t;
    tp_table_init(&t);
    char *name = ferry_strdup("a");
    assert_non_null(name);
    struct tp_link link;
    tp_table_insert(&t, &link, name, 5);
    static const char key[] = {'a', '\0', 'S', ';', 'G', 'M', (char)0xaa};
    assert_int_equal(tp_hash(key, sizeof key, 5), tp_hash("a", 1, 5)); /* the collision is real */
    assert_null(tp_table_find(&t, key, sizeof key, 5));
    assert_ptr_equal(tp_table_find(&t, "a", 1, 5), &link);
    tp_table_free(&t);
    ferry_free(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_what_was_inserted),
        cmocka_unit_test(grows_and_iterates),
        cmocka_unit_test(works_without_memory),
        cmocka_unit_test(name_with_nul_is_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
