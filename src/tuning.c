/* SPDX-License-Identifier: MIT */
/* Tuning files: where a device's file lives, reading it (all or nothing) into the plan table,
 * and writing the table back atomically. */
#define _POSIX_C_SOURCE 200809L /* mkdir, getpid, fdopen under strict -std=c11 */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TUNING_MAGIC "clmse-tuning 1"
#define TUNING_MAX_BYTES (64 * 1024)
#define NAME_CHARS 48 /* of the device name in the file name */

static const char *const dtype_tags[CLMSE__PLAN_DTYPES] = {"f32", "f64"};

/* FNV-1a over the strings that make a device and driver what they are, NULs included. */
static uint64_t identity_hash(const clmse_device_info *info)
{
    const char *parts[] = {info->platform_name, info->name, info->vendor, info->version,
                           info->driver_version};
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        for (const unsigned char *c = (const unsigned char *)parts[i];; c++) {
            h = (h ^ *c) * 1099511628211ull;
            if (*c == '\0')
                break;
        }
    return h;
}

/* <dir>/<device name, filename-safe>-<hash>.tune */
static int device_file(const clmse_device_info *info, const char *dir, char *out, size_t cap)
{
    char name[NAME_CHARS + 1];
    size_t k = 0;
    for (const char *c = info->name; *c != '\0' && k < NAME_CHARS; c++) {
        const int safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                         (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.';
        name[k++] = safe ? *c : '_';
    }
    name[k] = '\0';
    int len = snprintf(out, cap, "%s/%s-%016llx.tune", dir, k ? name : "device",
                       (unsigned long long)identity_hash(info));
    return len > 0 && (size_t)len < cap;
}

/* Decides the tuning file for `file` (as clmse_context_options.tuning_file) into path; 0 when
 * there is none, with the reason in why. */
static int resolve_path(const clmse_device_info *info, const char *file, char *path,
                        size_t path_cap, char *why, size_t why_cap)
{
    const char *env = getenv("CLMSE_TUNING_FILE");
    path[0] = '\0';
    if (file == NULL && env != NULL) {
        if (env[0] == '\0' || strcmp(env, "off") == 0) {
            snprintf(why, why_cap, "disabled (CLMSE_TUNING_FILE=%s)", env);
            return 0;
        }
        file = env;
    }
    if (file != NULL && file[0] == '\0') {
        snprintf(why, why_cap, "disabled (options.tuning_file is \"\")");
        return 0;
    }
    if (file != NULL) {
        if (strlen(file) >= path_cap) {
            snprintf(why, why_cap, "ignored: the tuning file's path is longer than %zu bytes",
                     path_cap - 1);
            return 0;
        }
        snprintf(path, path_cap, "%s", file);
        return 1;
    }
    char dir[4096];
    const char *d = getenv("CLMSE_TUNING_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    int len;
    if (d != NULL && d[0] != '\0')
        len = snprintf(dir, sizeof dir, "%s", d);
    else if (xdg != NULL && xdg[0] == '/') /* XDG: relative paths are to be ignored */
        len = snprintf(dir, sizeof dir, "%s/clmse", xdg);
    else if (home != NULL && home[0] != '\0')
        len = snprintf(dir, sizeof dir, "%s/.cache/clmse", home);
    else {
        snprintf(why, why_cap, "none: no directory (set CLMSE_TUNING_DIR, XDG_CACHE_HOME or HOME)");
        return 0;
    }
    if (len < 0 || (size_t)len >= sizeof dir || !device_file(info, dir, path, path_cap)) {
        path[0] = '\0';
        snprintf(why, why_cap, "ignored: the tuning directory's path is too long");
        return 0;
    }
    return 1;
}

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct parse_state {
    const clmse_device_info *info;
    clmse_plan plans[CLMSE__PLAN_DTYPES][CLMSE__PLAN_OPS][CLMSE__PLAN_CLASSES];
    int seen[CLMSE__PLAN_DTYPES][CLMSE__PLAN_OPS][CLMSE__PLAN_CLASSES];
    int have_magic, have_platform, have_device, have_driver;
    size_t count;
    char *why;
    size_t why_cap;
} parse_state;

static int lookup(const char *word, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(word, names[i]) == 0)
            return i;
    return -1;
}

/* A decimal size: digits only, no sign, no overflow. */
static int parse_size(const char *word, size_t *out)
{
    size_t v = 0;
    if (*word == '\0')
        return 0;
    for (const char *c = word; *c != '\0'; c++) {
        if (*c < '0' || *c > '9' || v > (SIZE_MAX - (size_t)(*c - '0')) / 10)
            return 0;
        v = v * 10 + (size_t)(*c - '0');
    }
    *out = v;
    return 1;
}

#define PLAN_WORDS 10

static int parse_plan(parse_state *s, char *rest)
{
    char *words[PLAN_WORDS + 1];
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(rest, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save))
        if (n <= PLAN_WORDS)
            words[n++] = tok;
    if (n != PLAN_WORDS - 1) {
        snprintf(s->why, s->why_cap, "a plan line has %s%d fields after \"plan\", not %d",
                 n > PLAN_WORDS ? "more than " : "", n > PLAN_WORDS ? PLAN_WORDS : n,
                 PLAN_WORDS - 1);
        return 0;
    }
    const int d = lookup(words[0], dtype_tags, CLMSE__PLAN_DTYPES);
    const int o = lookup(words[1], clmse__op_names, CLMSE__PLAN_OPS);
    const int c = lookup(words[2], clmse__class_names, CLMSE__PLAN_CLASSES);
    const int sh = lookup(words[3], clmse__shape_names, 2);
    if (d < 0 || o < 0 || c < 0 || sh < 0) {
        snprintf(s->why, s->why_cap, "unknown %s '%s'",
                 d < 0   ? "dtype"
                 : o < 0 ? "op"
                 : c < 0 ? "size class"
                         : "shape",
                 words[d < 0   ? 0
                       : o < 0 ? 1
                       : c < 0 ? 2
                               : 3]);
        return 0;
    }
    if (d == CLMSE_DTYPE_F64 && !s->info->has_fp64) {
        snprintf(s->why, s->why_cap, "a float64 plan, but the device has no fp64");
        return 0;
    }
    clmse_plan p;
    p.shape = (clmse_plan_shape)sh;
    size_t *fields[] = {&p.work_group_size, &p.vector_width, &p.max_groups, &p.min_per_item,
                        &p.final_work_group_size};
    for (int i = 0; i < 5; i++)
        if (!parse_size(words[4 + i], fields[i])) {
            snprintf(s->why, s->why_cap, "'%s' is not a size", words[4 + i]);
            return 0;
        }
    if (s->seen[d][o][c]) {
        snprintf(s->why, s->why_cap, "a second plan for %s %s %s", words[0], words[1], words[2]);
        return 0;
    }
    char problem[400];
    if (clmse__plan_problem(s->info, &p, problem, sizeof problem)) {
        snprintf(s->why, s->why_cap, "%s", problem);
        return 0;
    }
    s->plans[d][o][c] = p;
    s->seen[d][o][c] = 1;
    s->count++;
    return 1;
}

