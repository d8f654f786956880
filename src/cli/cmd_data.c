/* `melon data`: public datasets by name. `fetch` downloads, verifies and
 * caches one, `list` shows the catalog and what is cached, `path` prints
 * where a fetched dataset is; `stats` (cmd_data_stats.c) describes files. */
#include "cli.h"
#include "fetch/fetch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define PATH_CAP 4096

enum { CMD_FETCH = 1, CMD_LIST = 2, CMD_PATH = 4 };

typedef struct {
    const char *name;
    int takes_value;
    unsigned commands; /* CMD_* flags of the commands that accept it */
} data_option;

static const data_option data_options[] = {
    {"--cache-dir", 1, CMD_FETCH | CMD_LIST | CMD_PATH},
    {"--url", 1, CMD_FETCH},
    {"--from", 1, CMD_FETCH},
    {"--force", 0, CMD_FETCH},
};
#define N_DATA_OPTIONS (sizeof data_options / sizeof data_options[0])

typedef struct {
    const char *command;   /* "fetch", "list", "path" */
    unsigned command_flag;
    const char *name;      /* the dataset, for fetch and path */
    const char *cache_dir;
    const char *url;
    const char *from_file;
    int force;
    int help;
} data_args;

/* ---- help --------------------------------------------------------------- */

static void describe_default_cache(char *text, size_t cap) {
    char dir[PATH_CAP];
    melon_err err;
    if (melon_cache_default_dir(dir, sizeof dir, &err) == 0)
        snprintf(text, cap, "here: %s", dir);
    else
        snprintf(text, cap, "none here: %s", err.msg);
}

static void print_cache_dir_option(FILE *out) {
    char here[PATH_CAP + 64];
    describe_default_cache(here, sizeof here);
    fprintf(out,
            "  --cache-dir DIR  where datasets are kept (default:\n"
            "                   $MELON_CACHE_DIR, else $XDG_CACHE_HOME/melon, "
            "else\n"
            "                   $HOME/.cache/melon; %s)\n",
            here);
}

static void print_fetch_options(FILE *out) {
    fprintf(out,
            "  --url URL        download from URL instead of the publisher's\n"
            "                   address (default: the catalog address, shown "
            "by\n"
            "                   `melon data list`)\n"
            "  --from FILE      install from a local copy instead of "
            "downloading:\n"
            "                   the publisher's zip, the plain file or a gzip "
            "of it\n"
            "                   (default: download)\n"
            "  --force          fetch again even when a verified copy is "
            "cached\n"
            "                   (default: off)\n");
}

static void print_known_datasets(FILE *out) {
    char names[2048];
    melon_catalog_names(names, sizeof names);
    fprintf(out, "\nKnown datasets: %s (see `melon data list`).\n", names);
}

