/* Installing a catalog dataset into the cache: find the cache directory,
 * download (libcurl) or take a local copy, extract the log from a zip or
 * gzip, check its size and SHA-256, and rename it into place. Work files live
 * beside the final file, so the rename is atomic and a failure leaves
 * nothing behind. */
#define _FILE_OFFSET_BITS 64
#include "fetch.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define PATH_CAP 4096
#define CHUNK (1 << 16)
#define TEMP_MARK ".melon-"              /* in every work file's name */
#define ABANDONED_AFTER_S (60 * 60)      /* work files untouched this long */
#define STALL_BYTES_PER_S 100L
#define PROGRESS_INTERVAL_S 0.25

void melon_fetch_options_default(melon_fetch_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->progress = -1;
    opt->connect_timeout_s = 20;
    opt->stall_timeout_s = 60;
}

/* ---- cache paths -------------------------------------------------------- */

static int join_path(char *out, size_t cap, melon_err *err, const char *a,
                     const char *b) {
    int n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        return melon_fail(err, "path too long: %s/%s", a, b);
    return 0;
}

int melon_cache_default_dir(char *dir, size_t cap, melon_err *err) {
    const char *melon_dir = getenv("MELON_CACHE_DIR");
    if (melon_dir && *melon_dir) {
        if (strlen(melon_dir) >= cap)
            return melon_fail(err, "MELON_CACHE_DIR is too long");
        strcpy(dir, melon_dir);
        return 0;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && *xdg == '/') return join_path(dir, cap, err, xdg, "melon");
    const char *home = getenv("HOME");
    if (home && *home) return join_path(dir, cap, err, home, ".cache/melon");
    return melon_fail(err, "no cache directory: set MELON_CACHE_DIR, "
                           "XDG_CACHE_HOME or HOME, or pass --cache-dir");
}

static int dataset_dir(const melon_dataset *ds, const char *cache_dir,
                       char *dir, size_t cap, melon_err *err) {
    char base[PATH_CAP];
    if (!cache_dir) {
        if (melon_cache_default_dir(base, sizeof base, err) != 0) return -1;
        cache_dir = base;
    }
    return join_path(dir, cap, err, cache_dir, ds->name);
}

int melon_dataset_cached_path(const melon_dataset *ds, const char *cache_dir,
                              char *path, size_t cap, melon_err *err) {
    char dir[PATH_CAP];
    if (dataset_dir(ds, cache_dir, dir, sizeof dir, err) != 0) return -1;
    return join_path(path, cap, err, dir, ds->file_name);
}

/* " --cache-dir DIR" when the cache is not the default one, for hints. */
static void cache_dir_hint(const char *cache_dir, char *hint, size_t cap) {
    if (cache_dir)
        snprintf(hint, cap, " --cache-dir %s", cache_dir);
    else if (cap)
        hint[0] = '\0';
}

int melon_dataset_resolve(const char *name, const char *cache_dir,
                          char *path, size_t cap, melon_err *err) {
    if (!name || strchr(name, '/')) return 0;
    const melon_dataset *ds = melon_catalog_find(name);
    if (!ds) return 0;
    if (melon_dataset_cached_path(ds, cache_dir, path, cap, err) != 0)
        return -1;
    char hint[PATH_CAP + 16];
    cache_dir_hint(cache_dir, hint, sizeof hint);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return melon_fail(err, "%s is not fetched; run: melon data fetch %s%s",
                          name, name, hint);
    if (ds->sha256 ? (uint64_t)st.st_size != ds->size : st.st_size == 0)
        return melon_fail(err, "%s: cached file %s has %lld bytes, expected "
                               "%llu; run: melon data fetch %s%s",
                          name, path, (long long)st.st_size,
                          (unsigned long long)ds->size, name, hint);
    return 1;
}

/* mkdir -p */
static int make_dirs(const char *dir, melon_err *err) {
    char partial[PATH_CAP];
    size_t len = strlen(dir);
    if (len >= sizeof partial) return melon_fail(err, "path too long: %s", dir);
    memcpy(partial, dir, len + 1);
    for (size_t k = 1; k <= len; k++) {
        if (partial[k] != '/' && partial[k] != '\0') continue;
        char saved = partial[k];
        partial[k] = '\0';
        struct stat st;
        if (mkdir(partial, 0777) != 0 && errno != EEXIST)
            return melon_fail(err, "cannot create directory %s: %s", partial,
                              strerror(errno));
        if (stat(partial, &st) != 0 || !S_ISDIR(st.st_mode))
            return melon_fail(err, "cannot create directory %s: a file is in "
                                   "the way", partial);
        partial[k] = saved;
    }
    return 0;
}

