/*
 * Tests of buf: growth (geometric, never without room for the NUL), NUL termination after every
 * operation, bytes with embedded NULs, printf at every length around the buffer's first capacity,
 * truncate/reset keeping the allocation, detach handing over ownership, and release_wipe
 * overwriting the whole allocation before freeing it.
 *
 * The wipe is observed by defining OPENSSL_cleanse in this test binary: the link resolves
 * xalloc.c's call to this definition instead of libcrypto's. It wipes exactly as the real one
 * does and records the region it was given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "buf.h"

#include "banned.h"

static const void *wiped_ptr;
static size_t wiped_len;
static unsigned wiped_calls;

void
OPENSSL_cleanse(void *ptr, size_t len)
{
    volatile unsigned char *p = ptr;

    for (size_t i = 0; i < len; i++)
        p[i] = 0;
    wiped_ptr = ptr;
    wiped_len = len;
    wiped_calls++;
}

static void
assert_terminated(const struct buf *b)
{
    assert_non_null(b->data);
    assert_true(b->cap > b->len);
    assert_int_equal(b->data[b->len], '\0');
}

static void
test_init(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_string_equal(buf_cstr(&b), "");
}

static void
test_add(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    buf_add(&b, "abc", 3);
    assert_int_equal(b.len, 3);
    assert_true(b.cap >= 64); /* small buffers start at 64 bytes */
    assert_terminated(&b);
    assert_string_equal(buf_cstr(&b), "abc");
    assert_ptr_equal(buf_cstr(&b), b.data);

    buf_add(&b, "x\0y", 3); /* binary-safe */
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "abcx\0y", 6);
    assert_terminated(&b);

    buf_add(&b, "", 0);
    assert_int_equal(b.len, 6);
    assert_terminated(&b);

    buf_addstr(&b, "de");
    buf_addch(&b, 'f');
    buf_addch(&b, '\0');
    buf_addch(&b, 'g');
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.data, "abcx\0ydef\0g", 11);
    assert_terminated(&b);
    buf_release(&b);
}

/* One byte at a time up to 100000 bytes: right contents, NUL after each step, and a number of
 * reallocations that grows with the logarithm of the size, not with the size. */
static void
test_growth(void **state)
{
    struct buf b = BUF_INIT;
    size_t last_cap = 0;
    unsigned growths = 0;

    (void)state;
    for (size_t i = 0; i < 100000; i++) {
        buf_addch(&b, (char)('a' + i % 26));
        assert_int_equal(b.len, i + 1);
        if (b.data[b.len] != '\0' || b.cap <= b.len)
            fail_msg("not terminated after %zu bytes", i + 1);
        if (b.cap != last_cap) {
            growths++;
            last_cap = b.cap;
        }
    }
    for (size_t i = 0; i < 100000; i++)
        if (b.data[i] != (char)('a' + i % 26))
            fail_msg("byte %zu is wrong", i);
    assert_true(growths <= 30);
    buf_release(&b);
}

static void
test_grow(void **state)
{
    struct buf b = BUF_INIT;
    char *p;
    size_t cap;
    char *big = malloc(1 << 20);

    (void)state;
    buf_grow(&b, 0);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, ""); /* a fresh allocation is already a C string */

    buf_grow(&b, 1000);
    assert_true(b.cap >= 1001);
    p = b.data;
    cap = b.cap;
    buf_grow(&b, 10); /* enough room already: nothing moves */
    assert_ptr_equal(b.data, p);
    assert_int_equal(b.cap, cap);
    buf_release(&b);

    memset(big, 'z', 1 << 20);
    buf_add(&b, big, 1 << 20);
    assert_int_equal(b.len, 1 << 20);
    assert_true(b.cap >= (1 << 20) + 1);
    assert_memory_equal(b.data, big, 1 << 20);
    assert_terminated(&b);
    buf_release(&b);
    free(big);
}

static void
test_printf(void **state)
{
    struct buf b = BUF_INIT;
    char *longarg = malloc(5001);

    (void)state;
    buf_printf(&b, "%s=%d", "rows", 42);
    assert_string_equal(buf_cstr(&b), "rows=42");
    buf_printf(&b, ",%s", "bytes=7");
    assert_string_equal(buf_cstr(&b), "rows=42,bytes=7");
    assert_terminated(&b);

    memset(longarg, 'L', 5000);
    longarg[5000] = '\0';
    buf_printf(&b, "[%s]", longarg); /* longer than the room left: the second vsnprintf path */
    assert_int_equal(b.len, 15 + 5002);
    assert_memory_equal(b.data, "rows=42,bytes=7[LLL", 19);
    assert_int_equal(b.data[b.len - 1], ']');
    assert_terminated(&b);

    buf_reset(&b);
    buf_printf(&b, "%s", "");
    assert_int_equal(b.len, 0);
    assert_terminated(&b);
    buf_release(&b);
    free(longarg);
}