static void print_data_help(FILE *out) {
    fprintf(out,
            "Usage: melon data COMMAND [OPTIONS]\n"
            "\n"
            "Public datasets by name: download them once, verify their "
            "SHA-256\n"
            "checksum and keep them in a local cache, so that\n"
            "`melon run --data NAME` can load them.\n"
            "\n"
            "Commands:\n"
            "  fetch NAME   download NAME (or install it from a local copy),\n"
            "               verify it and install it into the cache; prints "
            "its path\n"
            "  list         the known datasets: whether each is fetched, its "
            "path,\n"
            "               format and licence\n"
            "  path NAME    print the path of a fetched dataset\n"
            "  stats FILE.. users, items, interactions, time span and "
            "counts per\n"
            "               user and item of files or a fetched dataset "
            "(see\n"
            "               `melon data stats --help`)\n"
            "\n"
            "Options of every command:\n");
    print_cache_dir_option(out);
    fprintf(out, "  -h, --help       show help (`melon data COMMAND --help` "
                 "for one command)\n"
                 "\nOptions of fetch:\n");
    print_fetch_options(out);
    print_known_datasets(out);
    fprintf(out, "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static void print_fetch_help(FILE *out) {
    fprintf(out,
            "Usage: melon data fetch NAME [--cache-dir DIR] [--url URL] "
            "[--from FILE]\n"
            "                        [--force]\n"
            "\n"
            "Downloads dataset NAME, extracts its file, checks its size and "
            "SHA-256\n"
            "and installs it as CACHE/NAME/FILE; nothing is left behind if "
            "any step\n"
            "fails. If a copy is already cached and verifies, nothing is "
            "downloaded.\n"
            "Prints the installed path on stdout; notes and the dataset's "
            "terms of\n"
            "use go to stderr.\n"
            "\n"
            "Options:\n");
    print_cache_dir_option(out);
    print_fetch_options(out);
    fprintf(out, "  -h, --help       show this help\n");
    print_known_datasets(out);
    fprintf(out, "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static void print_list_help(FILE *out) {
    fprintf(out, "Usage: melon data list [--cache-dir DIR]\n\n"
                 "Lists the known datasets: whether each is fetched, its "
                 "path, format\nand licence.\n\nOptions:\n");
    print_cache_dir_option(out);
    fprintf(out, "  -h, --help       show this help\n");
}

static void print_path_help(FILE *out) {
    fprintf(out, "Usage: melon data path NAME [--cache-dir DIR]\n\n"
                 "Prints the path of fetched dataset NAME; fails if it is not "
                 "fetched.\n\nOptions:\n");
    print_cache_dir_option(out);
    fprintf(out, "  -h, --help       show this help\n");
    print_known_datasets(out);
}

static void print_command_help(const data_args *args, FILE *out) {
    if (args->command_flag == CMD_FETCH) print_fetch_help(out);
    else if (args->command_flag == CMD_LIST) print_list_help(out);
    else print_path_help(out);
}

/* ---- parsing ------------------------------------------------------------ */

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Prints "melon: error: ..." and returns the usage exit code. */
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "melon: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return EXIT_USAGE;
}

static void valid_options(unsigned command_flag, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < N_DATA_OPTIONS && used < cap; k++) {
        if (!(data_options[k].commands & command_flag)) continue;
        int n = snprintf(out + used, cap - used, "%s, ", data_options[k].name);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used < cap) snprintf(out + used, cap - used, "--help");
}

static void set_option(data_args *args, const char *name, const char *value) {
    if (strcmp(name, "--cache-dir") == 0) args->cache_dir = value;
    else if (strcmp(name, "--url") == 0) args->url = value;
    else if (strcmp(name, "--from") == 0) args->from_file = value;
    else if (strcmp(name, "--force") == 0) args->force = 1;
}

/* Reads the options and operands after the command word. Returns 0, or an
 * exit code after printing the problem. */
static int parse_command_line(data_args *args, int argc, char **argv) {
    char where[64];
    snprintf(where, sizeof where, "melon data %s", args->command);
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            args->help = 1;
            continue;
        }
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (args->command_flag == CMD_LIST || args->name)
                return usage_error("unexpected argument '%s' for '%s'", arg,
                                   where);
            args->name = arg;
            continue;
        }
        const char *equals = strchr(arg, '=');
        size_t name_len = equals ? (size_t)(equals - arg) : strlen(arg);
        const data_option *spec = NULL;
        for (size_t k = 0; k < N_DATA_OPTIONS; k++)
            if (strlen(data_options[k].name) == name_len &&
                strncmp(data_options[k].name, arg, name_len) == 0 &&
                (data_options[k].commands & args->command_flag))
                spec = &data_options[k];
        if (!spec) {
            char valid[256];
            valid_options(args->command_flag, valid, sizeof valid);
            return usage_error("unknown option '%s' for '%s'; valid options: "
                               "%s", arg, where, valid);
        }
        const char *value = NULL;
        if (spec->takes_value) {
            if (equals) value = equals + 1;
            else if (i + 1 < argc) value = argv[++i];
            if (!value || !*value)
                return usage_error("option %s of '%s' needs a value",
                                   spec->name, where);
        } else if (equals) {
            return usage_error("option %s of '%s' takes no value", spec->name,
                               where);
        }
        set_option(args, spec->name, value);
    }
    if (args->help) return 0;
    if (args->url && args->from_file)
        return usage_error("'%s': use either --url or --from, not both",
                           where);
    if (args->command_flag != CMD_LIST && !args->name)
        return usage_error("'%s' needs a dataset NAME; see --help", where);
    return 0;
}

/* The catalog entry called name, or NULL after printing the valid names. */
static const melon_dataset *find_dataset_or_complain(const char *name) {
    const melon_dataset *ds = melon_catalog_find(name);
    if (!ds) {
        char names[2048];
        melon_catalog_names(names, sizeof names);
        usage_error("unknown dataset '%s'; known datasets: %s", name, names);
    }
    return ds;
}