/* Removes work files that an interrupted fetch left behind: a live fetch
 * keeps writing to its files, so one untouched for an hour is abandoned. */
static void sweep_abandoned_work_files(const char *dir) {
    DIR *listing = opendir(dir);
    if (!listing) return;
    time_t now = time(NULL);
    struct dirent *entry;
    while ((entry = readdir(listing)) != NULL) {
        if (entry->d_name[0] != '.' || !strstr(entry->d_name, TEMP_MARK))
            continue;
        char path[PATH_CAP];
        struct stat st;
        if (join_path(path, sizeof path, NULL, dir, entry->d_name) == 0 &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime > ABANDONED_AFTER_S)
            unlink(path);
    }
    closedir(listing);
}

/* A work file DIR/.FILE_NAME.melon-ROLE-XXXXXX, created and opened. */
typedef struct {
    char path[PATH_CAP];
    FILE *file;
} work_file;

static int work_file_create(work_file *work, const char *dir,
                            const char *file_name, const char *role,
                            melon_err *err) {
    work->file = NULL;
    int n = snprintf(work->path, sizeof work->path, "%s/.%s" TEMP_MARK
                     "%s-XXXXXX", dir, file_name, role);
    if (n < 0 || (size_t)n >= sizeof work->path) {
        work->path[0] = '\0';
        return melon_fail(err, "path too long in %s", dir);
    }
    int fd = mkstemp(work->path);
    if (fd < 0) {
        int saved = errno;
        work->path[0] = '\0';
        return melon_fail(err, "cannot create a temporary file in %s: %s", dir,
                          strerror(saved));
    }
    work->file = fdopen(fd, "wb");
    if (!work->file) {
        melon_fail(err, "cannot open %s: %s", work->path, strerror(errno));
        close(fd);
        unlink(work->path);
        work->path[0] = '\0';
        return -1;
    }
    return 0;
}

/* Flushes the data to disk and closes the file (the path stays). */
static int work_file_finish(work_file *work, melon_err *err) {
    FILE *file = work->file;
    work->file = NULL;
    int failed = fflush(file) != 0 || fsync(fileno(file)) != 0;
    int saved = errno;
    if (fclose(file) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed)
        return melon_fail(err, "cannot write %s: %s", work->path,
                          strerror(saved));
    return 0;
}

/* Closes and deletes the work file, if any. */
static void work_file_discard(work_file *work) {
    if (work->file) fclose(work->file);
    work->file = NULL;
    if (work->path[0]) unlink(work->path);
    work->path[0] = '\0';
}

/* ---- downloading -------------------------------------------------------- */

typedef struct {
    FILE *file;
    int write_errno;        /* set when writing the download failed */
    const char *name;       /* dataset name, for the progress line */
    int show_progress;
    int progress_shown;
    double last_progress;   /* melon_now() of the last progress line */
    curl_off_t received;    /* bytes so far */
    curl_off_t expected;    /* Content-Length, 0 when unknown */
} download_state;

static size_t download_write(char *bytes, size_t size, size_t count,
                             void *user) {
    download_state *state = user;
    size_t len = size * count;
    errno = 0;
    if (fwrite(bytes, 1, len, state->file) != len) {
        state->write_errno = errno ? errno : EIO;
        return 0;
    }
    return len;
}

/* "\rml-100k: 1.2 of 4.7 MB (25%)" on stderr. */
static void print_progress(download_state *state) {
    double mb = 1.0 / (1024.0 * 1024.0);
    if (state->expected > 0)
        fprintf(stderr, "\r%s: %.1f of %.1f MB (%d%%)   ", state->name,
                (double)state->received * mb, (double)state->expected * mb,
                (int)(100.0 * (double)state->received /
                      (double)state->expected));
    else
        fprintf(stderr, "\r%s: %.1f MB   ", state->name,
                (double)state->received * mb);
    fflush(stderr);
    state->progress_shown = 1;
}

static int download_progress(void *user, curl_off_t total, curl_off_t now,
                             curl_off_t up_total, curl_off_t up_now) {
    download_state *state = user;
    state->received = now;
    state->expected = total;
    double t = melon_now();
    if (now > 0 && t - state->last_progress >= PROGRESS_INTERVAL_S) {
        state->last_progress = t;
        print_progress(state);
    }
    return 0;
}

