/* "Loose JSON": records written as Python dict literals (repr), as in some
 * files of the 2014 Amazon review release, e.g.
 *   {'reviewerID': 'A2SUAM1J3GNN3B', 'helpful': [2, 3], 'verified': True}
 * They are rewritten token by token into strict JSON, which the JSON parser
 * then reads: strings in single or double quotes (with u/b/r prefixes and
 * Python's escapes) become JSON strings, True/False/None become
 * true/false/null, tuples become arrays, and Python 2 long integers lose
 * their L. Anything else is copied, so the JSON parser rejects what is not
 * a plain literal. */
#ifndef MELON_DATA_LOOSE_JSON_H
#define MELON_DATA_LOOSE_JSON_H

#include "melon/common.h"

#include <stddef.h>

/* 1 when the line opens a dict whose first key is a single-quoted string
 * ("{'" or "{u'" after optional spaces), which strict JSON cannot be. */
int melon_loose_json_detect(const char *line, size_t len);

/* A growable output buffer, reused from line to line. */
typedef struct {
    char *text;
    size_t len;
    size_t cap;
} melon_text_buffer;

void melon_text_buffer_free(melon_text_buffer *buf);

/* Rewrites line[len] as strict JSON into out (replacing its content).
 * Returns 0; -1 with *column (1-based, in the line) and *why when a string
 * is unterminated or holds a raw control character or a bad escape, or a
 * name is not True, False or None; -2 when out cannot grow. */
int melon_loose_json_convert(const char *line, size_t len,
                             melon_text_buffer *out, size_t *column,
                             const char **why);

#endif