/* One line, without its newline. Returns 0 with the reason in s->why. */
static int parse_line(parse_state *s, char *line)
{
    if (line[0] == '\0' || line[0] == '#')
        return 1;
    if (!s->have_magic) {
        if (strcmp(line, TUNING_MAGIC) != 0) {
            snprintf(s->why, s->why_cap,
                     "not a clmse tuning file (no \"" TUNING_MAGIC "\" line first)");
            return 0;
        }
        s->have_magic = 1;
        return 1;
    }
    struct {
        const char *key, *expected;
        int *seen;
    } ids[] = {{"platform ", s->info->platform_name, &s->have_platform},
               {"device ", s->info->name, &s->have_device},
               {"driver ", s->info->driver_version, &s->have_driver}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const size_t klen = strlen(ids[i].key);
        if (strncmp(line, ids[i].key, klen) != 0)
            continue;
        if (strcmp(line + klen, ids[i].expected) != 0) {
            snprintf(s->why, s->why_cap, "written for %s'%.200s', this is '%.200s'", ids[i].key,
                     line + klen, ids[i].expected);
            return 0;
        }
        *ids[i].seen = 1;
        return 1;
    }
    if (strncmp(line, "plan ", 5) == 0) {
        if (!s->have_platform || !s->have_device || !s->have_driver) {
            snprintf(s->why, s->why_cap, "a plan before the platform, device and driver lines");
            return 0;
        }
        return parse_plan(s, line + 5);
    }
    snprintf(s->why, s->why_cap, "unknown line '%.60s'", line);
    return 0;
}

