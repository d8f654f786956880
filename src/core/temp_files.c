#include "core/temp_files.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The registry a signal handler reads: a fixed table, a slot in use once
 * its path is complete. It is the one process-wide state here, as signal
 * handling needs. */
enum { SLOTS = 64, PATH_CAP = 4352 };
static char slot_path[SLOTS][PATH_CAP];
static atomic_int slot_used[SLOTS];
static atomic_int holding;       /* renames in progress */
static atomic_int held_signal;   /* a signal that came while holding */

static const int handled[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static int folder_and_name(const char *target, char *folder, size_t cap,
                           const char **name) {
    const char *slash = strrchr(target, '/');
    *name = slash ? slash + 1 : target;
    size_t len = slash ? (size_t)(slash - target) : 1;
    if (slash == target) len = 1; /* "/name" */
    if (len + 1 > cap) return -1;
    memcpy(folder, slash ? target : ".", len);
    folder[len] = 0;
    return 0;
}

int melon_temp_create(const char *target, char *temp, size_t cap,
                      melon_err *err) {
    char folder[4096];
    const char *name;
    if (folder_and_name(target, folder, sizeof folder, &name) != 0 || !*name)
        return melon_fail(err, "%s: not a file name", target);
    /* keep the name's end within NAME_MAX */
    size_t len = strlen(name);
    if (len > 200) name += len - 200;
    int slot = -1;
    for (int s = 0; s < SLOTS && slot < 0; s++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&slot_used[s], &expected, -1)) slot = s;
    }
    char *path = slot >= 0 ? slot_path[slot] : temp;
    size_t path_cap = slot >= 0 ? PATH_CAP : cap;
    int n = snprintf(path, path_cap, "%s/.%s.melon-%ld-XXXXXX", folder, name,
                     (long)getpid());
    if (n < 0 || (size_t)n >= path_cap || (size_t)n >= cap) {
        if (slot >= 0) atomic_store(&slot_used[slot], 0);
        return melon_fail(err, "%s: path too long", target);
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        int e = errno;
        if (slot >= 0) atomic_store(&slot_used[slot], 0);
        return melon_fail(err, "%s: cannot create a file in %s: %s", target,
                          folder, strerror(e));
    }
    if (slot >= 0) {
        memcpy(temp, path, (size_t)n + 1);
        atomic_store(&slot_used[slot], 1);
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask); /* mkstemp creates 0600; results are shared */
    return fd;
}

int melon_temp_register(const char *temp) {
    if (strlen(temp) >= PATH_CAP) return -1;
    for (int s = 0; s < SLOTS; s++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&slot_used[s], &expected, -1)) {
            strcpy(slot_path[s], temp);
            atomic_store(&slot_used[s], 1);
            return 0;
        }
    }
    return -1;
}

void melon_temp_forget(const char *temp) {
    for (int s = 0; s < SLOTS; s++)
        if (atomic_load(&slot_used[s]) == 1 && strcmp(slot_path[s], temp) == 0) {
            atomic_store(&slot_used[s], 0);
            return;
        }
}

void melon_temp_remove_all(void) {
    for (int s = 0; s < SLOTS; s++)
        if (atomic_load(&slot_used[s]) == 1) unlink(slot_path[s]);
}

static void on_signal(int sig) {
    if (atomic_load(&holding)) {
        atomic_store(&held_signal, sig);
        return;
    }
    melon_temp_remove_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

void melon_temp_files_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < sizeof handled / sizeof handled[0]; k++) {
        struct sigaction old;
        /* a signal the caller ignores (nohup) stays ignored */
        if (sigaction(handled[k], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(handled[k], &sa, NULL);
    }
}

void melon_temp_signals_hold(void) { atomic_store(&holding, 1); }

void melon_temp_signals_release(void) {
    atomic_store(&holding, 0);
    int sig = atomic_exchange(&held_signal, 0);
    if (sig) on_signal(sig);
}

/* ".NAME.melon-PID-XXXXXX" (and names made from it): the PID, or 0. */
static long temp_owner(const char *entry) {
    if (entry[0] != '.') return 0;
    const char *tag = strstr(entry + 1, ".melon-");
    if (!tag) return 0;
    char *end;
    long pid = strtol(tag + 7, &end, 10);
    if (end == tag + 7 || *end != '-' || strlen(end + 1) < 6 || pid <= 0) return 0;
    return pid;
}

void melon_temp_remove_stale(const char *folder) {
    DIR *dir = opendir(folder);
    if (!dir) return;
    struct dirent *e;
    char path[PATH_CAP];
    while ((e = readdir(dir))) {
        long pid = temp_owner(e->d_name);
        if (pid == 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive */
        if (snprintf(path, sizeof path, "%s/%s", folder, e->d_name) <
            (int)sizeof path)
            unlink(path);
    }
    closedir(dir);
}