static void configure_download(CURL *curl, const char *url,
                               download_state *state, char *curl_message,
                               const melon_fetch_options *opt) {
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_message);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS,
                     CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, opt->connect_timeout_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, STALL_BYTES_PER_S);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, opt->stall_timeout_s);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "melon/0.1");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, download_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, state);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, download_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, state);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, state->show_progress ? 0L : 1L);
}

static int show_progress(const melon_fetch_options *opt) {
    return opt->progress < 0 ? isatty(STDERR_FILENO) : opt->progress > 0;
}

/* Downloads url into the open work file. */
static int download(const melon_dataset *ds, const char *url, work_file *to,
                    const melon_fetch_options *opt, melon_err *err) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return melon_fail(err, "cannot initialise libcurl");
    CURL *curl = curl_easy_init();
    if (!curl) {
        curl_global_cleanup();
        return melon_fail(err, "cannot initialise libcurl");
    }
    char curl_message[CURL_ERROR_SIZE] = "";
    download_state state = {.file = to->file, .name = ds->name,
                            .show_progress = show_progress(opt)};
    configure_download(curl, url, &state, curl_message, opt);

    CURLcode code = curl_easy_perform(curl);
    if (state.progress_shown) {
        print_progress(&state); /* the final count */
        fputc('\n', stderr);
    }
    long http_status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
    const char *why = curl_message[0] ? curl_message : curl_easy_strerror(code);

    int status = 0;
    if (code == CURLE_OK) {
        status = 0;
    } else if (code == CURLE_HTTP_RETURNED_ERROR) {
        status = melon_fail(err, "%s: download failed: HTTP %ld from %s",
                            ds->name, http_status, url);
    } else if (code == CURLE_WRITE_ERROR && state.write_errno) {
        status = melon_fail(err, "cannot write %s: %s", to->path,
                            strerror(state.write_errno));
    } else if (code == CURLE_COULDNT_RESOLVE_HOST ||
               code == CURLE_COULDNT_RESOLVE_PROXY ||
               code == CURLE_COULDNT_CONNECT ||
               (code == CURLE_OPERATION_TIMEDOUT && http_status == 0)) {
        status = melon_fail(err, "%s: cannot reach %s: %s", ds->name, url, why);
    } else {
        status = melon_fail(err, "%s: download failed from %s: %s", ds->name,
                            url, why);
    }
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return status;
}

/* ---- extracting and verifying ------------------------------------------- */

typedef enum { SOURCE_PLAIN, SOURCE_GZIP, SOURCE_ZIP } source_kind;

static const char *source_kind_name(source_kind kind) {
    return kind == SOURCE_ZIP ? "a zip archive"
           : kind == SOURCE_GZIP ? "gzip data" : "a plain file";
}

/* Tells the three kinds apart by their first bytes. */
static int detect_source_kind(const char *path, source_kind *kind,
                              melon_err *err) {
    FILE *file = fopen(path, "rb");
    if (!file)
        return melon_fail(err, "cannot open %s: %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    size_t got = fread(magic, 1, sizeof magic, file);
    fclose(file);
    if (got == 4 && magic[0] == 'P' && magic[1] == 'K' &&
        ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6)))
        *kind = SOURCE_ZIP;
    else if (got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        *kind = SOURCE_GZIP;
    else
        *kind = SOURCE_PLAIN;
    return 0;
}

static int copy_plain(const char *source, const char *origin, FILE *out,
                      const char *out_name, melon_err *err) {
    FILE *in = fopen(source, "rb");
    if (!in)
        return melon_fail(err, "cannot open %s: %s", origin, strerror(errno));
    unsigned char buf[CHUNK];
    int status = 0;
    size_t got;
    while (status == 0 && (got = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, got, out) != got)
            status = melon_fail(err, "cannot write %s: %s", out_name,
                                strerror(errno));
    if (status == 0 && ferror(in))
        status = melon_fail(err, "cannot read %s: %s", origin,
                            strerror(errno));
    fclose(in);
    return status;
}

/* zlib reports a gzip stream cut short as a warning (Z_BUF_ERROR) after
 * the last bytes, and again from gzclose; both count as failures here. */