/* Reads at most TUNING_MAX_BYTES; returns 0 with a reason. */
static int read_text(const char *path, char **text, size_t *len, char *why, size_t cap,
                     int *missing)
{
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *missing = errno == ENOENT;
        snprintf(why, cap, "%s", strerror(errno));
        return 0;
    }
    char *buf = malloc(TUNING_MAX_BYTES + 1);
    size_t got = buf ? fread(buf, 1, TUNING_MAX_BYTES + 1, f) : 0;
    const int failed = buf == NULL || ferror(f);
    fclose(f);
    if (failed || got > TUNING_MAX_BYTES) {
        snprintf(why, cap, "%s",
                 buf == NULL ? "no memory to read it"
                 : failed    ? "read error"
                             : "larger than 64 KiB");
        free(buf);
        return 0;
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 1;
}

void clmse__tuning_load(clmse_context *ctx, const char *file)
{
    char path[4096], why[600] = "";
    ctx->tuning[0] = '\0';
    if (!resolve_path(&ctx->info, file, path, sizeof path, ctx->tuning, sizeof ctx->tuning))
        return;
    char *text = NULL;
    size_t len = 0;
    int missing = 0;
    if (!read_text(path, &text, &len, why, sizeof why, &missing)) {
        if (missing)
            snprintf(ctx->tuning, sizeof ctx->tuning, "none at %s", path);
        else
            snprintf(ctx->tuning, sizeof ctx->tuning, "ignored %s: %s", path, why);
        return;
    }
    parse_state s;
    memset(&s, 0, sizeof s);
    s.info = &ctx->info;
    s.why = why;
    s.why_cap = sizeof why;
    int ok = strlen(text) == len; /* a NUL inside is no text file */
    if (!ok)
        snprintf(why, sizeof why, "it holds a NUL byte");
    size_t line_no = 0;
    for (char *line = text, *next; ok && line != NULL && *line != '\0'; line = next) {
        line_no++;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (!parse_line(&s, line)) {
            char reason[sizeof why];
            snprintf(reason, sizeof reason, "%s", why);
            snprintf(why, sizeof why, "line %zu: %.560s", line_no, reason);
            ok = 0;
        }
    }
    if (ok && !s.have_magic) {
        snprintf(why, sizeof why, "empty");
        ok = 0;
    }
    if (ok && (!s.have_platform || !s.have_device || !s.have_driver)) {
        snprintf(why, sizeof why, "no platform, device or driver line");
        ok = 0;
    }
    free(text);
    if (!ok) {
        snprintf(ctx->tuning, sizeof ctx->tuning, "ignored %s: %s", path, why);
        return;
    }
    for (int d = 0; d < CLMSE__PLAN_DTYPES; d++)
        for (int o = 0; o < CLMSE__PLAN_OPS; o++)
            for (int c = 0; c < CLMSE__PLAN_CLASSES; c++)
                if (s.seen[d][o][c]) {
                    ctx->plans[d][o][c] = s.plans[d][o][c];
                    ctx->plan_sources[d][o][c] = CLMSE_PLAN_TUNED;
                }
    snprintf(ctx->tuning, sizeof ctx->tuning, "loaded %s (%zu plan%s)", path, s.count,
             s.count == 1 ? "" : "s");
}

