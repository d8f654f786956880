/* Result writers: the JSON of protocol.md section 7, the per-batch CSV and
 * the table printed at the end of a run. */
#include "core/atomic_file.h"
#include "eval/runner.h"
#include "melon/evaluate.h"
#include "melon/settings.h"

#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <string.h>

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or infinity: they are written as null. */
static void json_number(FILE *f, double x) {
    if (isfinite(x)) fprintf(f, "%.17g", x);
    else fputs("null", f);
}

static const char *optimizer_name(const melon_optimizer_config *o) {
    if (o->kind == MELON_OPT_SGD) return "sgd";
    return o->dense ? "adam-dense" : "adam";
}

/* One line of "protocol_deviations": "batch-size 64 (protocol: 256)" */
#define DEVIATION_TEXT 192

/* The settings the protocol fixes (MELON_SETTING_PROTOCOL) whose value is
 * not the protocol's (protocol.md: a run that deviates says so). */
static int list_deviations(const melon_config *cfg, char out[][DEVIATION_TEXT], int cap) {
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n_rooms = melon_config_run_rooms(cfg, rooms, MELON_MAX_ROOMS), n = 0;
    for (int r = 0; r < n_rooms; r++) {
        const melon_settings_table *t = rooms[r].table;
        const void *room = (const char *)cfg + rooms[r].offset;
        for (int k = 0; k < t->n && n < cap; k++) {
            const melon_setting *s = &t->settings[k];
            if (!(s->flags & MELON_SETTING_PROTOCOL) ||
                melon_setting_is_default(s, room))
                continue;
            char now[64], def[64];
            melon_setting_format(s, room, now, sizeof now);
            melon_setting_default_text(s, def, sizeof def);
            snprintf(out[n++], DEVIATION_TEXT, "%s %s (protocol: %s)", s->name, now, def);
        }
    }
    return n;
}

/* One setting as a JSON value: numbers as numbers, flags as booleans,
 * unset strings as null, the rest (and named numbers) as strings. */
static void json_setting(FILE *f, const melon_setting *s, const void *room) {
    char text[1024];
    melon_setting_format(s, room, text, sizeof text);
    switch (s->type) {
    case MELON_SETTING_INT:
        if (isalpha((unsigned char)text[0])) json_string(f, text); /* "all" */
        else fputs(text, f);
        break;
    case MELON_SETTING_U64:
    case MELON_SETTING_FLOAT:
    case MELON_SETTING_DOUBLE: fputs(text, f); break;
    case MELON_SETTING_FLAG: fputs(text[1] == 'n' ? "true" : "false", f); break;
    case MELON_SETTING_STRING:
        if (!*(const char *const *)((const char *)room + s->offset)) {
            fputs("null", f);
            break;
        }
        json_string(f, text);
        break;
    default: json_string(f, text); break;
    }
}

/* "config": every setting of the run, grouped by room (the run, data,
 * model, the optimiser if the strategy steps with it, the strategy's own),
 * so that `melon run --rerun` can repeat the run from this file alone;
 * where the run wrote (MELON_SETTING_OUTPUT) is not part of it. */
static void write_config(FILE *f, const melon_config *cfg) {
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n_rooms = melon_config_run_rooms(cfg, rooms, MELON_MAX_ROOMS);
    fputs("  \"config\": {\"melon_version\": ", f);
    json_string(f, MELON_VERSION);
    for (int r = 0; r < n_rooms; r++) {
        const melon_settings_table *t = rooms[r].table;
        const void *room = (const char *)cfg + rooms[r].offset;
        fprintf(f, ",\n             \"%s\": {", t->room);
        int shown = 0;
        for (int k = 0; k < t->n; k++) {
            if (t->settings[k].flags & MELON_SETTING_OUTPUT) continue;
            fprintf(f, "%s\"%s\": ", shown++ ? ", " : "", t->settings[k].name);
            json_setting(f, &t->settings[k], room);
        }
        fputc('}', f);
    }
    fputs("},\n", f);
}

/* The metrics in files and tables; a metric is a mean over interactions
 * (HR, NDCG, MRR) or over (user, batch) lists (Recall). */
