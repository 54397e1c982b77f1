/* The data directory and the database files are owner-only (0700 / 0600) after a start, even
 * when they existed before with looser modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static unsigned mode_of(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 0777);
}

static void loose_modes_are_tightened(void **state) {
    (void)state;
    char dir[] = "/tmp/aitbc-files-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    char db[128];
    snprintf(db, sizeof db, "%s/aitbc.db", dir);
    FILE *f = fopen(db, "w"); /* an empty file is a new database to SQLite */
    assert_non_null(f);
    fclose(f);
    assert_int_equal(chmod(db, 0644), 0);
    th_host *h = th_start_in(dir, "  hello: {}\n", NULL);
    assert_non_null(h);
    assert_int_equal(mode_of(dir), 0700);
    if (!th_on_postgres()) assert_int_equal(mode_of(db), 0600); /* else the file is not used */
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", db);
    if (access(wal, F_OK) == 0) assert_int_equal(mode_of(wal), 0600);
    assert_int_equal(th_stop(h), 0);
    th_free(h); /* removes the directory */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loose_modes_are_tightened),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
