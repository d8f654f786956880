/* Result writers: the JSON of protocol.md section 7, the per-batch CSV and
 * the table printed at the end of a run. */
#include "melon/atomic_file.h"
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
    return n;
}

static void json_metric_series(FILE *f, const char *name,
                               const melon_run_result *res, int hr, int c) {
    fprintf(f, "    \"%s@%d\": [", name, melon_cutoffs[c]);
    for (size_t t = 0; t < res->n_test_batches; t++) {
        const melon_metric_sums *s = &res->per_batch[t];
        if (t) fputs(", ", f);
        json_number(f, hr ? melon_metric_hr(s, c) : melon_metric_ndcg(s, c));
    }
    fputs("],\n", f);
}

static void json_metric_object(FILE *f, const melon_metric_sums *s) {
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        fprintf(f, "%s\"HR@%d\": ", c ? ", " : "{", melon_cutoffs[c]);
        json_number(f, melon_metric_hr(s, c));
    }
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        fprintf(f, ", \"NDCG@%d\": ", melon_cutoffs[c]);
        json_number(f, melon_metric_ndcg(s, c));
    }
    fprintf(f, ", \"evaluated\": %zu}", s->count);
}

static void json_double_array(FILE *f, const double *x, size_t n) {
    fputc('[', f);
    for (size_t k = 0; k < n; k++) {
        if (k) fputs(", ", f);
        json_number(f, x[k]);
    }
    fputc(']', f);
}

static void write_json(FILE *f, const melon_config *cfg,
                       const melon_run_result *res) {
    fputs("{\n  \"dataset\": {\"name\": ", f);
    json_string(f, cfg->dataset_name ? cfg->dataset_name : "");
    fputs(", \"files\": [", f);
    for (int k = 0; k < cfg->n_data_files; k++) {
        if (k) fputs(", ", f);
        json_string(f, cfg->data_files[k]);
    }
    fprintf(f, "],\n              \"users\": %d, \"items\": %d, "
               "\"interactions\": %zu, \"batches\": %zu, \"test_batches\": %zu,\n"
               "              \"min_user\": %d, \"min_item\": %d},\n",
            res->n_users, res->n_items, res->n_interactions, res->n_batches,
            res->n_test_batches, cfg->load.min_user, cfg->load.min_item);
    fputs("  \"settings\": {\"model\": ", f);
    json_string(f, cfg->model);
    fputs(", \"strategy\": ", f);
    json_string(f, cfg->strategy);
    fputs(", \"label\": ", f);
    json_string(f, cfg->label ? cfg->label : cfg->strategy);
    fprintf(f, ", \"seed\": %llu,\n               \"batch_size\": %d, "
               "\"train_ratio\": %.17g, \"validation\": %.17g, \"epochs\": %d, "
               "\"threads\": %d,\n"
               "               \"dim\": %d, \"optimizer\": \"%s\", \"lr\": %.9g, "
               "\"l2\": %.9g},\n",
            (unsigned long long)cfg->seed, cfg->batch_size, cfg->train_ratio,
            cfg->validation, cfg->epochs, omp_get_max_threads(), cfg->model_cfg.dim,
            optimizer_name(&cfg->optim), cfg->optim.lr, cfg->optim.l2);
    char dev[8][96];
    int n_dev = list_deviations(cfg, dev, 8);
    fputs("  \"protocol_deviations\": [", f);
    for (int k = 0; k < n_dev; k++) {
        if (k) fputs(", ", f);
        json_string(f, dev[k]);
    }
    fputs("],\n  \"metrics\": {", f);
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        fprintf(f, "%s\"HR@%d\": ", c ? ", " : "", melon_cutoffs[c]);
        json_number(f, melon_metric_hr(&res->total, c));
    }
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        fprintf(f, ", \"NDCG@%d\": ", melon_cutoffs[c]);
        json_number(f, melon_metric_ndcg(&res->total, c));
    }
    fprintf(f, ", \"evaluated\": %zu},\n", res->total.count);
    fputs("  \"metrics_by_user\": {\"seen\": ", f);
    json_metric_object(f, &res->seen_users);
    fputs(",\n                      \"new\": ", f);
    json_metric_object(f, &res->new_users);
    fputs("},\n  \"per_batch\": {\n", f);
    for (int c = 0; c < MELON_N_CUTOFFS; c++) json_metric_series(f, "HR", res, 1, c);
    for (int c = 0; c < MELON_N_CUTOFFS; c++) json_metric_series(f, "NDCG", res, 0, c);
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
    for (int c = 0; c < MELON_N_CUTOFFS; c++) fprintf(f, ",HR@%d", melon_cutoffs[c]);
    for (int c = 0; c < MELON_N_CUTOFFS; c++) fprintf(f, ",NDCG@%d", melon_cutoffs[c]);
    fputs(",loss,update_s\n", f);
    for (size_t t = 0; t < res->n_test_batches; t++) {
        const melon_metric_sums *s = &res->per_batch[t];
        fprintf(f, "%zu,%zu", t, s->count);
        for (int c = 0; c < MELON_N_CUTOFFS; c++) fprintf(f, ",%.6f", melon_metric_hr(s, c));
        for (int c = 0; c < MELON_N_CUTOFFS; c++) fprintf(f, ",%.6f", melon_metric_ndcg(s, c));
        fprintf(f, ",%.6f,%.9f\n", res->train_loss[t], res->update_seconds[t]);
    }
    return melon_atomic_commit(&af, err);
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
    fputc('\n', out);
    fprintf(out, "  %-8s %8s %8s %8s\n", "", "@5", "@10", "@20");
    fprintf(out, "  %-8s", "HR");
    for (int c = 0; c < MELON_N_CUTOFFS; c++)
        fprintf(out, " %8.4f", melon_metric_hr(&res->total, c));
    fprintf(out, "\n  %-8s", "NDCG");
    for (int c = 0; c < MELON_N_CUTOFFS; c++)
        fprintf(out, " %8.4f", melon_metric_ndcg(&res->total, c));
    const melon_metric_sums *groups[2] = {&res->seen_users, &res->new_users};
    const char *labels[2] = {"seen users", "new users"};
    fputc('\n', out);
    for (int g = 0; g < 2; g++)
        fprintf(out, "\n  %-10s HR@10 %.4f  NDCG@10 %.4f  (%zu interactions)",
                labels[g], melon_metric_hr(groups[g], 1),
                melon_metric_ndcg(groups[g], 1), groups[g]->count);
    fprintf(out, "\n\n  update per online batch: mean %.3f ms, median %.3f ms, "
                 "p90 %.3f ms\n",
            1e3 * res->update_mean_s, 1e3 * res->update_median_s,
            1e3 * res->update_p90_s);
    fprintf(out, "  load %.2f s, pre-training %.2f s, total %.2f s, peak memory "
                 "%.0f MB\n",
            res->load_s, res->pretrain_s, res->total_s, res->peak_rss_mb);
    char dev[8][96];
    int n_dev = list_deviations(cfg, dev, 8);
    for (int k = 0; k < n_dev; k++)
        fprintf(out, "  differs from the protocol: %s\n", dev[k]);
}