typedef double (*metric_fn)(const melon_metric_sums *, int);
static const struct {
    const char *name;
    metric_fn value;
} metrics[] = {
    {"HR", melon_metric_hr},
    {"NDCG", melon_metric_ndcg},
    {"MRR", melon_metric_mrr},
    {"Recall", melon_metric_recall},
};
#define N_METRICS (sizeof metrics / sizeof metrics[0])

static void json_metric_series(FILE *f, const melon_run_result *res,
                               size_t m, int c) {
    fprintf(f, "    \"%s@%d\": [", metrics[m].name, melon_cutoffs[c]);
    for (size_t t = 0; t < res->n_test_batches; t++) {
        if (t) fputs(", ", f);
        json_number(f, metrics[m].value(&res->per_batch[t], c));
    }
    fputs("],\n", f);
}

/* Every metric at every cutoff (null where nothing was ranked), the
 * interactions ranked and the (user, batch) lists. */
static void json_metric_object(FILE *f, const melon_metric_sums *s) {
    for (size_t m = 0; m < N_METRICS; m++)
        for (int c = 0; c < MELON_N_CUTOFFS; c++) {
            fprintf(f, "%s\"%s@%d\": ", m || c ? ", " : "{", metrics[m].name,
                    melon_cutoffs[c]);
            json_number(f, metrics[m].value(s, c));
        }
    fprintf(f, ", \"evaluated\": %zu, \"lists\": %zu}", s->count, s->lists);
}

static void json_double_array(FILE *f, const double *x, size_t n) {
    fputc('[', f);
    for (size_t k = 0; k < n; k++) {
        if (k) fputs(", ", f);
        json_number(f, x[k]);
    }
    fputc(']', f);
}

/* The dataset's name and files, as its object in the result file starts. */
static void json_dataset_start(FILE *f, const melon_config *cfg) {
    fputs("{\"name\": ", f);
    json_string(f, cfg->data.name ? cfg->data.name : "");
    fputs(", \"files\": [", f);
    char buf[16384];
    const char *paths[MELON_MAX_FILES];
    melon_err ignored;
    int n_files = melon_data_split_files(cfg->data.files, buf, sizeof buf, paths,
                                         &ignored);
    for (int k = 0; k < n_files; k++) {
        if (k) fputs(", ", f);
        json_string(f, paths[k]);
    }
    fputs("]", f);
}

/* The settings object of the result file. */
static void json_settings(FILE *f, const melon_config *cfg) {
    fputs("{\"model\": ", f);
    json_string(f, cfg->model.name);
    fputs(", \"strategy\": ", f);
    json_string(f, cfg->run.strategy);
    fputs(", \"label\": ", f);
    json_string(f, cfg->run.label ? cfg->run.label : cfg->run.strategy);
    fprintf(f, ", \"seed\": %llu,\n               \"batch_size\": %d, "
               "\"train_ratio\": %.17g, \"validation\": %.17g, \"epochs\": %d, "
               "\"threads\": %d,\n"
               "               \"dim\": %d, \"optimizer\": \"%s\", \"lr\": %.9g, "
               "\"l2\": %.9g, \"tower_init\": \"%s\", \"negatives\": ",
            (unsigned long long)cfg->run.seed, cfg->run.batch_size,
            cfg->run.train_ratio, cfg->run.validation, cfg->run.epochs,
            omp_get_max_threads(), cfg->model.dim, optimizer_name(&cfg->optim),
            cfg->optim.lr, cfg->optim.l2,
            cfg->model.tower_init == MELON_TOWER_HE ? "he" : "normal");
    if (cfg->run.negatives == MELON_NEGATIVES_ALL) fputs("\"all\"}", f);
    else fprintf(f, "%d}", cfg->run.negatives);
}

void melon_write_run_settings(FILE *f, const melon_config *cfg) {
    fputs("{\"dataset\": ", f);
    json_dataset_start(f, cfg);
    fprintf(f, ", \"min_user\": %d, \"min_item\": %d},\n \"settings\": ",
            cfg->data.load.min_user, cfg->data.load.min_item);
    json_settings(f, cfg);
    fputs("}\n", f);
}

