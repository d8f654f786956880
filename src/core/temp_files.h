/* The temporary files of this process: hidden names beside their targets,
 * remembered so that a signal handler can remove them.
 *
 * A temporary for FOLDER/NAME is FOLDER/.NAME.melon-PID-XXXXXX (PID this
 * process, XXXXXX random). A program calls melon_temp_files_on_signals()
 * once; SIGINT, SIGTERM, SIGHUP and SIGPIPE then remove every temporary
 * before the process ends as the signal says. A process killed outright
 * (SIGKILL) leaves its temporaries, hidden; melon_temp_files_remove_stale()
 * removes those of processes that no longer exist from a folder. */
#ifndef MELON_TEMP_FILES_H
#define MELON_TEMP_FILES_H

#include "melon/common.h"

#include <stddef.h>

/* Creates the temporary for `target`, writes its path into temp (cap
 * bytes) and returns its open descriptor, or -1 with err. */
int melon_temp_create(const char *target, char *temp, size_t cap,
                      melon_err *err);
/* Remembers a temporary that another writer will create at `temp` (a name
 * made from one of melon_temp_create's); 0, or -1 when the table is full. */
int melon_temp_register(const char *temp);
/* The temporary is gone (renamed into place or removed): forget it. */
void melon_temp_forget(const char *temp);
/* Removes every temporary of this process (async-signal-safe). */
void melon_temp_remove_all(void);
/* Installs the handler of SIGINT, SIGTERM, SIGHUP and SIGPIPE. */
void melon_temp_files_on_signals(void);
/* While held, those signals wait (renaming a set of files into place);
 * released, a signal that came meanwhile takes effect. */
void melon_temp_signals_hold(void);
void melon_temp_signals_release(void);
/* Removes from `folder` the temporaries of processes that have ended. */
void melon_temp_remove_stale(const char *folder);

#endif
