/* Result writers: the JSON of protocol.md section 7, the per-batch CSV and
 * the table printed at the end of a run. */
#include "melon/atomic_file.h"
#include "melon/evaluate.h"
#include "melon/runner.h"

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

/* Settings that differ from the protocol's defaults (protocol.md says a run
 * that deviates must say so in its output). */
static int list_deviations(const melon_config *cfg, char out[][96], int cap) {
    int n = 0;
    if (cfg->batch_size != 256 && n < cap)
        snprintf(out[n++], 96, "batch_size %d (protocol: 256)", cfg->batch_size);
    if (fabs(cfg->train_ratio - 0.8) > 1e-12 && n < cap)
        snprintf(out[n++], 96, "train_ratio %g (protocol: 0.8)", cfg->train_ratio);
    if (cfg->epochs != 5 && n < cap)
        snprintf(out[n++], 96, "epochs %d (protocol: 5)", cfg->epochs);
    if (cfg->model_cfg.dim != 64 && n < cap)
        snprintf(out[n++], 96, "embedding size %d (protocol: 64)", cfg->model_cfg.dim);
    if (fabsf(cfg->optim.lr - 1e-3f) > 1e-9f && n < cap)
        snprintf(out[n++], 96, "learning rate %g (protocol: 0.001)", cfg->optim.lr);
    if (fabsf(cfg->optim.l2 - 1e-6f) > 1e-12f && n < cap)
        snprintf(out[n++], 96, "L2 %g (protocol: 1e-06)", cfg->optim.l2);
    if (cfg->optim.kind == MELON_OPT_SGD && n < cap)
        snprintf(out[n++], 96, "optimizer sgd (protocol: adam)");
    if (cfg->negatives == MELON_NEGATIVES_ALL && n < cap)
        snprintf(out[n++], 96, "negatives: every item not interacted with "
                               "(protocol: 99 sampled)");
    else if (cfg->negatives != MELON_EVAL_NEGATIVES && n < cap)
        snprintf(out[n++], 96, "negatives %d (protocol: 99)", cfg->negatives);
    if (cfg->model_cfg.tower_init == MELON_TOWER_HE &&
        strcmp(cfg->model, "ncf") == 0 && n < cap)
        snprintf(out[n++], 96, "NCF tower init he (protocol: normal(0, 0.01))");
    return n;
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
    json_string(f, cfg->dataset_name ? cfg->dataset_name : "");
    fputs(", \"files\": [", f);
    for (int k = 0; k < cfg->n_data_files; k++) {
        if (k) fputs(", ", f);
        json_string(f, cfg->data_files[k]);
    }
    fputs("]", f);
}

/* The settings object of the result file. */
static void json_settings(FILE *f, const melon_config *cfg) {
    fputs("{\"model\": ", f);
    json_string(f, cfg->model);
    fputs(", \"strategy\": ", f);
    json_string(f, cfg->strategy);
    fputs(", \"label\": ", f);
    json_string(f, cfg->label ? cfg->label : cfg->strategy);
    fprintf(f, ", \"seed\": %llu,\n               \"batch_size\": %d, "
               "\"train_ratio\": %.17g, \"validation\": %.17g, \"epochs\": %d, "
               "\"threads\": %d,\n"
               "               \"dim\": %d, \"optimizer\": \"%s\", \"lr\": %.9g, "
               "\"l2\": %.9g, \"tower_init\": \"%s\", \"negatives\": ",
            (unsigned long long)cfg->seed, cfg->batch_size, cfg->train_ratio,
            cfg->validation, cfg->epochs, omp_get_max_threads(), cfg->model_cfg.dim,
            optimizer_name(&cfg->optim), cfg->optim.lr, cfg->optim.l2,
            cfg->model_cfg.tower_init == MELON_TOWER_HE ? "he" : "normal");
    if (cfg->negatives == MELON_NEGATIVES_ALL) fputs("\"all\"}", f);
    else fprintf(f, "%d}", cfg->negatives);
}

void melon_write_run_settings(FILE *f, const melon_config *cfg) {
    fputs("{\"dataset\": ", f);
    json_dataset_start(f, cfg);
    fprintf(f, ", \"min_user\": %d, \"min_item\": %d},\n \"settings\": ",
            cfg->load.min_user, cfg->load.min_item);
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
            res->n_test_batches, cfg->load.min_user, cfg->load.min_item);
    fputs("  \"settings\": ", f);
    json_settings(f, cfg);
    fputs(",\n", f);
    char dev[8][96];
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
            cfg->dataset_name ? cfg->dataset_name : "data", res->n_users,
            res->n_items, res->n_interactions, res->n_batches, cfg->batch_size,
            res->n_test_batches);
    fprintf(out, "model %s, strategy %s, seed %llu, %d pre-training epoch%s\n",
            cfg->model, cfg->strategy, (unsigned long long)cfg->seed, cfg->epochs,
            cfg->epochs == 1 ? "" : "s");
    if (cfg->validation > 0)
        fprintf(out, "VALIDATION: the stream is the last %g of the past; the "
                     "test stream was not used\n", cfg->validation);
    if (cfg->negatives == MELON_NEGATIVES_ALL)
        fputs("ranked against every item the user has not interacted with\n",
              out);
    else
        fprintf(out, "ranked against %d sampled negatives per interaction\n",
                cfg->negatives);
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
    char dev[8][96];
    int n_dev = list_deviations(cfg, dev, 8);
    for (int k = 0; k < n_dev; k++)
        fprintf(out, "  differs from the protocol: %s\n", dev[k]);
}
