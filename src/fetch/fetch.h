/* Public datasets by name: the catalog of known datasets, the local cache,
 * downloading and installing a dataset's file, and the building blocks they
 * use (SHA-256 of a file, extracting one member of a zip archive). */
#ifndef MELON_FETCH_H
#define MELON_FETCH_H

#include "melon/common.h"

#include <stdint.h>
#include <stdio.h>

/* ---- the catalog -------------------------------------------------------- */

/* One known dataset: where the publisher serves it, which file of the
 * download is the interaction log, and how to check it. A dataset is
 * installed as CACHE/name/file_name. */
typedef struct {
    const char *name;       /* what users type, e.g. "ml-100k" (no '/') */
    const char *title;      /* one line: what it is */
    const char *url;        /* the publisher's download address */
    /* Path of the log inside the publisher's zip archive, or NULL when the
     * download is the log itself (plain or gzip-compressed). */
    const char *member;
    const char *file_name;  /* installed name, e.g. "u.data" */
    /* SHA-256 (lowercase hex) and size in bytes of the installed file; NULL
     * and 0 when no checksum is known for certain: the dataset is then
     * "unverified", and fetching it warns and prints the SHA-256 of what
     * was installed instead of checking it. */
    const char *sha256;
    uint64_t size;
    /* MD5 (lowercase hex) that the publisher gives for the download itself
     * (e.g. GroupLens's ml-1m.zip.md5), or NULL. When set, a download or a
     * --from file that does not match it is refused before unpacking. */
    const char *archive_md5;
    const char *format;     /* layout of the file, for people */
    const char *columns;    /* value for melon_load_options.columns */
    const char *licence;    /* the terms in one line */
    const char *terms;      /* the terms in a few sentences, shown on fetch */
} melon_dataset;

size_t melon_catalog_count(void);
/* The index-th entry, 0 <= index < melon_catalog_count(). */
const melon_dataset *melon_catalog_entry(size_t index);
/* The entry called name, or NULL. */
const melon_dataset *melon_catalog_find(const char *name);
/* "ml-100k, ..." in catalog order, for messages; truncated to cap. */
void melon_catalog_names(char *out, size_t cap);

/* ---- the cache ---------------------------------------------------------- */

/* The default cache directory: $MELON_CACHE_DIR if set, else
 * $XDG_CACHE_HOME/melon (when absolute), else $HOME/.cache/melon. Not
 * created here; melon_dataset_fetch creates what it needs. */
int melon_cache_default_dir(char *dir, size_t cap, melon_err *err);

/* CACHE/name/file_name, with cache_dir NULL meaning the default. */
int melon_dataset_cached_path(const melon_dataset *ds, const char *cache_dir,
                              char *path, size_t cap, melon_err *err);

/* For the runner's --data argument. Returns 1 and fills path when name is a
 * catalog name whose file is cached (only its size is checked, to stay
 * fast; for an unverified dataset, that it is not empty); -1 with "NAME is not fetched; run: melon data fetch NAME" when it
 * is a catalog name that is not cached (or has the wrong size); 0 when name
 * is not a catalog name, so the caller treats it as a file path (a path
 * containing '/' is never a catalog name). cache_dir NULL = default. */
int melon_dataset_resolve(const char *name, const char *cache_dir,
                          char *path, size_t cap, melon_err *err);

/* The file layout of a catalog dataset ("TSV user,item,rating,time, no
 * header"), or NULL when name is not a catalog name. */
const char *melon_dataset_format_hint(const char *name);

/* ---- fetching ----------------------------------------------------------- */

typedef struct {
    const char *cache_dir;   /* NULL: melon_cache_default_dir() */
    const char *url;         /* NULL: the catalog address */
    const char *from_file;   /* install from this local copy (the zip, the
                                plain file or a gzip of it); NULL: download */
    int force;               /* 1: install again even if a verified copy is
                                cached (0) */
    int progress;            /* -1: a progress line when stderr is a
                                terminal (default), 0: never, 1: always */
    long connect_timeout_s;  /* 20 */
    long stall_timeout_s;    /* abort when under 100 bytes/s this long: 60 */
} melon_fetch_options;

void melon_fetch_options_default(melon_fetch_options *opt);

/* Makes a verified copy of ds available in the cache and writes its path.
 * When a copy is cached and its SHA-256 verifies (and !force), nothing is
 * downloaded and *was_cached is set to 1. An unverified dataset (no known
 * SHA-256) counts as cached when its file is there and not empty; when it
 * is installed, a warning on stderr gives the SHA-256 that was computed. Otherwise the file is downloaded
 * (or read from opt->from_file) into a temporary file in the cache, the
 * member extracted, its size and SHA-256 checked, and only then renamed into
 * place. On failure no temporary is left and nothing is at the final path
 * (a cached copy that fails its checksum is removed first). The message
 * starts with the dataset name, e.g. "ml-100k: download failed: HTTP 404
 * from URL". was_cached may be NULL. */
int melon_dataset_fetch(const melon_dataset *ds,
                        const melon_fetch_options *opt, char *path,
                        size_t cap, int *was_cached, melon_err *err);

/* ---- building blocks ---------------------------------------------------- */

#define MELON_SHA256_HEX 65 /* 64 hex digits and a NUL */
#define MELON_MD5_HEX 33    /* 32 hex digits and a NUL */

/* SHA-256 of a memory block, as lowercase hex. */
int melon_sha256_bytes(const void *data, size_t len,
                       char hex[MELON_SHA256_HEX], melon_err *err);
/* SHA-256 of a whole file, as lowercase hex; *bytes (may be NULL) gets the
 * file's length. */
int melon_sha256_file(const char *path, char hex[MELON_SHA256_HEX],
                      uint64_t *bytes, melon_err *err);
/* MD5 of a memory block and of a whole file, as lowercase hex (to check a
 * publisher's MD5; SHA-256 is what melon itself records). */
int melon_md5_bytes(const void *data, size_t len, char hex[MELON_MD5_HEX],
                    melon_err *err);
int melon_md5_file(const char *path, char hex[MELON_MD5_HEX], melon_err *err);

/* Extracts the member called member (exact path inside the archive) of the
 * zip archive at zip_path into out, from its current position. Stored and
 * deflate members are supported, Zip64 included; the CRC-32 and the size are
 * checked against the central directory. Messages name the archive and the
 * member; out_name names out in write errors. */
int melon_zip_extract(const char *zip_path, const char *member, FILE *out,
                      const char *out_name, melon_err *err);
/* The same for an archive already open for reading (binary); messages call
 * it archive_name. */
int melon_zip_extract_from(FILE *archive, const char *archive_name,
                           const char *member, FILE *out,
                           const char *out_name, melon_err *err);

#endif
