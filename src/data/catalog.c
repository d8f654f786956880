/* The table of public datasets `melon data fetch` knows by name. Adding a
 * dataset is adding a row: where the publisher serves it, which file is the
 * interaction log, its size and SHA-256, its layout and its terms. */
#include "melon/fetch.h"

#include <stdio.h>
#include <string.h>

static const melon_dataset catalog[] = {
    {
        .name = "ml-100k",
        .title = "MovieLens 100K: 100,000 ratings (1-5) by 943 users of "
                 "1,682 movies, 1997-1998",
        .url = "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        .member = "ml-100k/u.data",
        .file_name = "u.data",
        .sha256 = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        .size = 1979173,
        .format = "TSV user,item,rating,time, no header; not sorted by time",
        .columns = "1,2,4",
        .licence = "GroupLens: research use only, no redistribution, "
                   "cite Harper & Konstan 2015",
        .terms = "MovieLens 100K is provided by GroupLens Research for "
                 "research use only: no commercial use without permission, "
                 "do not redistribute it, do not imply endorsement by the "
                 "University of Minnesota or GroupLens, and cite F. Maxwell "
                 "Harper and Joseph A. Konstan, \"The MovieLens Datasets: "
                 "History and Context\", ACM TiiS 5(4), 2015.",
    },
};

size_t melon_catalog_count(void) {
    return sizeof catalog / sizeof catalog[0];
}

const melon_dataset *melon_catalog_entry(size_t index) {
    return index < melon_catalog_count() ? &catalog[index] : NULL;
}

const melon_dataset *melon_catalog_find(const char *name) {
    if (!name) return NULL;
    for (size_t k = 0; k < melon_catalog_count(); k++)
        if (strcmp(catalog[k].name, name) == 0) return &catalog[k];
    return NULL;
}

void melon_catalog_names(char *out, size_t cap) {
    if (cap == 0) return;
    out[0] = '\0';
    size_t used = 0;
    for (size_t k = 0; k < melon_catalog_count() && used < cap; k++) {
        int n = snprintf(out + used, cap - used, "%s%s", k ? ", " : "",
                         catalog[k].name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

const char *melon_dataset_format_hint(const char *name) {
    const melon_dataset *ds = melon_catalog_find(name);
    return ds ? ds->format : NULL;
}
