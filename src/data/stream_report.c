/* The sentences about skipped records, in the words of the format, and
 * about timestamps that do not look like Unix seconds. */
#include "melon/stream.h"

#include "native_format.h"

#include <stdio.h>

static const char *const generic_notes[3] = {
    "without a user", "without an item", "without a time"};

void melon_stream_skipped_summary(const melon_stream *stream, char *out,
                                  size_t cap) {
    if (cap == 0) return;
    out[0] = '\0';
    if (stream->n_skipped == 0) return;
    const melon_native_format *format =
        melon_native_format_find(stream->format);
    const char *const *notes = format ? format->missing_note : generic_notes;
    const size_t missing[3] = {stream->n_missing_user, stream->n_missing_item,
                               stream->n_missing_time};
    size_t used = 0;
    int n = snprintf(out, cap, "skipped %zu of %zu records:",
                     stream->n_skipped, stream->n_skipped + stream->n_read);
    const char *separator = " ";
    for (int f = 0; f < 3; f++) {
        if (n < 0 || (used += (size_t)n) >= cap) return; /* cut short */
        n = 0;
        if (missing[f] == 0) continue;
        n = snprintf(out + used, cap - used, "%s%zu %s", separator,
                     missing[f], notes[f]);
        separator = ", ";
    }
}

void melon_stream_print_time_note(const melon_stream *stream, FILE *out,
                                  const char *prefix) {
    if (stream->n_odd_times == 0) return;
    fprintf(out, "%s%s", prefix, stream->time_note);
    if (stream->n_odd_times > 1)
        fprintf(out, " (%zu timestamps in all are not like Unix seconds)",
                stream->n_odd_times);
    fputc('\n', out);
}