/* Every output length from 0 to 300 appended after every prefix length from 0 to 70, against
 * snprintf: covers the exact-fit boundaries of the first 64-byte allocation. */
static void
test_printf_boundaries(void **state)
{
    char arg[301];
    char prefix[71];
    char want[400];

    (void)state;
    memset(prefix, 'p', sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';
    memset(arg, 'q', sizeof(arg) - 1);
    arg[sizeof(arg) - 1] = '\0';
    for (size_t pre = 0; pre <= 70; pre++) {
        for (size_t n = 0; n <= 300; n++) {
            struct buf b = BUF_INIT;

            for (size_t i = 0; i < pre; i++)
                buf_addch(&b, 'p');
            buf_printf(&b, "%.*s", (int)n, arg);
            snprintf(want, sizeof(want), "%.*s%.*s", (int)pre, prefix, (int)n, arg);
            if (b.len != pre + n || strcmp(buf_cstr(&b), want) != 0)
                fail_msg("prefix %zu, length %zu: got %zu bytes", pre, n, b.len);
            assert_true(b.cap > b.len);
            buf_release(&b);
        }
    }
}

static void JR_PRINTF(2, 3) call_vprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

static void
test_vprintf(void **state)
{
    struct buf b = BUF_INIT;
    char arg[200];

    (void)state;
    memset(arg, 'v', sizeof(arg) - 1);
    arg[sizeof(arg) - 1] = '\0';
    call_vprintf(&b, "%d-%s", 7, arg); /* needs the va_list twice */
    assert_int_equal(b.len, 2 + 199);
    assert_memory_equal(b.data, "7-vvv", 5);
    assert_terminated(&b);
    buf_release(&b);
}

static void
test_truncate_reset(void **state)
{
    struct buf b = BUF_INIT;
    char *p;
    size_t cap;

    (void)state;
    buf_truncate(&b, 0); /* never used: nothing to do */
    buf_reset(&b);
    assert_null(b.data);
    assert_string_equal(buf_cstr(&b), "");

    buf_addstr(&b, "abcdef");
    p = b.data;
    cap = b.cap;
    buf_truncate(&b, 2);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    buf_truncate(&b, 5); /* longer than the contents: no change */
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(buf_cstr(&b), "");
    assert_ptr_equal(b.data, p); /* the allocation is kept */
    assert_int_equal(b.cap, cap);
    buf_addstr(&b, "xy");
    assert_string_equal(buf_cstr(&b), "xy");
    buf_release(&b);
}

static void
test_detach(void **state)
{
    struct buf b = BUF_INIT;
    char *p;
    char *data;
    size_t len = 99;

    (void)state;
    buf_add(&b, "hello\0world", 11);
    data = b.data;
    p = buf_detach(&b, &len);
    assert_ptr_equal(p, data);
    assert_int_equal(len, 11);
    assert_memory_equal(p, "hello\0world", 12);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(p);

    /* a never-used buffer still detaches a real, empty, freeable string */
    len = 99;
    p = buf_detach(&b, &len);
    assert_non_null(p);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);

    buf_addstr(&b, "x");
    p = buf_detach(&b, NULL);
    assert_string_equal(p, "x");
    free(p);
}

static void
test_release(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    buf_release(&b); /* never used */
    buf_addstr(&b, "abc");
    buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_release(&b);
    buf_addstr(&b, "again"); /* usable after release */
    assert_string_equal(buf_cstr(&b), "again");
    buf_release(&b);
}

/* release_wipe overwrites the whole allocation (cap bytes, not just len) before freeing it. */
static void
test_release_wipe(void **state)
{
    struct buf b = BUF_INIT;
    const void *data;
    size_t cap;

    (void)state;
    buf_addstr(&b, "12025550143,jane@example.gov");
    buf_truncate(&b, 5); /* bytes past len are still PII */
    data = b.data;
    cap = b.cap;
    wiped_ptr = NULL;
    wiped_len = 0;
    wiped_calls = 0;
    buf_release_wipe(&b);
    assert_int_equal(wiped_calls, 1);
    assert_ptr_equal(wiped_ptr, data);
    assert_int_equal(wiped_len, cap);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);

    /* never used: nothing to wipe, nothing to free */
    wiped_calls = 0;
    buf_release_wipe(&b);
    assert_int_equal(wiped_calls, 0);
    assert_null(b.data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),         cmocka_unit_test(test_add),
        cmocka_unit_test(test_growth),       cmocka_unit_test(test_grow),
        cmocka_unit_test(test_printf),       cmocka_unit_test(test_printf_boundaries),
        cmocka_unit_test(test_vprintf),      cmocka_unit_test(test_truncate_reset),
        cmocka_unit_test(test_detach),       cmocka_unit_test(test_release),
        cmocka_unit_test(test_release_wipe),
    };

    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