static void write_json(FILE *f, const melon_config *cfg,
                       const melon_run_result *res) {
    fputs("{\n  \"dataset\": ", f);
    json_dataset_start(f, cfg);
    fprintf(f, ",\n              \"users\": %d, \"items\": %d, "
               "\"interactions\": %zu, \"batches\": %zu, \"test_batches\": %zu,\n"
               "              \"min_user\": %d, \"min_item\": %d},\n",
            res->n_users, res->n_items, res->n_interactions, res->n_batches,
            res->n_test_batches, cfg->data.load.min_user, cfg->data.load.min_item);
    fputs("  \"settings\": ", f);
    json_settings(f, cfg);
    fputs(",\n", f);
    write_config(f, cfg);
    char dev[8][DEVIATION_TEXT];
    int n_dev = list_deviations(cfg, dev, 8);
    fputs("  \"protocol_deviations\": [", f);
    for (int k = 0; k < n_dev; k++) {
        if (k) fputs(", ", f);
        json_string(f, dev[k]);
    }
    fputs("],\n  \"metrics\": ", f);
    json_metric_object(f, &res->total);
    fputs(",\n  \"metrics_by_user\": {\"seen\": ", f);
    json_metric_object(f, &res->seen_users);
    fputs(",\n                      \"new\": ", f);
    json_metric_object(f, &res->new_users);
    fputs("},\n  \"metrics_by_pair\": {\"repeat\": ", f);
    json_metric_object(f, &res->repeat_pairs);
    fputs(",\n                      \"new\": ", f);
    json_metric_object(f, &res->new_pairs);
    fputs("},\n  \"per_batch\": {\n", f);
    for (size_t m = 0; m < N_METRICS; m++)
        for (int c = 0; c < MELON_N_CUTOFFS; c++) json_metric_series(f, res, m, c);
    fputs("    \"loss\": ", f);
    json_double_array(f, res->train_loss, res->n_test_batches);
    fputs(",\n    \"update_s\": ", f);
    json_double_array(f, res->update_seconds, res->n_test_batches);
    fputs("\n  },\n  \"pretrain_loss\": ", f);
    json_double_array(f, res->pretrain_loss, (size_t)res->epochs);
    fputs(",\n  \"timing\": {\"update_s_per_batch\": {\"mean\": ", f);
    json_number(f, res->update_mean_s);
    fputs(", \"median\": ", f);
    json_number(f, res->update_median_s);
    fputs(", \"p90\": ", f);
    json_number(f, res->update_p90_s);
    fputs("},\n             \"load_s\": ", f);
    json_number(f, res->load_s);
    fputs(", \"pretrain_s\": ", f);
    json_number(f, res->pretrain_s);
    fputs(", \"evaluate_s\": ", f);
    json_number(f, res->evaluate_s);
    fputs(", \"total_s\": ", f);
    json_number(f, res->total_s);
    fputs("},\n  \"memory\": {\"peak_rss_mb\": ", f);
    json_number(f, res->peak_rss_mb);
    fputs("},\n  \"warning\": ", f);
    json_string(f, res->warning);
    fputs("\n}\n", f);
}

int melon_write_result_json(const char *path, const melon_config *cfg,
                            const melon_run_result *res, melon_err *err) {
    melon_atomic_file af;
    if (melon_atomic_open(&af, path, err) != 0) return -1;
    write_json(af.f, cfg, res);
    return melon_atomic_commit(&af, err);
}

