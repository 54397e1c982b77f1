/* aitbc_store_is_postgres and AITBC_SQL_INDEXED_BY (sdk/include/aitbc/store.h): how a plugin picks
 * the few statements that differ between the storage drivers. A host older than ABI 1.3 has no
 * storage_driver entry and only SQLite; the entry's answer decides otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <aitbc/aitbc.h>

static const char *say_postgres(void) {
    return "postgres";
}

static const char *say_sqlite(void) {
    return "sqlite";
}

static void entry_answers(void **state) {
    (void)state;
    aitbc_host_api api = {.size = sizeof api, .storage_driver = say_postgres};
    assert_int_equal(aitbc_store_is_postgres(&api), 1);
    api.storage_driver = say_sqlite;
    assert_int_equal(aitbc_store_is_postgres(&api), 0);
}

/* A 1.2 host's table ends before storage_driver: whatever lies past its size is not read. */
static void older_host_is_sqlite(void **state) {
    (void)state;
    aitbc_host_api api = {.size = offsetof(aitbc_host_api, storage_driver),
                          .storage_driver = say_postgres};
    assert_int_equal(aitbc_store_is_postgres(&api), 0);
    assert_int_equal(aitbc_store_is_postgres(NULL), 0);
}

static void indexed_by_only_on_sqlite(void **state) {
    (void)state;
    assert_string_equal(AITBC_SQL_INDEXED_BY(0, "SELECT 1 FROM t", "t_idx", "WHERE a = ?1"),
                        "SELECT 1 FROM t INDEXED BY t_idx WHERE a = ?1");
    assert_string_equal(AITBC_SQL_INDEXED_BY(1, "SELECT 1 FROM t", "t_idx", "WHERE a = ?1"),
                        "SELECT 1 FROM t WHERE a = ?1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entry_answers),
        cmocka_unit_test(older_host_is_sqlite),
        cmocka_unit_test(indexed_by_only_on_sqlite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
