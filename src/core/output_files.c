#include "core/output_files.h"
#include "core/temp_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void melon_outputs_init(melon_outputs *o) { memset(o, 0, sizeof *o); }

/* The folder part of a path ("." for a bare name). */
static void folder_of(const char *path, char *folder, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(folder, cap, ".");
    else if (slash == path)
        snprintf(folder, cap, "/");
    else
        snprintf(folder, cap, "%.*s", (int)(slash - path), path);
}

static const char *name_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int same_inode(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* 1 when a and b name one file: the same name in the same folder, or
 * existing files with the same device and inode. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return same_inode(&sa, &sb);
    char fa[4096], fb[4096];
    folder_of(a, fa, sizeof fa);
    folder_of(b, fb, sizeof fb);
    return strcmp(name_of(a), name_of(b)) == 0 && stat(fa, &sa) == 0 &&
           stat(fb, &sb) == 0 && same_inode(&sa, &sb);
}

/* Checks an output's path against folders, devices and the outputs
 * before it; 0, or -1 with err. */
static int check_path(const melon_outputs *o, const char *option,
                      const char *path, melon_err *err) {
    if (o->n == MELON_MAX_OUTPUTS)
        return melon_fail(err, "%s: more than %d outputs", option,
                          MELON_MAX_OUTPUTS);
    if (!path[0] || strlen(path) >= sizeof o->item[0].path || !name_of(path)[0])
        return melon_fail(err, "%s '%s': not a file name", option, path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return melon_fail(err, "%s %s: is a folder", option, path);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return melon_fail(err, "%s %s: exists and is not a regular file", option,
                          path);
    for (int k = 0; k < o->n; k++)
        if (same_file(o->item[k].path, path))
            return melon_fail(err, "%s %s and %s %s are the same file",
                              o->item[k].option, o->item[k].path, option, path);
    return 0;
}

const char *melon_outputs_add(melon_outputs *o, const char *option,
                              const char *path, melon_err *err) {
    if (check_path(o, option, path, err) != 0) return NULL;
    melon_output *out = &o->item[o->n];
    char folder[4096];
    folder_of(path, folder, sizeof folder);
    melon_temp_remove_stale(folder);
    melon_err why;
    int fd = melon_temp_create(path, out->temp, sizeof out->temp, &why);
    if (fd < 0) {
        melon_fail(err, "%s %s", option, why.msg);
        return NULL;
    }
    close(fd);
    strcpy(out->path, path);
    out->option = option;
    o->n++;
    return out->temp;
}

int melon_outputs_add_derived(melon_outputs *o, const char *option,
                              const char *path, const char *temp,
                              melon_err *err) {
    if (check_path(o, option, path, err) != 0) return -1;
    melon_output *out = &o->item[o->n];
    if (strlen(temp) >= sizeof out->temp || melon_temp_register(temp) != 0)
        return melon_fail(err, "%s %s: too many temporary files", option, path);
    strcpy(out->temp, temp);
    strcpy(out->path, path);
    out->option = option;
    o->n++;
    return 0;
}

/* An output that is the input file `input` (st) or lies in the input
 * folder. */
static int refuse_one(const melon_output *out, const char *input,
                      const struct stat *in, melon_err *err) {
    struct stat st;
    if (stat(out->path, &st) == 0 && same_inode(&st, in))
        return melon_fail(err, "%s %s: is the input file %s", out->option,
                          out->path, input);
    char folder[4096];
    folder_of(out->path, folder, sizeof folder);
    if (S_ISDIR(in->st_mode) && stat(folder, &st) == 0 && same_inode(&st, in))
        return melon_fail(err, "%s %s: lies in the input folder %s (its files "
                               "are read as data)", out->option, out->path, input);
    return 0;
}

int melon_outputs_refuse_inputs(const melon_outputs *o,
                                const char *const *inputs, int n_inputs,
                                melon_err *err) {
    for (int i = 0; i < n_inputs; i++) {
        struct stat in;
        if (stat(inputs[i], &in) != 0) continue; /* the loader names it */
        for (int k = 0; k < o->n; k++)
            if (refuse_one(&o->item[k], inputs[i], &in, err) != 0) return -1;
        if (!S_ISDIR(in.st_mode)) continue;
        /* the files of an input folder, as links from elsewhere too */
        DIR *dir = opendir(inputs[i]);
        struct dirent *e;
        char path[4352];
        while (dir && (e = readdir(dir))) {
            if (e->d_name[0] == '.' ||
                snprintf(path, sizeof path, "%s/%s", inputs[i], e->d_name) >=
                    (int)sizeof path ||
                stat(path, &in) != 0 || S_ISDIR(in.st_mode))
                continue;
            for (int k = 0; k < o->n; k++)
                if (refuse_one(&o->item[k], path, &in, err) != 0) {
                    closedir(dir);
                    return -1;
                }
        }
        if (dir) closedir(dir);
    }
    return 0;
}

void melon_outputs_name_in_message(const melon_outputs *o, char *msg,
                                   size_t cap) {
    for (int k = 0; k < o->n; k++) {
        const melon_output *out = &o->item[k];
        char *at = strstr(msg, out->temp);
        if (!at) continue;
        char rest[MELON_ERR_MSG];
        snprintf(rest, sizeof rest, "%s", at + strlen(out->temp));
        snprintf(at, cap - (size_t)(at - msg), "%s%s", out->path, rest);
    }
}

void melon_outputs_abort(melon_outputs *o) {
    for (int k = 0; k < o->n; k++) {
        unlink(o->item[k].temp);
        melon_temp_forget(o->item[k].temp);
    }
    o->n = 0;
}

/* The temporary holds what the run wrote, on disk; else the reason. */
static int check_written(const melon_output *out, melon_err *err) {
    struct stat st;
    if (stat(out->temp, &st) != 0 || st.st_size == 0)
        return melon_fail(err, "%s %s: the run wrote nothing there", out->option,
                          out->path);
    int fd = open(out->temp, O_RDONLY);
    int e = fd < 0 ? errno : fsync(fd) != 0 ? errno : 0;
    if (fd >= 0) close(fd);
    if (e)
        return melon_fail(err, "%s %s: write failed: %s", out->option, out->path,
                          strerror(e));
    return 0;
}

int melon_outputs_commit(melon_outputs *o, melon_err *err) {
    for (int k = 0; k < o->n; k++)
        if (check_written(&o->item[k], err) != 0) {
            melon_outputs_abort(o);
            return -1;
        }
    melon_temp_signals_hold();
    for (int k = 0; k < o->n; k++) {
        if (rename(o->item[k].temp, o->item[k].path) == 0) continue;
        melon_fail(err, "%s %s: cannot rename into place: %s", o->item[k].option,
                   o->item[k].path, strerror(errno));
        for (int j = 0; j < k; j++) unlink(o->item[j].path); /* none, not some */
        for (int j = k; j < o->n; j++) unlink(o->item[j].temp);
        for (int j = 0; j < o->n; j++) melon_temp_forget(o->item[j].temp);
        o->n = 0;
        melon_temp_signals_release();
        return -1;
    }
    for (int k = 0; k < o->n; k++) melon_temp_forget(o->item[k].temp);
    melon_temp_signals_release();
    /* the new names on disk too */
    for (int k = 0; k < o->n; k++) {
        char folder[4096];
        folder_of(o->item[k].path, folder, sizeof folder);
        int fd = open(folder, O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
    }
    o->n = 0;
    return 0;
}
