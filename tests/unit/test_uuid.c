/*
 * Tests of uuid: the canonical 8-4-4-4-12 text form in either case to 16 bytes and back to
 * lowercase text, and rejection of every near miss (length, hyphen positions, non-hex digits,
 * braces, the 32-digit form without hyphens).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "compat.h"
#include "uuid.h"

#include "banned.h"

static const unsigned char sample[16] = {0x3f, 0x2a, 0x9c, 0x10, 0x7b, 0x4e, 0x4d, 0x21,
                                         0x8a, 0x5f, 0x0c, 0x6e, 0x91, 0xd2, 0xb3, 0x47};

static void
test_parse(void **state)
{
    static const char *const forms[] = {
        "3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b347",
        "3F2A9C10-7B4E-4D21-8A5F-0C6E91D2B347",
        "3f2A9c10-7B4e-4D21-8a5F-0c6E91d2B347",
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(forms); i++) {
        unsigned char out[16];

        memset(out, 0xee, sizeof(out));
        assert_int_equal(uuid_parse(forms[i], out), 0);
        assert_memory_equal(out, sample, 16);
        assert_true(uuid_valid(forms[i]));
    }
}

static void
test_parse_extremes(void **state)
{
    unsigned char out[16];
    unsigned char ff[16];

    (void)state;
    assert_int_equal(uuid_parse("00000000-0000-0000-0000-000000000000", out), 0);
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(out[i], 0);
    memset(ff, 0xff, sizeof(ff));
    assert_int_equal(uuid_parse("ffffffff-FFFF-ffff-FFFF-ffffffffffff", out), 0);
    assert_memory_equal(out, ff, 16);
}

static void
test_format(void **state)
{
    char out[UUID_STR_LEN + 8];
    unsigned char zero[16];
    unsigned char back[16];

    (void)state;
    memset(out, 'X', sizeof(out));
    uuid_format(sample, out);
    assert_string_equal(out, "3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b347");
    assert_int_equal(out[UUID_STR_LEN + 1], 'X'); /* writes 37 bytes, no more */

    memset(zero, 0, sizeof(zero));
    uuid_format(zero, out);
    assert_string_equal(out, "00000000-0000-0000-0000-000000000000");

    /* uppercase input comes back lowercase */
    assert_int_equal(uuid_parse("ABCDEF01-2345-6789-ABCD-EF0123456789", back), 0);
    uuid_format(back, out);
    assert_string_equal(out, "abcdef01-2345-6789-abcd-ef0123456789");
}

/* Every byte value in every position survives format then parse. */
static void
test_round_trip(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 256; v++) {
        unsigned char in[16];
        unsigned char back[16];
        char text[UUID_STR_LEN + 1];

        for (size_t i = 0; i < 16; i++)
            in[i] = (unsigned char)(v + i * 17);
        uuid_format(in, text);
        assert_int_equal(strlen(text), UUID_STR_LEN);
        assert_int_equal(uuid_parse(text, back), 0);
        assert_memory_equal(in, back, 16);
    }
}

static void
test_reject(void **state)
{
    static const char *const bad[] = {
        "",
        "3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b34",    /* 35 */
        "3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b3471",  /* 37 */
        "3f2a9c107b4e4d218a5f0c6e91d2b347",       /* no hyphens */
        "{3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b347}", /* braces */
        "3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b34g",   /* non-hex */
        "3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b3 7",   /* space */
        "3f2a9c1-07b4e-4d21-8a5f-0c6e91d2b347",   /* hyphen one early */
        "3f2a9c10a7b4e-4d21-8a5f-0c6e91d2b347",   /* hyphen replaced, same length */
        "3f2a9c10-7b4e-4d21-8a5f-0c6e91d2-347",   /* extra hyphen inside the last group */
        "3f2a9c10-7b4e-4d21-8a5f+0c6e91d2b347",
        "3f2a9c10_7b4e_4d21_8a5f_0c6e91d2b347",
        "-3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b34",
        "3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b347\n",
        "0x2a9c10-7b4e-4d21-8a5f-0c6e91d2b347",
        "3f2a9c10-7b4e-4d21-8a5f-0c6e91d2b3\xc3\xa9",
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        unsigned char out[16];

        if (uuid_parse(bad[i], out) != -1)
            fail_msg("'%s' accepted", bad[i]);
        assert_false(uuid_valid(bad[i]));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),  cmocka_unit_test(test_parse_extremes),
        cmocka_unit_test(test_format), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_reject),
    };

    return cmocka_run_group_tests_name("uuid", tests, NULL, NULL);
}
