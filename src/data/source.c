/* Decompressing input files: zlib reads plain and gzip files (its
 * transparent mode), libbz2 and liblzma the others. Concatenated streams,
 * as pbzip2 and xz -T write them, are read to the end. */
#include "source.h"

#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* zlib's own input buffer; large reads into ours bypass it. */
#define GZ_INTERNAL_BUFFER ((unsigned)1 << 17)
#define COMPRESSED_CHUNK ((size_t)1 << 17)

typedef enum { SOURCE_ZLIB, SOURCE_BZIP2, SOURCE_XZ } source_kind;

struct melon_source {
    const char *path;
    source_kind kind;
    gzFile gz;            /* SOURCE_ZLIB */
    FILE *file;           /* SOURCE_BZIP2, SOURCE_XZ: the compressed bytes */
    BZFILE *bz;
    lzma_stream xz;
    unsigned char *in;    /* SOURCE_XZ: compressed bytes read, not yet used */
    int input_done;       /* the compressed file is read to its end */
    int at_end;
};

/* Formats recognised only to be named. */
typedef struct {
    const char *magic;
    size_t len;
    const char *name;
    const char *tool;
} unread_format;

static const unread_format unread_formats[] = {
    {"PK\x03\x04", 4, "a zip archive", "unzip"},
    {"PK\x05\x06", 4, "an empty zip archive", "unzip"},
    {"\x28\xB5\x2F\xFD", 4, "zstd-compressed", "zstd -d"},
    {"7z\xBC\xAF\x27\x1C", 6, "a 7z archive", "7z x"},
    {"\x04\x22\x4D\x18", 4, "lz4-compressed", "lz4 -d"},
};

