/* The output files of a run: checked before any work, written all
 * together or not at all.
 *
 * melon_outputs_add checks an output before the run starts: its folder
 * exists and takes a new file, the path is not a folder or a device, and no
 * other output is the same file. It reserves the output's temporary beside
 * it (temp_files.h); the run writes the output there. melon_outputs_refuse_
 * inputs refuses an output that is one of the run's input files, also
 * through a symbolic or hard link (same device and inode), or that lies in
 * an input folder. melon_outputs_commit renames every temporary into place
 * at the end, with the signals that stop a run held; an output the run did
 * not write, or any failure, removes them all and leaves no output. */
#ifndef MELON_OUTPUT_FILES_H
#define MELON_OUTPUT_FILES_H

#include "melon/common.h"

#define MELON_MAX_OUTPUTS 8

typedef struct {
    const char *option;  /* "--out": how messages name the output */
    char path[4096];     /* where it goes */
    char temp[4352];     /* where the run writes it */
} melon_output;

typedef struct {
    melon_output item[MELON_MAX_OUTPUTS];
    int n;
} melon_outputs;

void melon_outputs_init(melon_outputs *o);
/* Checks `path` and reserves its temporary, whose path it returns (owned
 * by o), or NULL with err. Removes the temporaries that ended processes
 * left in its folder. */
const char *melon_outputs_add(melon_outputs *o, const char *option,
                              const char *path, melon_err *err);
/* An output that the run writes beside another one's temporary, at
 * `temp` (a name made from that temporary's); checked as above. */
int melon_outputs_add_derived(melon_outputs *o, const char *option,
                              const char *path, const char *temp,
                              melon_err *err);
/* Refuses an output that is one of the inputs (files or folders). */
int melon_outputs_refuse_inputs(const melon_outputs *o,
                                const char *const *inputs, int n_inputs,
                                melon_err *err);
/* Renames every output into place; on failure removes them all. */
int melon_outputs_commit(melon_outputs *o, melon_err *err);
/* Writes each output's own path where a message names its temporary. */
void melon_outputs_name_in_message(const melon_outputs *o, char *msg,
                                   size_t cap);
/* Removes every temporary. */
void melon_outputs_abort(melon_outputs *o);

#endif
