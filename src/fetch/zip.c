/* Extracting one member of a zip archive (PKWARE APPNOTE): find the end of
 * central directory record (Zip64 too), look the member up in the central
 * directory, skip its local header, then copy (stored) or raw-inflate
 * (deflate) its data while computing the CRC-32 and counting bytes. The
 * central directory is trusted for sizes and CRC, so members written with a
 * data descriptor work as well. */
#define _FILE_OFFSET_BITS 64
#include "fetch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

enum {
    EOCD_SIZE = 22,
    EOCD_MAX_COMMENT = 65535,
    ZIP64_LOCATOR_SIZE = 20,
    ZIP64_EOCD_SIZE = 56,
    CENTRAL_ENTRY_SIZE = 46,
    LOCAL_HEADER_SIZE = 30,
    CHUNK = 1 << 16,
    LISTED_NAMES = 5, /* member names quoted when one is missing */
};

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_ZIP64_EOCD 0x06064b50u
#define SIG_ZIP64_LOCATOR 0x07064b50u
#define ZIP64_MARK32 0xffffffffu
#define FLAG_ENCRYPTED 0x0001u
#define METHOD_STORED 0
#define METHOD_DEFLATE 8

static uint16_t le16(const unsigned char *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

typedef struct {
    FILE *file;
    const char *path;
    const char *member;
    uint64_t size;
} zip_archive;

typedef struct {
    uint64_t offset;
    uint64_t size;
} central_directory;

typedef struct {
    uint16_t flags;
    uint16_t method;
    uint32_t crc;
    uint64_t compressed;
    uint64_t uncompressed;
    uint64_t local_offset;
} member_entry;

/* Where extracted bytes go: the output file, with a running CRC-32. */
typedef struct {
    FILE *out;
    const char *out_name;
    uint32_t crc;
    uint64_t written;
    uint64_t expected;
} member_sink;

/* "ARCHIVE: member 'NAME': <message>" */
static int member_fail(const zip_archive *zip, melon_err *err,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int member_fail(const zip_archive *zip, melon_err *err,
                       const char *fmt, ...) {
    char detail[MELON_ERR_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return melon_fail(err, "%s: member '%s': %s", zip->path, zip->member,
                      detail);
}

static int read_at(const zip_archive *zip, uint64_t offset, void *buf,
                   size_t len, melon_err *err) {
    if (offset > zip->size || len > zip->size - offset)
        return melon_fail(err, "%s: truncated zip archive (needs %zu bytes "
                               "at offset %llu of %llu)",
                          zip->path, len, (unsigned long long)offset,
                          (unsigned long long)zip->size);
    if (fseeko(zip->file, (off_t)offset, SEEK_SET) != 0 ||
        fread(buf, 1, len, zip->file) != len)
        return melon_fail(err, "cannot read %s at offset %llu: %s", zip->path,
                          (unsigned long long)offset,
                          ferror(zip->file) ? strerror(errno)
                                            : "unexpected end of file");
    return 0;
}

/* Reads the Zip64 end of central directory record that the locator just
 * before the classic record points to, if there is one. */
static int read_zip64_directory(const zip_archive *zip, uint64_t eocd_offset,
                                central_directory *cd, melon_err *err) {
    if (eocd_offset < ZIP64_LOCATOR_SIZE) return 0;
    unsigned char locator[ZIP64_LOCATOR_SIZE];
    if (read_at(zip, eocd_offset - ZIP64_LOCATOR_SIZE, locator,
                sizeof locator, err) != 0)
        return -1;
    if (le32(locator) != SIG_ZIP64_LOCATOR) return 0;
    if (le32(locator + 16) > 1)
        return melon_fail(err, "%s: split (multi-disk) zip archives are not "
                               "supported", zip->path);

    unsigned char record[ZIP64_EOCD_SIZE];
    if (read_at(zip, le64(locator + 8), record, sizeof record, err) != 0)
        return -1;
    if (le32(record) != SIG_ZIP64_EOCD)
        return melon_fail(err, "%s: corrupt zip archive (bad Zip64 end of "
                               "central directory record)", zip->path);
    cd->size = le64(record + 40);
    cd->offset = le64(record + 48);
    return 0;
}

/* Finds the end of central directory record: the last signature in the
 * final 64 KiB + 22 bytes whose comment fits in the file. */
static int find_central_directory(const zip_archive *zip,
                                  central_directory *cd, melon_err *err) {
    if (zip->size < EOCD_SIZE)
        return melon_fail(err, "%s: not a zip archive (only %llu bytes)",
                          zip->path, (unsigned long long)zip->size);
    size_t tail_len = (size_t)(zip->size < EOCD_SIZE + EOCD_MAX_COMMENT
                                   ? zip->size
                                   : EOCD_SIZE + EOCD_MAX_COMMENT);
    uint64_t tail_offset = zip->size - tail_len;
    unsigned char *tail = melon_alloc(tail_len, err);
    if (!tail) return -1;
    if (read_at(zip, tail_offset, tail, tail_len, err) != 0) {
        free(tail);
        return -1;
    }

    size_t found = tail_len;
    for (size_t i = tail_len - EOCD_SIZE + 1; i-- > 0;) {
        if (le32(tail + i) == SIG_EOCD &&
            i + EOCD_SIZE + le16(tail + i + 20) <= tail_len) {
            found = i;
            break;
        }
    }
    if (found == tail_len) {
        free(tail);
        return melon_fail(err, "%s: truncated or not a zip archive (no end "
                               "of central directory record)", zip->path);
    }
    const unsigned char *eocd = tail + found;
    uint16_t this_disk = le16(eocd + 4), cd_disk = le16(eocd + 6);
    cd->size = le32(eocd + 12);
    cd->offset = le32(eocd + 16);
    free(tail);
    if (this_disk != cd_disk && this_disk != 0xffff)
        return melon_fail(err, "%s: split (multi-disk) zip archives are not "
                               "supported", zip->path);
    if (read_zip64_directory(zip, tail_offset + found, cd, err) != 0)
        return -1;
    if (cd->offset > zip->size || cd->size > zip->size - cd->offset)
        return melon_fail(err, "%s: corrupt zip archive (central directory "
                               "at %llu+%llu lies past the end, %llu bytes)",
                          zip->path, (unsigned long long)cd->offset,
                          (unsigned long long)cd->size,
                          (unsigned long long)zip->size);
    return 0;
}

/* Replaces the 32-bit fields marked 0xffffffff by their values from the
 * Zip64 extended information extra field (id 1), which lists them in the
 * order: uncompressed size, compressed size, local header offset. */
static int apply_zip64_extra(const zip_archive *zip, const unsigned char *extra,
                             size_t extra_len, member_entry *entry,
                             melon_err *err) {
    uint64_t *fields[3] = {&entry->uncompressed, &entry->compressed,
                           &entry->local_offset};
    int needed = 0;
    for (int k = 0; k < 3; k++) needed += *fields[k] == ZIP64_MARK32;
    if (!needed) return 0;

    size_t pos = 0;
    while (pos + 4 <= extra_len) {
        uint16_t id = le16(extra + pos), len = le16(extra + pos + 2);
        const unsigned char *body = extra + pos + 4;
        if (pos + 4 + len > extra_len) break;
        if (id == 1) {
            size_t used = 0;
            for (int k = 0; k < 3; k++) {
                if (*fields[k] != ZIP64_MARK32) continue;
                if (used + 8 > len) break;
                *fields[k] = le64(body + used);
                used += 8;
            }
            if (used == 8 * (size_t)needed) return 0;
            break;
        }
        pos += 4 + (size_t)len;
    }
    return member_fail(zip, err, "missing or short Zip64 extra field");
}

/* Appends name to the list of member names quoted in "no member" errors. */
static void list_name(char *names, size_t cap, int index,
                      const unsigned char *name, size_t len) {
    size_t used = strlen(names);
    if (index > LISTED_NAMES || used + 8 >= cap) return;
    if (index == LISTED_NAMES) {
        snprintf(names + used, cap - used, ", ...");
        return;
    }
    snprintf(names + used, cap - used, "%s'%.*s'", index ? ", " : "",
             (int)(len > 200 ? 200 : len), (const char *)name);
}

/* Walks the central directory for the entry named zip->member. */
static int find_member(const zip_archive *zip, const central_directory *cd,
                       member_entry *entry, melon_err *err) {
    unsigned char *dir = melon_alloc((size_t)cd->size, err);
    if (!dir) return -1;
    if (read_at(zip, cd->offset, dir, (size_t)cd->size, err) != 0) {
        free(dir);
        return -1;
    }

    size_t member_len = strlen(zip->member);
    char names[512] = "";
    int count = 0, status = 1; /* 1: still looking */
    size_t pos = 0;
    while (status == 1 && pos + CENTRAL_ENTRY_SIZE <= cd->size) {
        const unsigned char *e = dir + pos;
        if (le32(e) != SIG_CENTRAL) break;
        size_t name_len = le16(e + 28), extra_len = le16(e + 30),
               comment_len = le16(e + 32);
        size_t entry_len =
            CENTRAL_ENTRY_SIZE + name_len + extra_len + comment_len;
        if (pos + entry_len > cd->size) break;
        const unsigned char *name = e + CENTRAL_ENTRY_SIZE;
        if (name_len == member_len &&
            memcmp(name, zip->member, member_len) == 0) {
            entry->flags = le16(e + 8);
            entry->method = le16(e + 10);
            entry->crc = le32(e + 16);
            entry->compressed = le32(e + 20);
            entry->uncompressed = le32(e + 24);
            entry->local_offset = le32(e + 42);
            status = apply_zip64_extra(zip, name + name_len, extra_len, entry,
                                       err);
        } else {
            list_name(names, sizeof names, count, name, name_len);
        }
        count++;
        pos += entry_len;
    }
    free(dir);
    if (status == 1) {
        if (count == 0)
            return melon_fail(err, "%s: no member '%s' (the archive is empty "
                                   "or its central directory is corrupt)",
                              zip->path, zip->member);
        return melon_fail(err, "%s: no member '%s' (it has %d: %s)", zip->path,
                          zip->member, count, names);
    }
    return status;
}

/* Positions the archive at the member's data, just past its local header
 * (whose name and extra field may differ in length from the central
 * directory's). */
static int seek_to_data(const zip_archive *zip, const member_entry *entry,
                        melon_err *err) {
    unsigned char local[LOCAL_HEADER_SIZE];
    if (read_at(zip, entry->local_offset, local, sizeof local, err) != 0)
        return -1;
    if (le32(local) != SIG_LOCAL)
        return member_fail(zip, err, "bad local header at offset %llu",
                           (unsigned long long)entry->local_offset);
    uint64_t data_offset = entry->local_offset + LOCAL_HEADER_SIZE +
                           le16(local + 26) + le16(local + 28);
    if (data_offset > zip->size || entry->compressed > zip->size - data_offset)
        return member_fail(zip, err, "its %llu bytes of data run past the end "
                           "of the archive (truncated download?)",
                           (unsigned long long)entry->compressed);
    if (fseeko(zip->file, (off_t)data_offset, SEEK_SET) != 0)
        return melon_fail(err, "cannot seek in %s: %s", zip->path,
                          strerror(errno));
    return 0;
}

static int sink_write(const zip_archive *zip, member_sink *sink,
                      const unsigned char *bytes, size_t len, melon_err *err) {
    if (len == 0) return 0;
    if (len > sink->expected - sink->written)
        return member_fail(zip, err, "expands past its recorded size of %llu "
                           "bytes (the archive is corrupt)",
                           (unsigned long long)sink->expected);
    sink->crc = (uint32_t)crc32(sink->crc, bytes, (uInt)len);
    sink->written += len;
    if (fwrite(bytes, 1, len, sink->out) != len)
        return melon_fail(err, "cannot write %s: %s", sink->out_name,
                          strerror(errno));
    return 0;
}

static int read_chunk(const zip_archive *zip, unsigned char *buf, size_t len,
                      melon_err *err) {
    if (fread(buf, 1, len, zip->file) != len)
        return melon_fail(err, "cannot read %s: %s", zip->path,
                          ferror(zip->file) ? strerror(errno)
                                            : "unexpected end of file");
    return 0;
}

static int copy_stored(const zip_archive *zip, const member_entry *entry,
                       member_sink *sink, melon_err *err) {
    if (entry->compressed != entry->uncompressed)
        return member_fail(zip, err, "stored with %llu bytes but recorded as "
                           "%llu uncompressed (the archive is corrupt)",
                           (unsigned long long)entry->compressed,
                           (unsigned long long)entry->uncompressed);
    unsigned char buf[CHUNK];
    for (uint64_t left = entry->compressed; left > 0;) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        if (read_chunk(zip, buf, n, err) != 0 ||
            sink_write(zip, sink, buf, n, err) != 0)
            return -1;
        left -= n;
    }
    return 0;
}

static int inflate_member(const zip_archive *zip, const member_entry *entry,
                          member_sink *sink, melon_err *err) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        return member_fail(zip, err, "cannot start inflate (out of memory)");

    unsigned char in[CHUNK], out[CHUNK];
    uint64_t left = entry->compressed;
    int status = 0, zret = Z_OK;
    while (status == 0 && zret != Z_STREAM_END) {
        if (zs.avail_in == 0) {
            if (left == 0) {
                status = member_fail(zip, err, "deflate data ends early "
                                     "(the archive is corrupt)");
                break;
            }
            size_t n = left < CHUNK ? (size_t)left : CHUNK;
            if (read_chunk(zip, in, n, err) != 0) {
                status = -1;
                break;
            }
            left -= n;
            zs.next_in = in;
            zs.avail_in = (uInt)n;
        }
        zs.next_out = out;
        zs.avail_out = CHUNK;
        zret = inflate(&zs, Z_NO_FLUSH);
        if (zret == Z_DATA_ERROR || zret == Z_NEED_DICT) {
            status = member_fail(zip, err, "corrupt deflate data (%s); the "
                                 "archive is damaged",
                                 zs.msg ? zs.msg : "invalid stream");
        } else if (zret == Z_MEM_ERROR) {
            status = member_fail(zip, err, "out of memory while inflating");
        } else {
            status = sink_write(zip, sink, out, CHUNK - zs.avail_out, err);
        }
    }
    inflateEnd(&zs);
    return status;
}

int melon_zip_extract_from(FILE *archive, const char *archive_name,
                           const char *member, FILE *out,
                           const char *out_name, melon_err *err) {
    zip_archive zip = {.file = archive, .path = archive_name,
                       .member = member};
    if (fseeko(zip.file, 0, SEEK_END) != 0)
        return melon_fail(err, "cannot seek in %s: %s", archive_name,
                          strerror(errno));
    zip.size = (uint64_t)ftello(zip.file);

    central_directory cd = {0, 0};
    member_entry entry = {0};
    if (find_central_directory(&zip, &cd, err) != 0 ||
        find_member(&zip, &cd, &entry, err) != 0 ||
        seek_to_data(&zip, &entry, err) != 0)
        return -1;
    if (entry.flags & FLAG_ENCRYPTED)
        return member_fail(&zip, err, "is encrypted, which is not supported");

    member_sink sink = {.out = out,
                        .out_name = out_name ? out_name : "the output",
                        .crc = (uint32_t)crc32(0L, Z_NULL, 0),
                        .expected = entry.uncompressed};
    int status;
    if (entry.method == METHOD_STORED)
        status = copy_stored(&zip, &entry, &sink, err);
    else if (entry.method == METHOD_DEFLATE)
        status = inflate_member(&zip, &entry, &sink, err);
    else
        status = member_fail(&zip, err, "uses compression method %u; only "
                             "stored (0) and deflate (8) are supported",
                             (unsigned)entry.method);
    if (status != 0) return -1;

    if (sink.written != entry.uncompressed)
        return member_fail(&zip, err, "size mismatch: recorded %llu bytes, "
                           "got %llu (the archive is corrupt)",
                           (unsigned long long)entry.uncompressed,
                           (unsigned long long)sink.written);
    if (sink.crc != entry.crc)
        return member_fail(&zip, err, "CRC-32 mismatch: expected %08x, got "
                           "%08x (the archive is corrupt)",
                           (unsigned)entry.crc, (unsigned)sink.crc);
    return 0;
}

int melon_zip_extract(const char *zip_path, const char *member, FILE *out,
                      const char *out_name, melon_err *err) {
    FILE *archive = fopen(zip_path, "rb");
    if (!archive)
        return melon_fail(err, "cannot open %s: %s", zip_path,
                          strerror(errno));
    int status = melon_zip_extract_from(archive, zip_path, member, out,
                                        out_name, err);
    fclose(archive);
    return status;
}