int melon_write_per_batch_csv(const char *path, const melon_run_result *res,
                              melon_err *err) {
    melon_atomic_file af;
    if (melon_atomic_open(&af, path, err) != 0) return -1;
    FILE *f = af.f;
    fputs("batch,interactions", f);
    for (size_t m = 0; m < N_METRICS; m++)
        for (int c = 0; c < MELON_N_CUTOFFS; c++)
            fprintf(f, ",%s@%d", metrics[m].name, melon_cutoffs[c]);
    fputs(",lists,loss,update_s\n", f);
    for (size_t t = 0; t < res->n_test_batches; t++) {
        const melon_metric_sums *s = &res->per_batch[t];
        fprintf(f, "%zu,%zu", t, s->count);
        for (size_t m = 0; m < N_METRICS; m++)
            for (int c = 0; c < MELON_N_CUTOFFS; c++)
                fprintf(f, ",%.6f", metrics[m].value(s, c));
        fprintf(f, ",%zu,%.6f,%.9f\n", s->lists, res->train_loss[t],
                res->update_seconds[t]);
    }
    return melon_atomic_commit(&af, err);
}

/* A mean, or n/a when nothing was averaged. */
static void print_value(FILE *out, const char *format, double x) {
    if (isnan(x)) fprintf(out, " %8s", "n/a");
    else fprintf(out, format, x);
}

void melon_print_result_table(FILE *out, const melon_config *cfg,
                              const melon_run_result *res) {
    fprintf(out, "\n%s: %d users, %d items, %zu interactions; %zu batches of %d, "
                 "%zu online\n",
            cfg->data.name ? cfg->data.name : "data", res->n_users,
            res->n_items, res->n_interactions, res->n_batches, cfg->run.batch_size,
            res->n_test_batches);
    fprintf(out, "model %s, strategy %s, seed %llu, %d pre-training epoch%s\n",
            cfg->model.name, cfg->run.strategy, (unsigned long long)cfg->run.seed,
            cfg->run.epochs, cfg->run.epochs == 1 ? "" : "s");
    if (cfg->run.validation > 0)
        fprintf(out, "VALIDATION: the stream is the last %g of the past; the "
                     "test stream was not used\n", cfg->run.validation);
    if (cfg->run.negatives == MELON_NEGATIVES_ALL)
        fputs("ranked against every item the user has not interacted with\n",
              out);
    else
        fprintf(out, "ranked against %d sampled negatives per interaction\n",
                cfg->run.negatives);
    fputc('\n', out);
    fprintf(out, "  %-8s %8s %8s %8s\n", "", "@5", "@10", "@20");
    for (size_t m = 0; m < N_METRICS; m++) {
        fprintf(out, "  %-8s", metrics[m].name);
        for (int c = 0; c < MELON_N_CUTOFFS; c++)
            print_value(out, " %8.4f", metrics[m].value(&res->total, c));
        fputc('\n', out);
    }
    const melon_metric_sums *groups[4] = {&res->seen_users, &res->new_users,
                                          &res->repeat_pairs, &res->new_pairs};
    const char *labels[4] = {"seen users", "new users", "repeat pairs",
                             "new pairs"};
    fprintf(out, "\n  %-12s %8s %8s %8s %8s %13s\n", "@10", "HR", "NDCG", "MRR",
            "Recall", "interactions");
    for (int g = 0; g < 4; g++) {
        fprintf(out, "  %-12s", labels[g]);
        for (size_t m = 0; m < N_METRICS; m++)
            print_value(out, " %8.4f", metrics[m].value(groups[g], 1));
        fprintf(out, " %13zu\n", groups[g]->count);
    }
    fprintf(out, "\n  update per online batch: mean %.3f ms, median %.3f ms, "
                 "p90 %.3f ms\n",
            1e3 * res->update_mean_s, 1e3 * res->update_median_s,
            1e3 * res->update_p90_s);
    fprintf(out, "  evaluation per online batch: mean %.3f ms\n",
            res->n_test_batches
                ? 1e3 * res->evaluate_s / (double)res->n_test_batches
                : 0.0);
    fprintf(out, "  load %.2f s, pre-training %.2f s, total %.2f s, peak memory "
                 "%.0f MB\n",
            res->load_s, res->pretrain_s, res->total_s, res->peak_rss_mb);
    char dev[8][DEVIATION_TEXT];
    int n_dev = list_deviations(cfg, dev, 8);
    for (int k = 0; k < n_dev; k++)
        fprintf(out, "  differs from the protocol: %s\n", dev[k]);
}
