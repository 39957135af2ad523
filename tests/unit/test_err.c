/*
 * Tests of err: jr_err_set/jr_err_errno/jr_err_prefix fill the struct exactly once and always
 * return -1, long messages are truncated to fit (never overflowing), and every category maps to
 * the exit status of SPEC §6, which is part of the interface and never renumbered.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include "err.h"

#include "banned.h"

static void
test_init_and_clear(void **state)
{
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(err.code, JR_OK);
    assert_int_equal(err.sys_errno, 0);
    assert_string_equal(err.msg, "");
    jr_err_errno(&err, JR_E_IO, "x");
    jr_err_clear(&err);
    assert_int_equal(err.code, JR_OK);
    assert_int_equal(err.sys_errno, 0);
    assert_string_equal(err.msg, "");
}

static void
test_set(void **state)
{
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    err.sys_errno = EIO; /* left over from an earlier error: jr_err_set clears it */
    assert_int_equal(jr_err_set(&err, JR_E_DB, "cannot connect to '%s': %s", "db.internal",
                                "connection refused"),
                     -1);
    assert_int_equal(err.code, JR_E_DB);
    assert_int_equal(err.sys_errno, 0);
    assert_string_equal(err.msg, "cannot connect to 'db.internal': connection refused");
    /* a second set replaces everything */
    assert_int_equal(jr_err_set(&err, JR_E_USAGE, "unknown option '%s'", "--bogus"), -1);
    assert_int_equal(err.code, JR_E_USAGE);
    assert_string_equal(err.msg, "unknown option '--bogus'");
}

static void
test_errno(void **state)
{
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    errno = ENOENT;
    assert_int_equal(jr_err_errno(&err, JR_E_IO, "cannot open '%s'", "/tmp/x.csv"), -1);
    assert_int_equal(err.code, JR_E_IO);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_string_equal(err.msg, "cannot open '/tmp/x.csv': No such file or directory");

    errno = EACCES;
    assert_int_equal(jr_err_errno(&err, JR_E_STORAGE, "cannot write"), -1);
    assert_int_equal(err.code, JR_E_STORAGE);
    assert_int_equal(err.sys_errno, EACCES);
    assert_string_equal(err.msg, "cannot write: Permission denied");
}

/* Arguments are formatted before the strerror suffix; errno is the caller's. */
static void
test_errno_with_arguments(void **state)
{
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    errno = ENOSPC;
    jr_err_errno(&err, JR_E_IO, "cannot write '%s' (%d)", "a.csv", 42);
    assert_int_equal(err.sys_errno, ENOSPC);
    assert_string_equal(err.msg, "cannot write 'a.csv' (42): No space left on device");
}

static void
test_prefix(void **state)
{
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    errno = ECONNRESET;
    jr_err_errno(&err, JR_E_STORAGE, "HTTP 503 SlowDown");
    assert_int_equal(jr_err_prefix(&err, "uploading '%s'", "a.csv"), -1);
    assert_int_equal(err.code, JR_E_STORAGE);
    assert_int_equal(err.sys_errno, ECONNRESET);
    assert_string_equal(err.msg, "uploading 'a.csv': HTTP 503 SlowDown: Connection reset by peer");
    jr_err_prefix(&err, "service %d", 7);
    assert_string_equal(
        err.msg, "service 7: uploading 'a.csv': HTTP 503 SlowDown: Connection reset by peer");
}

/* A message longer than the buffer is cut at JR_ERR_MSG_MAX - 1 bytes, NUL-terminated. */
static void
test_truncation(void **state)
{
    char big[2000];
    char want[JR_ERR_MSG_MAX];
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof(big) - 1] = '\0';
    memcpy(want, big, sizeof(want) - 1);
    want[sizeof(want) - 1] = '\0';

    jr_err_set(&err, JR_E_DATA, "%s", big);
    assert_int_equal(strlen(err.msg), JR_ERR_MSG_MAX - 1);
    assert_string_equal(err.msg, want);

    errno = ENOENT;
    jr_err_errno(&err, JR_E_IO, "%s", big);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_string_equal(err.msg, want);

    /* the strerror suffix itself is cut when the message nearly fills the buffer */
    big[JR_ERR_MSG_MAX - 5] = '\0';
    errno = ENOENT;
    jr_err_errno(&err, JR_E_IO, "%s", big);
    assert_int_equal(strlen(err.msg), JR_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, big, JR_ERR_MSG_MAX - 5);
    assert_string_equal(err.msg + JR_ERR_MSG_MAX - 5, ": No");
}