const char *clmse_context_tuning(const clmse_context *ctx)
{
    if (ctx == NULL || ctx->magic != CLMSE__CONTEXT_MAGIC)
        return "";
    return ctx->tuning;
}

/* ---- writing ----------------------------------------------------------------------------- */

/* mkdir -p of the directories above `path`. */
static int make_parents(char *path)
{
    for (char *slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        const int bad = mkdir(path, 0755) != 0 && errno != EEXIST;
        *slash = '/';
        if (bad)
            return 0;
    }
    return 1;
}

static int write_plans(clmse_context *ctx, FILE *f)
{
    const clmse_device_info *info = &ctx->info;
    fprintf(f,
            TUNING_MAGIC "\n# written by clmse %s (clmse tune); read by every clmse context "
                         "on this device\nplatform %s\ndevice %s\ndriver %s\n",
            clmse_version(), info->platform_name, info->name, info->driver_version);
    fprintf(f, "# plan DTYPE OP SIZE_CLASS SHAPE WORK_GROUP VECTOR MAX_GROUPS MIN_PER_ITEM "
               "FINAL_WORK_GROUP\n");
    for (int d = 0; d < CLMSE__PLAN_DTYPES; d++) {
        if (d == CLMSE_DTYPE_F64 && !info->has_fp64)
            continue;
        for (int o = 0; o < CLMSE__PLAN_OPS; o++)
            for (int c = 0; c < CLMSE__PLAN_CLASSES; c++) {
                const clmse_plan *p = &ctx->plans[d][o][c];
                fprintf(f, "plan %s %s %s %s %zu %zu %zu %zu %zu\n", dtype_tags[d],
                        clmse_op_name((clmse_op)o), clmse_size_class_name((clmse_size_class)c),
                        clmse_plan_shape_name(p->shape), p->work_group_size, p->vector_width,
                        p->max_groups, p->min_per_item, p->final_work_group_size);
            }
    }
    return ferror(f) == 0;
}

clmse_status clmse_context_save_tuning(clmse_context *ctx, const char *path)
{
    CLMSE_FORWARD(clmse__check_context(ctx));
    char target[4096], temp[4200], why[256];
    if (path != NULL && path[0] == '\0')
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                           "clmse_context_save_tuning: the path is \"\"");
    /* NULL: the file a context created with default options would load. */
    if (!resolve_path(&ctx->info, path, target, sizeof target, why, sizeof why))
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                           "clmse_context_save_tuning: no path given and %s", why);
    if (path == NULL && !make_parents(target))
        return clmse__fail(ctx, CLMSE_ERROR_IO, CL_SUCCESS,
                           "clmse_context_save_tuning: cannot create the directory of %s: %s",
                           target, strerror(errno));
    /* A name no other writer holds: this process's id and the first free number. */
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(temp, sizeof temp, "%s.tmp.%ld.%d", target, (long)getpid(), attempt);
        fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        const int e = errno;
        if (fd >= 0)
            close(fd);
        return clmse__fail(ctx, CLMSE_ERROR_IO, CL_SUCCESS,
                           "clmse_context_save_tuning: cannot create %s: %s", temp, strerror(e));
    }
    pthread_mutex_lock(&ctx->lock);
    int ok = write_plans(ctx, f);
    pthread_mutex_unlock(&ctx->lock);
    ok = fclose(f) == 0 && ok;
    const int e = errno;
    if (!ok || rename(temp, target) != 0) {
        const int e2 = ok ? errno : e;
        unlink(temp);
        return clmse__fail(
            ctx, CLMSE_ERROR_IO, CL_SUCCESS, "clmse_context_save_tuning: cannot %s %s: %s",
            ok ? "rename the new file to" : "write", ok ? target : temp, strerror(e2));
    }
    return CLMSE_SUCCESS;
}