static int copy_gunzipped(const char *source, const char *origin, FILE *out,
                          const char *out_name, melon_err *err) {
    gzFile in = gzopen(source, "rb");
    if (!in)
        return melon_fail(err, "cannot open %s: %s", origin, strerror(errno));
    unsigned char buf[CHUNK];
    int status = 0, got;
    while (status == 0 && (got = gzread(in, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)got, out) != (size_t)got)
            status = melon_fail(err, "cannot write %s: %s", out_name,
                                strerror(errno));
    int zcode = Z_OK;
    const char *why = gzerror(in, &zcode);
    size_t source_len = strlen(source); /* zlib says "SOURCE: message" */
    if (strncmp(why, source, source_len) == 0 && why[source_len] == ':')
        why += source_len + 2;
    if (status == 0 && zcode != Z_OK)
        status = melon_fail(err, "%s: %s gzip data (%s)", origin,
                            zcode == Z_BUF_ERROR ? "truncated" : "corrupt",
                            zcode == Z_ERRNO ? strerror(errno) : why);
    int close_code = gzclose(in);
    if (status == 0 && close_code != Z_OK)
        status = melon_fail(err, "%s: truncated or corrupt gzip data", origin);
    return status;
}

static int unzip_member(const melon_dataset *ds, const char *source,
                        const char *origin, FILE *out, const char *out_name,
                        melon_err *err) {
    FILE *archive = fopen(source, "rb");
    if (!archive)
        return melon_fail(err, "cannot open %s: %s", origin, strerror(errno));
    const char *member = ds->member ? ds->member : ds->file_name;
    int status = melon_zip_extract_from(archive, origin, member, out,
                                        out_name, err);
    fclose(archive);
    return status;
}

/* Writes the dataset's file, taken from source, into the work file;
 * messages call the source origin (the URL or the --from file). */
static int unpack_source(const melon_dataset *ds, const char *source,
                         const char *origin, source_kind kind, work_file *out,
                         melon_err *err) {
    switch (kind) {
    case SOURCE_ZIP:
        return unzip_member(ds, source, origin, out->file, out->path, err);
    case SOURCE_GZIP:
        return copy_gunzipped(source, origin, out->file, out->path, err);
    case SOURCE_PLAIN:
        return copy_plain(source, origin, out->file, out->path, err);
    }
    return melon_fail(err, "unknown source kind");
}

/* The download (or --from file) against the publisher's MD5 of it. */
static int check_archive_md5(const melon_dataset *ds, const char *source,
                             const char *origin, melon_err *err) {
    char actual[MELON_MD5_HEX];
    if (melon_md5_file(source, actual, err) != 0) return -1;
    if (strcmp(actual, ds->archive_md5) == 0) return 0;
    return melon_fail(err, "%s: the download does not match the publisher's "
                           "MD5: expected %s, got %s (from %s)",
                      ds->name, ds->archive_md5, actual, origin);
}

/* Checks size and SHA-256; origin says where the bytes came from. With no
 * known checksum, warns and shows the SHA-256 of what is there (unless the
 * download matched the publisher's MD5: then it only notes the SHA-256). */
static int verify_file(const melon_dataset *ds, const char *path,
                       const char *origin, melon_err *err) {
    char actual[MELON_SHA256_HEX];
    uint64_t bytes = 0;
    if (melon_sha256_file(path, actual, &bytes, err) != 0) return -1;
    if (!ds->sha256) {
        if (bytes == 0)
            return melon_fail(err, "%s: the file is empty (from %s)",
                              ds->name, origin);
        if (ds->archive_md5)
            fprintf(stderr, "melon: %s: the download matched the publisher's "
                            "MD5 %s; the installed file has %llu bytes, "
                            "SHA-256 %s\n",
                    ds->name, ds->archive_md5, (unsigned long long)bytes, actual);
        else
            fprintf(stderr, "melon: warning: %s: no checksum is known for "
                            "this dataset, so it is NOT verified: %llu bytes, "
                            "SHA-256 %s (from %s)\n",
                    ds->name, (unsigned long long)bytes, actual, origin);
        return 0;
    }
    if (bytes == ds->size && strcmp(actual, ds->sha256) == 0) return 0;
    return melon_fail(err, "%s: checksum mismatch: expected %s, got %s "
                           "(%llu bytes, expected %llu; from %s)",
                      ds->name, ds->sha256, actual, (unsigned long long)bytes,
                      (unsigned long long)ds->size, origin);
}

