/* SHA-256 against published vectors; zip extraction against archives built
 * here byte by byte (stored, deflate, Zip64, data descriptors) and damaged on
 * purpose; resolving catalog names in an empty and a filled cache. */
#include "test_support.h"

#include "fetch/fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- building zip archives ---------------------------------------------- */

typedef struct {
    unsigned char *bytes;
    size_t len;
    size_t cap;
} byte_buf;

static void put_bytes(byte_buf *b, const void *data, size_t len) {
    if (b->len + len > b->cap) {
        b->cap = 2 * (b->len + len) + 64;
        b->bytes = realloc(b->bytes, b->cap);
        assert_non_null(b->bytes);
    }
    memcpy(b->bytes + b->len, data, len);
    b->len += len;
}

static void put16(byte_buf *b, uint32_t v) {
    unsigned char p[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put_bytes(b, p, 2);
}

static void put32(byte_buf *b, uint32_t v) {
    put16(b, v & 0xffff);
    put16(b, v >> 16);
}

static void put64(byte_buf *b, uint64_t v) {
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

typedef struct {
    const char *name;
    const char *content;
    uint16_t method;         /* 0 stored, 8 deflate; others stored as-is */
    uint16_t flags;          /* bit 0: encrypted, bit 3: data descriptor */
    const char *crc_of;      /* record the CRC of this text instead */
    int64_t size_skew;       /* added to the recorded uncompressed size */
    size_t data_offset;      /* filled in: where the member's data starts */
    size_t data_len;         /* filled in: bytes of (compressed) data */
} zip_member;

static uint32_t crc_of_text(const char *text) {
    return (uint32_t)crc32(0L, (const Bytef *)text, (uInt)strlen(text));
}

static unsigned char *raw_deflate(const char *text, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)strlen(text));
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (Bytef *)text;
    zs.avail_in = (uInt)strlen(text);
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* Writes a zip archive with the members, in order. With zip64, every size
 * and offset goes through the Zip64 extra field and end records. */
static void write_zip(const char *path, zip_member *members, int n,
                      int zip64) {
    byte_buf zip = {0};
    size_t *local_offsets = calloc((size_t)n, sizeof *local_offsets);
    assert_non_null(local_offsets);
    for (int k = 0; k < n; k++) {
        zip_member *m = &members[k];
        size_t raw_len = strlen(m->content), data_len = raw_len;
        unsigned char *deflated = NULL;
        if (m->method == 8) deflated = raw_deflate(m->content, &data_len);
        uint32_t crc = crc_of_text(m->crc_of ? m->crc_of : m->content);
        int descriptor = (m->flags & 8) != 0;

        local_offsets[k] = zip.len;
        put32(&zip, 0x04034b50);
        put16(&zip, zip64 ? 45 : 20);
        put16(&zip, m->flags);
        put16(&zip, m->method);
        put32(&zip, 0); /* time and date */
        put32(&zip, descriptor ? 0 : crc);
        put32(&zip, descriptor ? 0 : zip64 ? 0xffffffffu : (uint32_t)data_len);
        put32(&zip, descriptor ? 0 : zip64 ? 0xffffffffu : (uint32_t)raw_len);
        put16(&zip, (uint32_t)strlen(m->name));
        put16(&zip, zip64 ? 20 : 0);
        put_bytes(&zip, m->name, strlen(m->name));
        if (zip64) {
            put16(&zip, 1);
            put16(&zip, 16);
            put64(&zip, raw_len);
            put64(&zip, data_len);
        }
        m->data_offset = zip.len;
        m->data_len = data_len;
        put_bytes(&zip, deflated ? (const void *)deflated : m->content,
                  data_len);
        if (descriptor) {
            put32(&zip, 0x08074b50);
            put32(&zip, crc);
            put32(&zip, (uint32_t)data_len);
            put32(&zip, (uint32_t)raw_len);
        }
        free(deflated);
    }

    size_t cd_offset = zip.len;
    for (int k = 0; k < n; k++) {
        zip_member *m = &members[k];
        uint64_t raw_len = (uint64_t)((int64_t)strlen(m->content) +
                                      m->size_skew);
        put32(&zip, 0x02014b50);
        put16(&zip, zip64 ? 45 : 20);
        put16(&zip, zip64 ? 45 : 20);
        put16(&zip, m->flags);
        put16(&zip, m->method);
        put32(&zip, 0);
        put32(&zip, crc_of_text(m->crc_of ? m->crc_of : m->content));
        put32(&zip, zip64 ? 0xffffffffu : (uint32_t)m->data_len);
        put32(&zip, zip64 ? 0xffffffffu : (uint32_t)raw_len);
        put16(&zip, (uint32_t)strlen(m->name));
        put16(&zip, zip64 ? 28 : 0);
        put16(&zip, 0); /* comment */
        put16(&zip, 0); /* disk */
        put16(&zip, 0); /* internal attributes */
        put32(&zip, 0); /* external attributes */
        put32(&zip, zip64 ? 0xffffffffu : (uint32_t)local_offsets[k]);
        put_bytes(&zip, m->name, strlen(m->name));
        if (zip64) {
            put16(&zip, 1);
            put16(&zip, 24);
            put64(&zip, raw_len);
            put64(&zip, m->data_len);
            put64(&zip, local_offsets[k]);
        }
    }
    size_t cd_size = zip.len - cd_offset;

    if (zip64) {
        size_t record_offset = zip.len;
        put32(&zip, 0x06064b50);
        put64(&zip, 44);
        put16(&zip, 45);
        put16(&zip, 45);
        put32(&zip, 0);
        put32(&zip, 0);
        put64(&zip, (uint64_t)n);
        put64(&zip, (uint64_t)n);
        put64(&zip, cd_size);
        put64(&zip, cd_offset);
        put32(&zip, 0x07064b50);
        put32(&zip, 0);
        put64(&zip, record_offset);
        put32(&zip, 1);
    }
    put32(&zip, 0x06054b50);
    put16(&zip, 0);
    put16(&zip, 0);
    put16(&zip, zip64 ? 0xffff : (uint32_t)n);
    put16(&zip, zip64 ? 0xffff : (uint32_t)n);
    put32(&zip, zip64 ? 0xffffffffu : (uint32_t)cd_size);
    put32(&zip, zip64 ? 0xffffffffu : (uint32_t)cd_offset);
    put16(&zip, 0);

    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(zip.bytes, 1, zip.len, f), zip.len);
    assert_int_equal(fclose(f), 0);
    free(zip.bytes);
    free(local_offsets);
}

