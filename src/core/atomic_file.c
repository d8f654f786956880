#include "melon/atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int melon_atomic_open(melon_atomic_file *af, const char *path, melon_err *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return melon_fail(err, "%s: path too long", path);
    strcpy(af->path, path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0)
        return melon_fail(err, "%s: cannot create: %s", path, strerror(errno));
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask); /* mkstemp creates 0600; results are shared */
    af->f = fdopen(fd, "w");
    if (!af->f) {
        close(fd);
        unlink(af->tmp_path);
        return melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    return 0;
}

int melon_file_write_error(FILE *f) {
    errno = 0;
    if (fflush(f) == 0 && !ferror(f)) return 0;
    return errno ? errno : EIO;
}

int melon_atomic_commit(melon_atomic_file *af, melon_err *err) {
    int why = melon_file_write_error(af->f);
    if (!why && fsync(fileno(af->f)) != 0) why = errno;
    if (fclose(af->f) != 0 && !why) why = errno;
    af->f = NULL;
    if (why) {
        unlink(af->tmp_path);
        af->tmp_path[0] = 0;
        return melon_fail(err, "%s: write failed: %s", af->path, strerror(why));
    }
    if (rename(af->tmp_path, af->path) != 0) {
        int e = errno;
        unlink(af->tmp_path);
        af->tmp_path[0] = 0;
        return melon_fail(err, "%s: cannot rename into place: %s", af->path,
                          strerror(e));
    }
    af->tmp_path[0] = 0;
    return 0;
}

void melon_atomic_abort(melon_atomic_file *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp_path[0]) unlink(af->tmp_path);
}
