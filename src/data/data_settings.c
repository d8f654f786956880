/* The settings table of a run's data (protocol.md section 1). */
#include "melon/stream.h"

#include <stdio.h>
#include <string.h>

#define AT(field) offsetof(melon_data_config, field)

static const melon_setting settings[] = {
    {.name = "data", .type = MELON_SETTING_STRING, .offset = AT(files),
     .metavar = "FILE[,FILE...]|NAME",
     .help = "interaction file(s), concatenated, or a fetched dataset name"},
    {.name = "name", .type = MELON_SETTING_STRING, .offset = AT(name),
     .metavar = "NAME",
     .help = "dataset name in the results (default: the first file's folder)"},
    {.name = "format", .type = MELON_SETTING_STRING, .offset = AT(load.format),
     .metavar = "FORMAT", .def_text = "auto",
     .help = "input format: auto, delimited (CSV/TSV), adressa, amazon, yelp"},
    {.name = "columns", .type = MELON_SETTING_STRING, .offset = AT(load.columns),
     .metavar = "U,I,T",
     .help = "user, item and time columns: header names or 1-based numbers "
             "(default: detected)"},
    {.name = "min-user", .type = MELON_SETTING_INT, .offset = AT(load.min_user),
     .metavar = "N", .def = 0, .min = 0, .max = 1e9,
     .help = "k-core: keep users with at least N interactions"},
    {.name = "min-item", .type = MELON_SETTING_INT, .offset = AT(load.min_item),
     .metavar = "N", .def = 0, .min = 0, .max = 1e9,
     .help = "k-core: keep items with at least N interactions"},
};

const melon_settings_table melon_data_settings = {
    "data", "Data", settings, (int)(sizeof settings / sizeof settings[0])};

void melon_data_config_default(melon_data_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    melon_load_options_default(&cfg->load);
    melon_settings_table_defaults(&melon_data_settings, cfg);
}

int melon_data_split_files(const char *files, char *buf, size_t cap,
                           const char **paths, melon_err *err) {
    if (!files || !files[0]) return melon_fail(err, "no data file given (--data)");
    if (strlen(files) >= cap)
        return melon_fail(err, "--data: the file list is longer than %zu bytes",
                          cap - 1);
    strcpy(buf, files);
    int n = 0;
    for (char *p = buf; *p;) {
        if (n == MELON_MAX_FILES)
            return melon_fail(err, "--data: at most %d files", MELON_MAX_FILES);
        paths[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = 0;
        p = comma + 1;
    }
    for (int k = 0; k < n; k++)
        if (!paths[k][0]) return melon_fail(err, "--data '%s': an empty file name", files);
    return n;
}