static void flip_byte(const char *path, size_t offset) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)offset, SEEK_SET), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, (long)offset, SEEK_SET), 0);
    fputc(c ^ 0x55, f);
    assert_int_equal(fclose(f), 0);
}

/* A few kilobytes of interaction-log text, so deflate has work to do. */
static char *sample_log(void) {
    size_t cap = 64 * 1024, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    uint32_t x = 12345;
    for (int line = 0; line < 2000; line++) {
        x = x * 1103515245u + 12345u;
        len += (size_t)snprintf(text + len, cap - len, "%u\t%u\t%u\t%u\n",
                                1 + (x >> 16) % 943, 1 + (x >> 8) % 1682,
                                1 + x % 5, 874724710u + (x >> 4));
    }
    return text;
}

/* Extracts member into memory: returns the status, *content (malloc'ed,
 * NUL-terminated) on success. */
static int extract(const char *zip_path, const char *member, char **content,
                   melon_err *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    int status = melon_zip_extract(zip_path, member, out, "memory", err);
    assert_int_equal(fclose(out), 0);
    if (status == 0 && content) *content = buf;
    else free(buf);
    return status;
}

static void assert_contains(const char *text, const char *part) {
    if (!strstr(text, part))
        fail_msg("expected \"%s\" in \"%s\"", part, text);
}

