/* Reading a JSON file (a result file, the settings of a run) whole. */
#ifndef MELON_JSON_FILE_H
#define MELON_JSON_FILE_H

#include <cJSON.h>

/* The file's bytes as a malloc'ed NUL-terminated string, or NULL. */
char *json_file_text(const char *path);
/* The parsed file (cJSON_Delete it), or NULL when unreadable or not JSON. */
cJSON *json_file_read(const char *path);

#endif