static void sync_directory(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

/* ---- the whole fetch ---------------------------------------------------- */

/* A cached copy that verifies is kept (*verified = 1); one that does not is
 * deleted, so a failed fetch never leaves a bad file at the final path. */
static int check_cached_copy(const melon_dataset *ds, const char *path,
                             int *verified, melon_err *err) {
    *verified = 0;
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (!ds->sha256 && S_ISREG(st.st_mode) && st.st_size > 0) {
        *verified = 1; /* nothing to check it against */
        return 0;
    }
    melon_err why;
    if (S_ISREG(st.st_mode) && verify_file(ds, path, path, &why) == 0) {
        *verified = 1;
        return 0;
    }
    fprintf(stderr, "melon: note: %s: the cached copy %s does not verify; "
                    "fetching it again\n", ds->name, path);
    if (unlink(path) != 0)
        return melon_fail(err, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* Puts a verified copy at final_path: the download (or the --from file) is
 * unpacked into a work file, which is checked and then renamed. */
static int install(const melon_dataset *ds, const melon_fetch_options *opt,
                   const char *dir, const char *final_path, melon_err *err) {
    const char *url = opt->url ? opt->url : ds->url;
    const char *origin = opt->from_file ? opt->from_file : url;
    const char *source = opt->from_file;
    source_kind kind = SOURCE_PLAIN;
    char described[PATH_CAP + 64];
    work_file download_file = {.path = ""}, result = {.path = ""};
    int status = -1;

    if (work_file_create(&result, dir, ds->file_name, "partial", err) != 0)
        goto done;
    if (!source) {
        if (work_file_create(&download_file, dir, ds->file_name, "download",
                             err) != 0 ||
            download(ds, url, &download_file, opt, err) != 0 ||
            work_file_finish(&download_file, err) != 0)
            goto done;
        source = download_file.path;
    }

    if (ds->archive_md5 && check_archive_md5(ds, source, origin, err) != 0)
        goto done;
    if (detect_source_kind(source, &kind, err) != 0) goto done;
    if (unpack_source(ds, source, origin, kind, &result, err) != 0)
        goto done;
    work_file_discard(&download_file); /* free its space early */
    snprintf(described, sizeof described, "%s, read as %s", origin,
             source_kind_name(kind));
    if (work_file_finish(&result, err) != 0 ||
        verify_file(ds, result.path, described, err) != 0)
        goto done;
    if (chmod(result.path, 0644) != 0 || rename(result.path, final_path) != 0) {
        melon_fail(err, "cannot install %s: %s", final_path, strerror(errno));
        goto done;
    }
    result.path[0] = '\0';
    sync_directory(dir);
    status = 0;
done:
    work_file_discard(&download_file);
    work_file_discard(&result);
    return status;
}

/* Makes the message start with "NAME: ", as the header promises. */
static int fail_for_dataset(const melon_dataset *ds, melon_err *err) {
    if (!err) return -1;
    size_t len = strlen(ds->name);
    if (strncmp(err->msg, ds->name, len) == 0 && err->msg[len] == ':')
        return -1;
    melon_err plain = *err;
    return melon_fail(err, "%s: %s", ds->name, plain.msg);
}

int melon_dataset_fetch(const melon_dataset *ds,
                        const melon_fetch_options *opt, char *path,
                        size_t cap, int *was_cached, melon_err *err) {
    melon_fetch_options defaults;
    if (!opt) {
        melon_fetch_options_default(&defaults);
        opt = &defaults;
    }
    if (was_cached) *was_cached = 0;
    char dir[PATH_CAP], final_path[PATH_CAP];
    if (dataset_dir(ds, opt->cache_dir, dir, sizeof dir, err) != 0 ||
        join_path(final_path, sizeof final_path, err, dir, ds->file_name) != 0)
        return fail_for_dataset(ds, err);
    if (strlen(final_path) >= cap) {
        melon_fail(err, "path too long: %s", final_path);
        return fail_for_dataset(ds, err);
    }

    int verified;
    if (check_cached_copy(ds, final_path, &verified, err) != 0)
        return fail_for_dataset(ds, err);
    if (verified && !opt->force) {
        strcpy(path, final_path);
        if (was_cached) *was_cached = 1;
        return 0;
    }
    if (make_dirs(dir, err) != 0) return fail_for_dataset(ds, err);
    sweep_abandoned_work_files(dir);
    if (install(ds, opt, dir, final_path, err) != 0) {
        rmdir(dir); /* fails, harmlessly, unless it is empty */
        return fail_for_dataset(ds, err);
    }
    strcpy(path, final_path);
    return 0;
}