static int opened(melon_source *s, melon_err *err) {
    if (s->kind == SOURCE_BZIP2) {
        int bzerr;
        s->bz = BZ2_bzReadOpen(&bzerr, s->file, 0, 0, NULL, 0);
        if (bzerr != BZ_OK)
            return melon_fail(err, "%s: cannot open: libbz2 error %d", s->path,
                              bzerr);
    } else if (s->kind == SOURCE_XZ) {
        s->in = malloc(COMPRESSED_CHUNK);
        if (!s->in) return melon_fail(err, "%s: cannot open: out of memory", s->path);
        lzma_stream init = LZMA_STREAM_INIT;
        s->xz = init;
        if (lzma_stream_decoder(&s->xz, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
            return melon_fail(err, "%s: cannot open: out of memory", s->path);
    }
    return 0;
}

melon_source *melon_source_open(const char *path, melon_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    int open_error = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (open_error) {
        close(fd);
        melon_fail(err, "%s: cannot open: %s", path, strerror(open_error));
        return NULL;
    }
    unsigned char magic[6] = {0};
    ssize_t got = pread(fd, magic, sizeof magic, 0);
    size_t have = got > 0 ? (size_t)got : 0;
    for (size_t k = 0; k < sizeof unread_formats / sizeof *unread_formats; k++) {
        const unread_format *u = &unread_formats[k];
        if (have >= u->len && memcmp(magic, u->magic, u->len) == 0) {
            close(fd);
            melon_fail(err, "%s: the file is %s; melon reads plain, gzip, bzip2 "
                            "and xz files: decompress it first (%s)",
                       path, u->name, u->tool);
            return NULL;
        }
    }
    melon_source *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        melon_fail(err, "%s: cannot open: out of memory", path);
        return NULL;
    }
    s->path = path;
    if (have >= 3 && memcmp(magic, "BZh", 3) == 0) s->kind = SOURCE_BZIP2;
    else if (have >= 6 && memcmp(magic, "\xFD" "7zXZ\0", 6) == 0) s->kind = SOURCE_XZ;
    else s->kind = SOURCE_ZLIB;
    if (s->kind == SOURCE_ZLIB) {
        s->gz = gzdopen(fd, "rb");
        if (!s->gz) {
            close(fd);
            free(s);
            melon_fail(err, "%s: cannot open: out of memory", path);
            return NULL;
        }
        gzbuffer(s->gz, GZ_INTERNAL_BUFFER);
        return s;
    }
    s->file = fdopen(fd, "rb");
    if (!s->file) {
        close(fd);
        free(s);
        melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (opened(s, err) != 0) {
        melon_source_close(s);
        return NULL;
    }
    return s;
}

static long read_zlib(melon_source *s, char *buf, size_t cap, melon_err *err) {
    unsigned want = cap > (size_t)1 << 30 ? (unsigned)1 << 30 : (unsigned)cap;
    int got = gzread(s->gz, buf, want);
    int errnum = Z_OK;
    const char *why = gzerror(s->gz, &errnum);
    /* zlib prefixes its messages with the descriptor ("<fd:3>: ") */
    const char *after_prefix = strstr(why, ">: ");
    if (strncmp(why, "<fd:", 4) == 0 && after_prefix) why = after_prefix + 3;
    if (got < 0 || (got == 0 && errnum != Z_OK)) {
        if (errnum == Z_ERRNO) /* zlib's message holds strerror's text */
            return melon_fail(err, "%s: read error: %s", s->path, why);
        return melon_fail(err, "%s: gzip data is truncated or corrupt (%s)",
                          s->path, why);
    }
    return got;
}

static long bzip2_error(melon_source *s, int bzerr, melon_err *err) {
    if (bzerr == BZ_IO_ERROR)
        return melon_fail(err, "%s: read error: %s", s->path, strerror(errno));
    if (bzerr == BZ_MEM_ERROR)
        return melon_fail(err, "%s: out of memory decompressing bzip2 data", s->path);
    return melon_fail(err, "%s: bzip2 data is %s", s->path,
                      bzerr == BZ_UNEXPECTED_EOF ? "truncated" : "corrupt");
}

/* At the end of a bzip2 stream: the next one starts with the bytes libbz2
 * read past it, then the rest of the file. */
static int next_bzip2_stream(melon_source *s, melon_err *err) {
    void *unused;
    int n_unused, bzerr;
    char carry[BZ_MAX_UNUSED];
    BZ2_bzReadGetUnused(&bzerr, s->bz, &unused, &n_unused);
    if (bzerr != BZ_OK) return (int)bzip2_error(s, bzerr, err);
    memcpy(carry, unused, (size_t)n_unused);
    BZ2_bzReadClose(&bzerr, s->bz);
    s->bz = NULL;
    if (n_unused == 0) {
        int c = fgetc(s->file);
        if (c == EOF) {
            if (ferror(s->file)) return (int)bzip2_error(s, BZ_IO_ERROR, err);
            s->at_end = 1;
            return 0;
        }
        ungetc(c, s->file);
    }
    s->bz = BZ2_bzReadOpen(&bzerr, s->file, 0, 0, carry, n_unused);
    if (bzerr != BZ_OK) return (int)bzip2_error(s, bzerr, err);
    return 0;
}

static long read_bzip2(melon_source *s, char *buf, size_t cap, melon_err *err) {
    int want = cap > (size_t)1 << 30 ? 1 << 30 : (int)cap;
    while (!s->at_end) {
        int bzerr;
        int got = BZ2_bzRead(&bzerr, s->bz, buf, want);
        if (bzerr != BZ_OK && bzerr != BZ_STREAM_END) return bzip2_error(s, bzerr, err);
        if (bzerr == BZ_STREAM_END && next_bzip2_stream(s, err) != 0) return -1;
        if (got > 0) return got;
    }
    return 0;
}

static long read_xz(melon_source *s, char *buf, size_t cap, melon_err *err) {
    lzma_stream *z = &s->xz;
    z->next_out = (uint8_t *)buf;
    z->avail_out = cap;
    while (z->avail_out > 0 && !s->at_end) {
        if (z->avail_in == 0 && !s->input_done) {
            size_t got = fread(s->in, 1, COMPRESSED_CHUNK, s->file);
            if (got == 0 && ferror(s->file))
                return melon_fail(err, "%s: read error: %s", s->path, strerror(errno));
            s->input_done = got == 0;
            z->next_in = s->in;
            z->avail_in = got;
        }
        lzma_ret ret = lzma_code(z, s->input_done ? LZMA_FINISH : LZMA_RUN);
        if (ret == LZMA_STREAM_END) s->at_end = 1;
        else if (ret == LZMA_MEM_ERROR)
            return melon_fail(err, "%s: out of memory decompressing xz data", s->path);
        else if (ret != LZMA_OK)
            return melon_fail(err, "%s: xz data is %s", s->path,
                              ret == LZMA_BUF_ERROR ? "truncated" : "corrupt");
    }
    return (long)(cap - z->avail_out);
}

long melon_source_read(melon_source *s, char *buf, size_t cap, melon_err *err) {
    if (cap == 0) return 0;
    switch (s->kind) {
    case SOURCE_BZIP2: return read_bzip2(s, buf, cap, err);
    case SOURCE_XZ: return read_xz(s, buf, cap, err);
    case SOURCE_ZLIB: break;
    }
    return read_zlib(s, buf, cap, err);
}

void melon_source_close(melon_source *s) {
    if (!s) return;
    if (s->gz) gzclose(s->gz);
    if (s->bz) {
        int bzerr;
        BZ2_bzReadClose(&bzerr, s->bz);
    }
    if (s->kind == SOURCE_XZ) lzma_end(&s->xz);
    if (s->file) fclose(s->file);
    free(s->in);
    free(s);
}