/* ---- the commands ------------------------------------------------------- */

static int run_fetch(const data_args *args) {
    const melon_dataset *ds = find_dataset_or_complain(args->name);
    if (!ds) return EXIT_USAGE;
    melon_fetch_options opt;
    melon_fetch_options_default(&opt);
    opt.cache_dir = args->cache_dir;
    opt.url = args->url;
    opt.from_file = args->from_file;
    opt.force = args->force;

    char path[PATH_CAP];
    int was_cached = 0;
    melon_err err;
    if (melon_dataset_fetch(ds, &opt, path, sizeof path, &was_cached,
                            &err) != 0) {
        fprintf(stderr, "melon: error: %s\n", err.msg);
        return EXIT_FAILED;
    }
    printf("%s\n", path);
    if (fflush(stdout) != 0) return EXIT_FAILED;
    if (ds->sha256) {
        fprintf(stderr, "melon: %s: %s (%llu bytes, SHA-256 verified)\n",
                ds->name, was_cached ? "already fetched" : "fetched",
                (unsigned long long)ds->size);
    } else {
        struct stat st;
        long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
        fprintf(stderr, "melon: %s: %s (%lld bytes, %s)\n", ds->name,
                was_cached ? "already fetched" : "fetched", bytes,
                !ds->archive_md5 ? "not verified: no known checksum"
                : was_cached     ? "its download matched the publisher's MD5"
                                 : "the download matched the publisher's MD5");
    }
    fprintf(stderr, "melon: %s: terms of use: %s\n", ds->name, ds->terms);
    return 0;
}

static int run_list(const data_args *args) {
    for (size_t k = 0; k < melon_catalog_count(); k++) {
        const melon_dataset *ds = melon_catalog_entry(k);
        char path[PATH_CAP];
        melon_err err;
        int state = melon_dataset_resolve(ds->name, args->cache_dir, path,
                                          sizeof path, &err);
        if (state != 1 &&
            melon_dataset_cached_path(ds, args->cache_dir, path, sizeof path,
                                      &err) != 0) {
            fprintf(stderr, "melon: error: %s\n", err.msg);
            return EXIT_FAILED;
        }
        printf("%-10s %-12s %s\n", ds->name,
               state == 1 ? "fetched" : "not fetched", path);
        printf("    %s\n", ds->title);
        printf("    format:  %s\n", ds->format);
        printf("    licence: %s\n", ds->licence);
        printf("    source:  %s\n", ds->url);
        if (!ds->sha256 && ds->archive_md5)
            printf("    checksum: the publisher's MD5 of the download, %s\n",
                   ds->archive_md5);
        else if (!ds->sha256)
            printf("    checksum: none known; fetch warns and prints the "
                   "SHA-256 it computed\n");
    }
    return fflush(stdout) == 0 ? 0 : EXIT_FAILED;
}

static int run_path(const data_args *args) {
    if (!find_dataset_or_complain(args->name)) return EXIT_USAGE;
    char path[PATH_CAP];
    melon_err err;
    if (melon_dataset_resolve(args->name, args->cache_dir, path, sizeof path,
                              &err) != 1) {
        fprintf(stderr, "melon: error: %s\n", err.msg);
        return EXIT_FAILED;
    }
    printf("%s\n", path);
    return fflush(stdout) == 0 ? 0 : EXIT_FAILED;
}

int melon_cmd_data(int argc, char **argv) {
    if (argc < 2) {
        print_data_help(stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0) {
        print_data_help(stdout);
        return 0;
    }
    if (strcmp(command, "stats") == 0)
        return melon_cmd_data_stats(argc - 1, argv + 1);
    data_args args = {.command = command};
    if (strcmp(command, "fetch") == 0) args.command_flag = CMD_FETCH;
    else if (strcmp(command, "list") == 0) args.command_flag = CMD_LIST;
    else if (strcmp(command, "path") == 0) args.command_flag = CMD_PATH;
    else
        return usage_error("unknown command '%s' for '%s'; valid commands: "
                           "fetch, list, path, stats",
                           command, "melon data");

    int status = parse_command_line(&args, argc, argv);
    if (status != 0) return status;
    if (args.help) {
        print_command_help(&args, stdout);
        return 0;
    }
    if (args.command_flag == CMD_FETCH) return run_fetch(&args);
    if (args.command_flag == CMD_LIST) return run_list(&args);
    return run_path(&args);
}
