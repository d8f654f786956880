/* `melon recommend`: a user's top-K from a checkpoint (melon.h): one a
 * session saved, `melon run --checkpoint` or `--save-model` wrote, or
 * `melon serve` keeps in its state directory. */
#include "cli.h"
#include "options.h"

#include "melon/melon.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_USERS 1024
#define MAX_K 10000

typedef struct {
    const char *checkpoint;
    const char *users[MAX_USERS];
    int n_users;
    int k;
    int include_seen;
    int json;
} recommend_args;

static int add_user(void *ctx, const char *value, char *why, size_t cap) {
    recommend_args *a = ctx;
    if (!value[0]) {
        snprintf(why, cap, "a user id cannot be empty");
        return -1;
    }
    if (a->n_users == MAX_USERS) {
        snprintf(why, cap, "at most %d users", MAX_USERS);
        return -1;
    }
    a->users[a->n_users++] = value;
    return 0;
}

/* One user's list as a line of JSON. */
static void print_json(const char *user, const char **items,
                       const float *scores, int n, int popular) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user", user);
    cJSON_AddBoolToObject(o, "popular", popular);
    cJSON *list = cJSON_AddArrayToObject(o, "items");
    for (int r = 0; r < n; r++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "item", items[r]);
        cJSON_AddNumberToObject(e, "score", (double)scores[r]);
        cJSON_AddItemToArray(list, e);
    }
    char *text = cJSON_PrintUnformatted(o);
    if (text) puts(text);
    free(text);
    cJSON_Delete(o);
}

static void print_table(const char *user, const char **items,
                        const float *scores, int n, int popular,
                        const melon_stats *st) {
    printf("user %s: top %d%s\n", user, n,
           st->model_is_popularity ? " (the popularity model)"
           : popular ? " most popular items (the user has no row in the model)"
                     : "");
    for (int r = 0; r < n; r++)
        printf("%4d  %-24s %.6g\n", r + 1, items[r], (double)scores[r]);
}

int melon_cmd_recommend(int argc, char **argv) {
    recommend_args a = {.k = 10};
    const char *usage =
        "usage: melon recommend --checkpoint FILE --user U [--user U2 ...]\n"
        "                       [-k 10] [--include-seen] [--json]\n\n"
        "Prints each user's top-K items with their scores, from a checkpoint\n"
        "(melon_save, melon run --checkpoint or --save-model, melon serve's\n"
        "state directory). Items the user has interacted with are left out\n"
        "unless --include-seen. A user the model has no row for gets the most\n"
        "popular items, and the output says so.\n";
    const option_spec specs[] = {
        {"checkpoint", OPT_STRING, &a.checkpoint, "FILE",
         "the session to recommend from (required)", 0, 0, NULL, NULL},
        {"user", OPT_LIST, NULL, "U", "a user id (repeat for more users)", 0, 0,
         NULL, add_user},
        {"k", OPT_INT, &a.k, "K", "items per user (also -k)", 1, MAX_K, NULL, NULL},
        {"include-seen", OPT_FLAG, &a.include_seen, NULL,
         "also recommend items the user has interacted with", 0, 0, NULL, NULL},
        {"json", OPT_FLAG, &a.json, NULL,
         "one JSON object per user: {\"user\", \"popular\", \"items\": [{\"item\", "
         "\"score\"}]}", 0, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL, 0, 0, NULL, NULL},
    };
    /* -k is --k */
    char **args = malloc((size_t)(argc + 1) * sizeof *args);
    if (!args) {
        fprintf(stderr, "melon recommend: out of memory\n");
        return 1;
    }
    for (int i = 0; i < argc; i++)
        args[i] = strcmp(argv[i], "-k") == 0 ? "--k" : argv[i];
    args[argc] = NULL;
    int rc = options_parse(specs, argc, args, 1, "recommend", usage, &a, NULL, 0,
                           NULL);
    free(args);
    if (rc != 0) return rc == 1 ? 0 : rc;
    if (!a.checkpoint || a.n_users == 0) {
        fprintf(stderr, "melon recommend: --checkpoint and --user are required "
                        "(see melon recommend --help)\n");
        return 2;
    }
    melon_session *s = NULL;
    melon_err err;
    if (melon_open(&s, a.checkpoint, &err) != 0) {
        fprintf(stderr, "melon recommend: %s\n", err.msg);
        return 1;
    }
    melon_stats st;
    const char **items = malloc((size_t)a.k * sizeof *items);
    float *scores = malloc((size_t)a.k * sizeof *scores);
    rc = !items || !scores || melon_get_stats(s, &st, &err) != 0;
    if (!items || !scores) snprintf(err.msg, sizeof err.msg, "out of memory");
    for (int u = 0; u < a.n_users && rc == 0; u++) {
        int n, popular;
        if (melon_recommend(s, a.users[u], a.k,
                            a.include_seen ? MELON_INCLUDE_SEEN : 0, items,
                            scores, &n, &popular, &err) != 0) {
            rc = 1;
            break;
        }
        if (a.json) print_json(a.users[u], items, scores, n, popular);
        else print_table(a.users[u], items, scores, n, popular, &st);
    }
    if (rc != 0) fprintf(stderr, "melon recommend: %s: %s\n", a.checkpoint, err.msg);
    if (rc == 0 && fflush(stdout) != 0) rc = 1;
    free(items);
    free(scores);
    melon_free(s);
    return rc;
}
