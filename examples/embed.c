/* Embedding libmelon: pre-train a recommender on past interactions, keep
 * it up to date on a stream of new ones, checkpoint it, reload it and
 * recommend.
 *
 *   cc -o embed examples/embed.c $(pkg-config --cflags --libs melon)
 *   ./embed examples/data/shop-past.csv examples/data/shop-stream.csv \
 *           shop.ckpt u7
 *
 * PAST is a CSV or TSV with a header naming the user, item and time
 * columns (as `melon run --data` reads); STREAM is lines user,item,time
 * after a header line. USER is the user to recommend for. */
#include <melon/melon.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_K 10

static void die(const char *what, const melon_err *err) {
    fprintf(stderr, "embed: %s: %s\n", what, err->msg);
    exit(1);
}

/* Feeds every line "user,item,time" of path to the session in order. */
static void observe_file(melon_session *s, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    char line[1024];
    long number = 0;
    melon_err err;
    while (fgets(line, sizeof line, f)) {
        if (++number == 1) continue; /* the header */
        char *user = strtok(line, ",\r\n");
        char *item = strtok(NULL, ",\r\n");
        char *time = strtok(NULL, ",\r\n");
        if (!user || !item) {
            fprintf(stderr, "embed: %s:%ld: expected user,item,time\n", path,
                    number);
            exit(1);
        }
        int32_t rank; /* set once the event's batch has run */
        if (melon_observe(s, user, item, time ? atof(time) : 0, &rank, &err) != 0)
            die(path, &err);
    }
    fclose(f);
    /* the events that do not fill a whole batch run as a short one */
    if (melon_flush(s, NULL, &err) != 0) die("flush", &err);
}

static void print_top(melon_session *s, const char *user, const char *label) {
    const char *items[TOP_K];
    float scores[TOP_K];
    int n, popular;
    melon_err err;
    if (melon_recommend(s, user, TOP_K, 0, items, scores, &n, &popular,
                        &err) != 0)
        die("recommend", &err);
    printf("%s for %s%s:", label, user, popular ? " (most popular)" : "");
    for (int k = 0; k < n; k++) printf(" %s", items[k]);
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: embed PAST.csv STREAM.csv CHECKPOINT USER\n");
        return 2;
    }
    const char *past = argv[1], *stream = argv[2], *checkpoint = argv[3];
    const char *user = argv[4];
    melon_err err;

    /* BPR-MF updated by plain fine-tuning (the Default strategy), which
     * also takes users and items first seen in the stream. */
    const char *settings[] = {"model=bpr", "strategy=default", "seed=1",
                              "batch-size=64", "epochs=10", "lr=0.01"};
    melon_session *s;
    if (melon_create(&s, settings, sizeof settings / sizeof *settings, &err) != 0)
        die("create", &err);
    if (melon_pretrain_file(s, past, &err) != 0) die(past, &err);

    melon_stats st;
    if (melon_get_stats(s, &st, &err) != 0) die("stats", &err);
    printf("pre-trained on %lld events: %lld users, %lld items\n",
           (long long)st.pretrain_events, (long long)st.users,
           (long long)st.items);

    /* Each event is ranked against sampled negatives before its batch
     * updates the model: the stream's own test of the recommender. */
    observe_file(s, stream);
    if (melon_get_stats(s, &st, &err) != 0) die("stats", &err);
    printf("observed %lld events in %lld batches: HR@10 %.3f, NDCG@10 %.3f; "
           "now %lld users, %lld items\n",
           (long long)st.observed, (long long)st.batches, st.hr10, st.ndcg10,
           (long long)st.users, (long long)st.items);

    print_top(s, user, "top 10");
    print_top(s, "someone-new", "top 10");

    /* The whole session goes into the checkpoint, written atomically. */
    if (melon_save(s, checkpoint, &err) != 0) die(checkpoint, &err);
    melon_free(s);
    printf("saved %s\n", checkpoint);

    if (melon_open(&s, checkpoint, &err) != 0) die(checkpoint, &err);
    print_top(s, user, "top 10 after reloading");
    melon_free(s);
    return 0;
}