/* ---- SHA-256 ------------------------------------------------------------ */

static void sha256_matches_published_vectors(void **state) {
    (void)state;
    char hex[MELON_SHA256_HEX];
    melon_err err;
    assert_int_equal(melon_sha256_bytes("abc", 3, hex, &err), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(melon_sha256_bytes("", 0, hex, &err), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855");
    const char *two_blocks =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(melon_sha256_bytes(two_blocks, strlen(two_blocks), hex,
                                        &err), 0);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
                             "a33ce45964ff2167f6ecedd419db06c1");
}

static void sha256_of_a_file_and_a_missing_file(void **state) {
    (void)state;
    const char *path = test_tmp_path("abc.txt");
    test_write_file(path, "abc", 0);
    char hex[MELON_SHA256_HEX];
    uint64_t bytes = 0;
    melon_err err;
    assert_int_equal(melon_sha256_file(path, hex, &bytes, &err), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(bytes, 3);

    const char *missing = test_tmp_path("no-such-file");
    assert_int_equal(melon_sha256_file(missing, hex, NULL, &err), -1);
    assert_contains(err.msg, missing);
}

/* RFC 1321's test suite */
static void md5_matches_published_vectors(void **state) {
    (void)state;
    char hex[MELON_MD5_HEX];
    melon_err err;
    assert_int_equal(melon_md5_bytes("", 0, hex, &err), 0);
    assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
    assert_int_equal(melon_md5_bytes("abc", 3, hex, &err), 0);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    const char *digits = "1234567890123456789012345678901234567890"
                         "1234567890123456789012345678901234567890";
    assert_int_equal(melon_md5_bytes(digits, strlen(digits), hex, &err), 0);
    assert_string_equal(hex, "57edf4a22be3c955ac49da2e2107b67a");
    const char *path = test_tmp_path("abc-md5.txt");
    test_write_file(path, "abc", 0);
    assert_int_equal(melon_md5_file(path, hex, &err), 0);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    assert_int_equal(melon_md5_file(test_tmp_path("no-such"), hex, &err), -1);
}

/* ---- zip extraction ----------------------------------------------------- */

static void extracts_stored_and_deflated_members(void **state) {
    (void)state;
    char *log = sample_log();
    zip_member members[] = {
        {.name = "set/README", .content = "about the set\n", .method = 0},
        {.name = "set/u.data", .content = log, .method = 8},
        {.name = "set/u.info", .content = "943 users\n", .method = 0},
    };
    const char *path = test_tmp_path("good.zip");
    write_zip(path, members, 3, 0);
    assert_true(members[1].data_len < strlen(log) / 2);

    char *content = NULL;
    melon_err err;
    assert_int_equal(extract(path, "set/u.data", &content, &err), 0);
    assert_string_equal(content, log);
    free(content);
    assert_int_equal(extract(path, "set/u.info", &content, &err), 0);
    assert_string_equal(content, "943 users\n");
    free(content);
    free(log);
}

static void crc_failure_in_a_stored_member(void **state) {
    (void)state;
    zip_member members[] = {
        {.name = "set/u.data", .content = "1\t2\t5\t881250949\n", .method = 0},
    };
    const char *path = test_tmp_path("stored-flipped.zip");
    write_zip(path, members, 1, 0);
    flip_byte(path, members[0].data_offset + 3);

    melon_err err;
    assert_int_equal(extract(path, "set/u.data", NULL, &err), -1);
    assert_contains(err.msg, "CRC-32 mismatch");
    assert_contains(err.msg, path);
    assert_contains(err.msg, "'set/u.data'");
}

static void crc_failure_in_a_deflated_member(void **state) {
    (void)state;
    char *log = sample_log();
    char *altered = strdup(log);
    assert_non_null(altered);
    altered[100] = altered[100] == '7' ? '8' : '7';
    /* The data inflates cleanly, but to other bytes than were recorded. */
    zip_member members[] = {
        {.name = "set/u.data", .content = log, .method = 8,
         .crc_of = altered},
    };
    const char *path = test_tmp_path("deflated-crc.zip");
    write_zip(path, members, 1, 0);
    melon_err err;
    assert_int_equal(extract(path, "set/u.data", NULL, &err), -1);
    assert_contains(err.msg, "CRC-32 mismatch");
    assert_contains(err.msg, path);
    assert_contains(err.msg, "'set/u.data'");

    /* A damaged deflate stream fails too, one way or another. */
    const char *flipped = test_tmp_path("deflated-flipped.zip");
    members[0].crc_of = NULL;
    write_zip(flipped, members, 1, 0);
    flip_byte(flipped, members[0].data_offset + members[0].data_len / 2);
    assert_int_equal(extract(flipped, "set/u.data", NULL, &err), -1);
    assert_contains(err.msg, flipped);
    assert_contains(err.msg, "'set/u.data'");
    free(altered);
    free(log);
}

static void missing_member_is_named(void **state) {
    (void)state;
    zip_member members[] = {
        {.name = "set/README", .content = "about\n", .method = 0},
        {.name = "set/u.item", .content = "1|Toy Story\n", .method = 8},
    };
    const char *path = test_tmp_path("no-data.zip");
    write_zip(path, members, 2, 0);
    melon_err err;
    assert_int_equal(extract(path, "set/u.data", NULL, &err), -1);
    assert_contains(err.msg, "no member 'set/u.data'");
    assert_contains(err.msg, path);
    assert_contains(err.msg, "'set/README'");
    assert_contains(err.msg, "'set/u.item'");
    /* Names match exactly, not by suffix or prefix. */
    assert_int_equal(extract(path, "u.item", NULL, &err), -1);
    assert_int_equal(extract(path, "set/u.ite", NULL, &err), -1);
}

static void zip64_records_are_followed(void **state) {
    (void)state;
    char *log = sample_log();
    zip_member members[] = {
        {.name = "set/README", .content = "about\n", .method = 0},
        {.name = "set/u.data", .content = log, .method = 8},
    };
    const char *path = test_tmp_path("zip64.zip");
    write_zip(path, members, 2, 1);
    char *content = NULL;
    melon_err err;
    assert_int_equal(extract(path, "set/u.data", &content, &err), 0);
    assert_string_equal(content, log);
    free(content);
    free(log);
}

static void data_descriptor_members_use_the_central_directory(void **state) {
    (void)state;
    zip_member members[] = {
        {.name = "set/u.data", .content = "5\t6\t3\t881250950\n", .method = 8,
         .flags = 8},
    };
    const char *path = test_tmp_path("descriptor.zip");
    write_zip(path, members, 1, 0);
    char *content = NULL;
    melon_err err;
    assert_int_equal(extract(path, "set/u.data", &content, &err), 0);
    assert_string_equal(content, "5\t6\t3\t881250950\n");
    free(content);
}

static void recorded_size_must_match(void **state) {
    (void)state;
    zip_member longer[] = {
        {.name = "a", .content = "some bytes\n", .method = 8, .size_skew = 1},
    };
    zip_member shorter[] = {
        {.name = "a", .content = "some bytes\n", .method = 8, .size_skew = -1},
    };
    const char *path = test_tmp_path("sizes.zip");
    melon_err err;
    write_zip(path, longer, 1, 0);
    assert_int_equal(extract(path, "a", NULL, &err), -1);
    assert_contains(err.msg, "size mismatch");
    write_zip(path, shorter, 1, 0);
    assert_int_equal(extract(path, "a", NULL, &err), -1);
    assert_contains(err.msg, "past its recorded size");
}

static void unsupported_members_are_refused(void **state) {
    (void)state;
    zip_member bzip2[] = {{.name = "a", .content = "BZh9", .method = 12}};
    zip_member encrypted[] = {{.name = "a", .content = "xx", .flags = 1}};
    const char *path = test_tmp_path("unsupported.zip");
    melon_err err;
    write_zip(path, bzip2, 1, 0);
    assert_int_equal(extract(path, "a", NULL, &err), -1);
    assert_contains(err.msg, "compression method 12");
    write_zip(path, encrypted, 1, 0);
    assert_int_equal(extract(path, "a", NULL, &err), -1);
    assert_contains(err.msg, "encrypted");
}

static void truncated_and_foreign_files_are_refused(void **state) {
    (void)state;
    char *log = sample_log();
    zip_member members[] = {{.name = "u.data", .content = log, .method = 8}};
    const char *path = test_tmp_path("truncated.zip");
    write_zip(path, members, 1, 0);
    assert_int_equal(truncate(path, (off_t)(members[0].data_offset + 100)), 0);
    melon_err err;
    assert_int_equal(extract(path, "u.data", NULL, &err), -1);
    assert_contains(err.msg, path);

    const char *text = test_tmp_path("plain.txt");
    test_write_file(text, "user\titem\n1\t2\n", 0);
    assert_int_equal(extract(text, "u.data", NULL, &err), -1);
    assert_contains(err.msg, "not a zip archive");

    assert_int_equal(extract(test_tmp_path("absent.zip"), "u.data", NULL,
                             &err), -1);
    assert_contains(err.msg, "absent.zip");
    free(log);
}

/* ---- catalog names ------------------------------------------------------ */

static void resolve_tells_names_from_paths(void **state) {
    (void)state;
    const melon_dataset *ds = melon_catalog_find("ml-100k");
    assert_non_null(ds);
    assert_int_equal(ds->size, 1979173);
    assert_non_null(melon_dataset_format_hint("ml-100k"));
    assert_null(melon_dataset_format_hint("data/u.data"));

    char cache[4096], path[4096];
    snprintf(cache, sizeof cache, "%s/cache", test_tmpdir());
    melon_err err;
    assert_int_equal(melon_dataset_resolve("data/u.data", cache, path,
                                           sizeof path, &err), 0);
    assert_int_equal(melon_dataset_resolve("./ml-100k", cache, path,
                                           sizeof path, &err), 0);
    assert_int_equal(melon_dataset_resolve("ml-100k", cache, path,
                                           sizeof path, &err), -1);
    assert_contains(err.msg, "ml-100k is not fetched; run: melon data fetch "
                             "ml-100k");

    char dir[4200], expected[4300];
    snprintf(dir, sizeof dir, "%s/ml-100k", cache);
    snprintf(expected, sizeof expected, "%s/u.data", dir);
    assert_int_equal(mkdir(cache, 0777), 0);
    assert_int_equal(mkdir(dir, 0777), 0);
    test_write_file(expected, "1\t2\t3\t4\n", 0);
    assert_int_equal(melon_dataset_resolve("ml-100k", cache, path,
                                           sizeof path, &err), -1);
    assert_contains(err.msg, "expected 1979173");

    assert_int_equal(truncate(expected, 1979173), 0);
    assert_int_equal(melon_dataset_resolve("ml-100k", cache, path,
                                           sizeof path, &err), 1);
    assert_string_equal(path, expected);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_matches_published_vectors),
        cmocka_unit_test(sha256_of_a_file_and_a_missing_file),
        cmocka_unit_test(md5_matches_published_vectors),
        cmocka_unit_test(extracts_stored_and_deflated_members),
        cmocka_unit_test(crc_failure_in_a_stored_member),
        cmocka_unit_test(crc_failure_in_a_deflated_member),
        cmocka_unit_test(missing_member_is_named),
        cmocka_unit_test(zip64_records_are_followed),
        cmocka_unit_test(data_descriptor_members_use_the_central_directory),
        cmocka_unit_test(recorded_size_must_match),
        cmocka_unit_test(unsupported_members_are_refused),
        cmocka_unit_test(truncated_and_foreign_files_are_refused),
        cmocka_unit_test(resolve_tells_names_from_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