static void
test_prefix_truncation(void **state)
{
    char big[1000];
    char want[JR_ERR_MSG_MAX];
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    memset(big, 'c', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    /* a long old message: the context stays whole, the tail of the old message goes */
    jr_err_set(&err, JR_E_DB, "%s", big);
    jr_err_prefix(&err, "ctx");
    assert_int_equal(strlen(err.msg), JR_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "ctx: ccc", 8);
    assert_int_equal(err.code, JR_E_DB);

    /* a long context: the old message disappears entirely, the result is still terminated */
    jr_err_set(&err, JR_E_DB, "old");
    memset(big, 'p', sizeof(big) - 1);
    jr_err_prefix(&err, "%s", big);
    memset(want, 'p', sizeof(want) - 1);
    want[sizeof(want) - 1] = '\0';
    assert_string_equal(err.msg, want);

    /* a context of exactly JR_ERR_MSG_MAX - 2 bytes leaves room for nothing but ':' */
    jr_err_set(&err, JR_E_DB, "old");
    big[JR_ERR_MSG_MAX - 2] = '\0';
    jr_err_prefix(&err, "%s", big);
    assert_int_equal(strlen(err.msg), JR_ERR_MSG_MAX - 1);
    assert_int_equal(err.msg[JR_ERR_MSG_MAX - 2], ':');
}

/* vsnprintf can fail (a wide string that does not convert in the C locale): the message says so
 * instead of holding garbage. */
static void
test_unformattable(void **state)
{
    static const wchar_t wide[] = {0x263a, 0};
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(jr_err_set(&err, JR_E_INTERNAL, "%ls", wide), -1);
    assert_int_equal(err.code, JR_E_INTERNAL);
    assert_string_equal(err.msg, "(unformattable error message)");
}

/* SPEC §6: 0 ok; 1 internal; 2 usage; 3 configuration; 4 database; 5 storage (after retries);
 * 6 local I/O; 7 another run holds the lock; 8 partial; 9 bad data beyond limits. */
static void
test_exit_status_table(void **state)
{
    static const struct {
        enum jr_errcode code;
        int status;
        const char *name;
    } table[] = {
        {JR_OK, 0, "ok"},
        {JR_E_INTERNAL, 1, "internal"},
        {JR_E_USAGE, 2, "usage"},
        {JR_E_CONFIG, 3, "configuration"},
        {JR_E_DB, 4, "database"},
        {JR_E_STORAGE, 5, "storage"},
        {JR_E_IO, 6, "local-io"},
        {JR_E_LOCKED, 7, "locked"},
        {JR_E_PARTIAL, 8, "partial"},
        {JR_E_DATA, 9, "data"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(table); i++) {
        assert_int_equal(jr_err_exit_status(table[i].code), table[i].status);
        assert_string_equal(jr_err_name(table[i].code), table[i].name);
    }
    /* the enum values themselves are the documented numbers */
    assert_int_equal(JR_E_CONFIG, 3);
    assert_int_equal(JR_E_DATA, 9);
}

static void
test_unknown_code(void **state)
{
    (void)state;
    assert_int_equal(jr_err_exit_status((enum jr_errcode)42), 1);
    assert_string_equal(jr_err_name((enum jr_errcode)42), "internal");
    assert_int_equal(jr_err_exit_status((enum jr_errcode) - 1), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_clear),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_errno),
        cmocka_unit_test(test_errno_with_arguments),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_prefix_truncation),
        cmocka_unit_test(test_unformattable),
        cmocka_unit_test(test_exit_status_table),
        cmocka_unit_test(test_unknown_code),
    };

    return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
