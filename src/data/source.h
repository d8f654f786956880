/* The bytes of an input file, decompressed: plain and gzip through zlib,
 * bzip2 through libbz2, xz through liblzma. The kind is recognised by the
 * file's magic bytes, never by its name; archives and compressors melon does
 * not read (zip, zstd, 7z, lz4) are named in the error. */
#ifndef MELON_DATA_SOURCE_H
#define MELON_DATA_SOURCE_H

#include "melon/common.h"

#include <stddef.h>

typedef struct melon_source melon_source;

/* Opens the file at path (borrowed, for messages); NULL after a message. */
melon_source *melon_source_open(const char *path, melon_err *err);
/* Reads up to cap decompressed bytes into buf: the count, 0 at the end,
 * -1 on a read error or corrupt compressed data. */
long melon_source_read(melon_source *s, char *buf, size_t cap, melon_err *err);
void melon_source_close(melon_source *s);

#endif
