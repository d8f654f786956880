#include "core/atomic_file.h"
#include "core/temp_files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int melon_atomic_open(melon_atomic_file *af, const char *path, melon_err *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return melon_fail(err, "%s: path too long", path);
    strcpy(af->path, path);
    int fd = melon_temp_create(path, af->tmp_path, sizeof af->tmp_path, err);
    if (fd < 0) {
        af->tmp_path[0] = 0;
        return -1;
    }
    af->f = fdopen(fd, "w");
    if (!af->f) {
        int e = errno;
        close(fd);
        melon_atomic_abort(af);
        return melon_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    return 0;
}

int melon_file_write_error(FILE *f) {
    errno = 0;
    if (fflush(f) == 0 && !ferror(f)) return 0;
    return errno ? errno : EIO;
}

int melon_atomic_commit(melon_atomic_file *af, melon_err *err) {
    int e = melon_file_write_error(af->f);
    if (!e && fsync(fileno(af->f)) != 0) e = errno;
    if (fclose(af->f) != 0 && !e) e = errno;
    af->f = NULL;
    if (e) {
        melon_atomic_abort(af);
        return melon_fail(err, "%s: write failed: %s", af->path, strerror(e));
    }
    if (rename(af->tmp_path, af->path) != 0) {
        e = errno;
        melon_atomic_abort(af);
        return melon_fail(err, "%s: cannot rename into place: %s", af->path,
                          strerror(e));
    }
    melon_temp_forget(af->tmp_path);
    af->tmp_path[0] = 0;
    return 0;
}

void melon_atomic_abort(melon_atomic_file *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp_path[0]) {
        unlink(af->tmp_path);
        melon_temp_forget(af->tmp_path);
    }
    af->tmp_path[0] = 0;
}
