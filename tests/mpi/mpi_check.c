/* SPDX-License-Identifier: MIT */
/*
 * clmse.mpi, one run: a mean loss over n float32 elements split unevenly across the MPI ranks
 * (rank r holds a share proportional to r + 1) must give the same bits on every rank, within
 * one ulp of one process's clmse_mse() and of a long-double reference, and input gradients
 * bitwise equal to that one process's. Each rank computes its shard's partial with
 * clmse_mse_partial (mean over the global count), the partials are allgathered as bytes and
 * folded in rank order, and the fold is rounded once. Rank 0 also folds two contexts of its
 * own (multi-device in one process, the same functions) and the integer encoding summed by
 * MPI_SUM. cmake/check_mpi.cmake runs this with 1, 2 and 4 ranks, twice each, and compares
 * the loss_bits of the summary line every run prints:
 *   clmse.mpi ranks=R n=N loss_bits=0x... ... grad=bitwise step_ms=...
 * Usage: mpi_check [n]   (exit 0 pass, 1 fail)
 */
#include <mpi.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clmse.h>

#define DEFAULT_N 1000003u
#define STEPS 20 /* timed steps; every one must give the same bits */
#define SEED 0x6d7069u
#define MAX_PATH 4096

static int rank, ranks;

/* Stops every rank: a failed call leaves nothing to compare. */
static void die(const char *what, clmse_status st, const clmse_context *ctx)
{
    fprintf(stderr, "mpi_check rank %d: %s: %s: %s\n", rank, what, clmse_status_string(st),
            clmse_context_last_error(ctx));
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static void check_cl(cl_int err, const char *what)
{
    if (err != CL_SUCCESS) {
        fprintf(stderr, "mpi_check rank %d: %s failed with OpenCL error %d\n", rank, what,
                (int)err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

/* Element i of the input (j = 0) or the target (j = 1): an integer hash of the seed and the
 * index, so every rank makes the same array whatever part of it it holds. Values in [-2, 2)
 * on a 2^-22 grid. */
static float value_at(uint64_t i, unsigned j)
{
    uint64_t h = (2 * i + j) ^ ((uint64_t)SEED << 32);

    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9u; /* splitmix64's finaliser */
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebu;
    h ^= h >> 31;
    return (float)((int32_t)(h >> 40) - (1 << 23)) / 4194304.0f; /* 24 bits over 2^22 */
}

/* First element of rank r's shard: rank r holds a share proportional to r + 1. */
static uint64_t shard_start(uint64_t n, int r)
{
    uint64_t total = (uint64_t)ranks * (uint64_t)(ranks + 1) / 2;

    return n * ((uint64_t)r * (uint64_t)(r + 1) / 2) / total;
}

/*
 * POCL's kernel cache is shared by processes that name the same folder, and ranks that start
 * together compile the same kernels at the same moment. Each rank gets a folder of its own
 * (POCL_CACHE_DIR/mpi-rank<r>), which needs no assumption about how POCL writes its files
 * and keeps later runs fast (each rank's folder stays warm); warming a shared folder with one
 * rank first would also do, but only until the kernels change between two runs. The rank
 * comes from the launcher's environment, because MPI_Init may already load OpenCL: hwloc's
 * OpenCL plugin enumerates the devices while Open MPI discovers the topology.
 */
static int cache_rank_from_env(void)
{
    static const char *names[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return atoi(v);
    }
    return -1;
}

static void use_rank_cache(int r)
{
    const char *base = getenv("POCL_CACHE_DIR");
    char dir[MAX_PATH];

    if (!base || !*base || strstr(base, "/mpi-rank"))
        return; /* POCL's default folder, or already set */
    snprintf(dir, sizeof dir, "%s/mpi-rank%d", base, r);
    setenv("POCL_CACHE_DIR", dir, 1);
}

static uint32_t float_bits(float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof u);
    return u;
}

/* Distance in ulps between two floats of the same sign (UINT32_MAX for NaN or unlike signs). */
static uint32_t ulp_diff(float a, float b)
{
    uint32_t ua = float_bits(a), ub = float_bits(b);

    if (a != a || b != b || (ua ^ ub) >> 31)
        return ua == ub ? 0 : UINT32_MAX;
    return ua > ub ? ua - ub : ub - ua;
}

/* A device buffer holding `count` floats (copied from host when given), or NULL for none. */
static cl_mem make_buffer(clmse_context *ctx, size_t count, const float *host)
{
    cl_context context;
    cl_mem_flags flags;
    cl_mem mem;
    cl_int err;
    clmse_status st = clmse_context_get_cl(ctx, &context, NULL, NULL);

    if (st != CLMSE_SUCCESS)
        die("clmse_context_get_cl", st, ctx);
    if (count == 0)
        return NULL;
    flags = host ? CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR : CL_MEM_READ_WRITE;
    mem = clCreateBuffer(context, flags, count * sizeof(float), (void *)host, &err);
    check_cl(err, "clCreateBuffer");
    return mem;
}

static void read_buffer(clmse_context *ctx, cl_mem mem, size_t count, float *host)
{
    size_t bytes = count * sizeof(float);
    cl_command_queue queue;

    if (count == 0)
        return;
    clmse_context_get_cl(ctx, NULL, NULL, &queue);
    check_cl(clEnqueueReadBuffer(queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL),
             "clEnqueueReadBuffer");
}

/* A shard on one context: its operands and input gradient on the device. */
typedef struct shard {
    clmse_context *ctx;
    size_t count;
    cl_mem x, y, grad;
    clmse_tensor tx, ty, tgrad;
} shard;

static void shard_init(shard *s, clmse_context *ctx, const float *x, const float *y, size_t count)
{
    clmse_status st;

    s->ctx = ctx;
    s->count = count;
    s->x = make_buffer(ctx, count, x);
    s->y = make_buffer(ctx, count, y);
    s->grad = make_buffer(ctx, count, NULL);
    st = clmse_tensor_init(&s->tx, s->x, CLMSE_DTYPE_F32, 1, &count, NULL, 0);
    if (st == CLMSE_SUCCESS)
        st = clmse_tensor_init(&s->ty, s->y, CLMSE_DTYPE_F32, 1, &count, NULL, 0);
    if (st == CLMSE_SUCCESS)
        st = clmse_tensor_init(&s->tgrad, s->grad, CLMSE_DTYPE_F32, 1, &count, NULL, 0);
    if (st != CLMSE_SUCCESS)
        die("clmse_tensor_init", st, NULL);
}

static void shard_release(shard *s)
{
    cl_mem mems[3] = {s->x, s->y, s->grad};

    for (int i = 0; i < 3; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
}

/* The shard's partial of the mean over n_total elements, and its input gradient (2/n_total). */
static void shard_partial(shard *s, uint64_t n_total, clmse_partial *partial)
{
    clmse_mse_args args = {.reduction = CLMSE_REDUCTION_MEAN,
                           .flags = CLMSE_MEAN_COUNT,
                           .input = &s->tx,
                           .target = &s->ty,
                           .grad_input = &s->tgrad,
                           .mean_count = (size_t)n_total};
    clmse_status st = clmse_mse_partial(s->ctx, &args, partial, 0, NULL);

    if (st != CLMSE_SUCCESS)
        die("clmse_mse_partial", st, s->ctx);
}

static float round_mean(const clmse_partial *p)
{
    float loss;
    clmse_status st = clmse_partial_round(p, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F32, &loss);

    if (st != CLMSE_SUCCESS)
        die("clmse_partial_round", st, NULL);
    return loss;
}

/* One step of the data-parallel loss: this rank's partial, every rank's partial (allgather),
 * folded in rank order, rounded once. */
static float distributed_step(shard *s, uint64_t n_total, clmse_partial *all)
{
    clmse_partial mine, folded;
    clmse_status st;

    shard_partial(s, n_total, &mine);
    /* 32 bytes with the same layout everywhere (clmse.h): sent as bytes. */
    MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE,
                  MPI_COMM_WORLD);
    st = clmse_partial_fold(all, (size_t)ranks, &folded);
    if (st != CLMSE_SUCCESS)
        die("clmse_partial_fold", st, NULL);
    return round_mean(&folded);
}

/* The same loss through the integer encoding: MPI_SUM in whatever order Open MPI picks. */
static float encoded_loss(shard *s, uint64_t n_total)
{
    clmse_partial mine, sum;
    int64_t words[CLMSE_PARTIAL_WORDS], total[CLMSE_PARTIAL_WORDS];
    clmse_status st;

    shard_partial(s, n_total, &mine);
    st = clmse_partial_encode(&mine, words);
    if (st != CLMSE_SUCCESS)
        die("clmse_partial_encode", st, NULL);
    MPI_Allreduce(words, total, CLMSE_PARTIAL_WORDS, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    st = clmse_partial_decode(total, &sum);
    if (st != CLMSE_SUCCESS)
        die("clmse_partial_decode", st, NULL);
    return round_mean(&sum);
}

/* 1 when every rank holds the same 32 bits. */
static int same_on_all_ranks(uint32_t bits)
{
    uint32_t lo, hi;

    MPI_Allreduce(&bits, &lo, 1, MPI_UINT32_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&bits, &hi, 1, MPI_UINT32_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

static int fail(const char *fmt, const char *what, double a, double b)
{
    fprintf(stderr, "mpi_check rank %d: FAIL: ", rank);
    fprintf(stderr, fmt, what, a, b);
    fputc('\n', stderr);
    return 1;
}

/* Rank 0's own view: the whole array in one clmse_mse() call, a long-double reference, and
 * two contexts folded in device order. */
typedef struct single {
    float loss, reference, two_contexts;
    float *grad;       /* n elements */
    int two_grad_same; /* the two contexts' gradients equal grad bitwise */
    double ms;         /* per clmse_mse() call */
} single;

static void single_process(clmse_context *ctx, const float *x, const float *y, size_t n,
                           single *out)
{
    shard s;
    cl_mem loss_buf = make_buffer(ctx, 1, NULL);
    clmse_tensor tloss;
    long double sum = 0;
    clmse_status st;

    shard_init(&s, ctx, x, y, n);
    st = clmse_tensor_init(&tloss, loss_buf, CLMSE_DTYPE_F32, 0, NULL, NULL, 0);
    if (st != CLMSE_SUCCESS)
        die("clmse_tensor_init", st, NULL);
    {
        clmse_mse_args args = {.reduction = CLMSE_REDUCTION_MEAN,
                               .input = &s.tx,
                               .target = &s.ty,
                               .output = &tloss,
                               .grad_input = &s.tgrad};
        cl_command_queue queue;
        double t0 = 0;

        clmse_context_get_cl(ctx, NULL, NULL, &queue);
        for (int i = 0; i <= STEPS; i++) {
            if (i == 1) /* the first call builds the kernels: not timed */
                t0 = MPI_Wtime();
            st = clmse_mse(ctx, &args, 0, NULL, NULL);
            if (st != CLMSE_SUCCESS)
                die("clmse_mse", st, ctx);
            check_cl(clFinish(queue), "clFinish");
        }
        out->ms = (MPI_Wtime() - t0) * 1e3 / STEPS;
    }
    read_buffer(ctx, loss_buf, 1, &out->loss);
    read_buffer(ctx, s.grad, n, out->grad);
    clReleaseMemObject(loss_buf);
    shard_release(&s);

    /* The terms rounded as torch rounds them, d = x - y then d * d in float, summed in long
     * double (64-bit significand: exact enough for one ulp of float at this size). */
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - y[i];
        float t = d * d;
        sum += t;
    }
    out->reference = (float)(sum / (long double)n);

    /* Two contexts on the default device, an uneven split, folded in device order. */
    {
        clmse_context *second;
        shard a, b;
        clmse_partial parts[2], folded;
        size_t cut = n / 3;
        float *grad = malloc(n * sizeof *grad);

        st = clmse_context_create(NULL, &second);
        if (st != CLMSE_SUCCESS)
            die("clmse_context_create (second)", st, NULL);
        if (!grad)
            die("malloc", CLMSE_ERROR_OUT_OF_HOST_MEMORY, NULL);
        shard_init(&a, ctx, x, y, cut);
        shard_init(&b, second, x + cut, y + cut, n - cut);
        shard_partial(&a, n, &parts[0]);
        shard_partial(&b, n, &parts[1]);
        st = clmse_partial_fold(parts, 2, &folded);
        if (st != CLMSE_SUCCESS)
            die("clmse_partial_fold", st, NULL);
        out->two_contexts = round_mean(&folded);
        read_buffer(ctx, a.grad, cut, grad);
        read_buffer(second, b.grad, n - cut, grad + cut);
        out->two_grad_same = memcmp(grad, out->grad, n * sizeof *grad) == 0;
        shard_release(&a);
        shard_release(&b);
        clmse_context_release(second);
        free(grad);
    }
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : DEFAULT_N, n_local, n_total = 0;
    uint64_t start, end;
    int cache_rank = cache_rank_from_env(), failures = 0, total_failures = 0, grad_ok = 1;
    clmse_context *ctx = NULL;
    clmse_device_info info;
    clmse_partial *all;
    float *x, *y, *grad, loss = 0, first = 0, encoded;
    int *counts = NULL, *displs = NULL;
    single one = {0};
    double t0, ms, ms_max;
    shard s;
    clmse_status st;

    if (cache_rank >= 0)
        use_rank_cache(cache_rank);
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (cache_rank != rank) /* no launcher variable, or another numbering */
        use_rank_cache(rank);
    if (n == 0 || n > INT32_MAX) { /* MPI_Gatherv counts are ints */
        if (rank == 0)
            fprintf(stderr, "usage: mpi_check [n]   (1 <= n <= 2^31 - 1)\n");
        MPI_Finalize();
        return 2;
    }

    /* This rank's shard of the arrays every rank could make whole. */
    start = shard_start(n, rank);
    end = rank + 1 == ranks ? n : shard_start(n, rank + 1);
    n_local = end - start;
    x = malloc((n_local + 1) * sizeof *x);
    y = malloc((n_local + 1) * sizeof *y);
    grad = malloc((n_local + 1) * sizeof *grad);
    all = malloc((size_t)ranks * sizeof *all);
    if (!x || !y || !grad || !all)
        die("malloc", CLMSE_ERROR_OUT_OF_HOST_MEMORY, NULL);
    for (uint64_t i = 0; i < n_local; i++) {
        x[i] = value_at(start + i, 0);
        y[i] = value_at(start + i, 1);
    }

    st = clmse_context_create(NULL, &ctx);
    if (st == CLMSE_ERROR_NO_PLATFORM || st == CLMSE_ERROR_NO_DEVICE) {
        const char *req = getenv("CLMSE_REQUIRE_DEVICE");

        /* Every rank sees the same devices, so every rank ends here; the driver reports the
         * skip (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt). */
        if (!(req && strcmp(req, "1") == 0)) {
            if (rank == 0)
                printf("clmse.mpi: skipped: no OpenCL device (%s)\n", clmse_status_string(st));
            MPI_Finalize();
            return 0;
        }
    }
    if (st != CLMSE_SUCCESS)
        die("clmse_context_create", st, NULL);
    st = clmse_context_device_info(ctx, &info);
    if (st != CLMSE_SUCCESS)
        die("clmse_context_device_info", st, ctx);
    shard_init(&s, ctx, x, y, (size_t)n_local);

    /* The global count, exchanged once: mean divides by it, gradients scale by 2 / it. */
    MPI_Allreduce(&n_local, &n_total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    if (n_total != n)
        die("the shards' counts do not add up", CLMSE_ERROR_INTERNAL, NULL);

    /* Step 0 builds the kernels; the timed steps must repeat its bits exactly. */
    first = distributed_step(&s, n_total, all);
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = MPI_Wtime();
    for (int i = 0; i < STEPS; i++) {
        loss = distributed_step(&s, n_total, all);
        if (float_bits(loss) != float_bits(first))
            failures += fail("%s: step loss %a, first %a", "repeat", loss, first);
    }
    ms = (MPI_Wtime() - t0) * 1e3 / STEPS;
    MPI_Reduce(&ms, &ms_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    read_buffer(ctx, s.grad, (size_t)n_local, grad);
    encoded = encoded_loss(&s, n_total);

    if (!same_on_all_ranks(float_bits(loss)))
        failures +=
            fail("%s: this rank's loss %a (%g) differs from another rank's", "ranks", loss, loss);
    if (!same_on_all_ranks(float_bits(encoded)))
        failures += fail("%s: this rank's loss %a (%g) differs from another rank's",
                         "encoded ranks", encoded, encoded);

    /* Rank 0: the shards' gradients, gathered, against one process's. */
    if (rank == 0) {
        counts = malloc((size_t)ranks * sizeof *counts);
        displs = malloc((size_t)ranks * sizeof *displs);
        one.grad = malloc(n * sizeof *one.grad);
        if (!counts || !displs || !one.grad)
            die("malloc", CLMSE_ERROR_OUT_OF_HOST_MEMORY, NULL);
        for (int r = 0; r < ranks; r++) {
            uint64_t a = shard_start(n, r), b = r + 1 == ranks ? n : shard_start(n, r + 1);
            counts[r] = (int)(b - a);
            displs[r] = (int)a;
        }
    }
    {
        float *gathered = rank == 0 ? malloc(n * sizeof *gathered) : NULL;

        if (rank == 0 && !gathered)
            die("malloc", CLMSE_ERROR_OUT_OF_HOST_MEMORY, NULL);
        MPI_Gatherv(grad, (int)n_local, MPI_FLOAT, gathered, counts, displs, MPI_FLOAT, 0,
                    MPI_COMM_WORLD);
        if (rank == 0) {
            float *wx = malloc(n * sizeof *wx), *wy = malloc(n * sizeof *wy);
            size_t bad = 0, first_bad = 0;

            if (!wx || !wy)
                die("malloc", CLMSE_ERROR_OUT_OF_HOST_MEMORY, NULL);
            for (uint64_t i = 0; i < n; i++) {
                wx[i] = value_at(i, 0);
                wy[i] = value_at(i, 1);
            }
            single_process(ctx, wx, wy, (size_t)n, &one);
            for (size_t i = 0; i < n; i++) {
                if (float_bits(gathered[i]) != float_bits(one.grad[i]) && bad++ == 0)
                    first_bad = i;
            }
            if (bad) {
                fprintf(stderr,
                        "mpi_check: FAIL: %zu of %" PRIu64 " input-gradient elements differ "
                        "from one process's; the first at %zu: %a, not %a\n",
                        bad, n, first_bad, (double)gathered[first_bad],
                        (double)one.grad[first_bad]);
                failures++;
                grad_ok = 0;
            }
            if (ulp_diff(loss, one.loss) > 1)
                failures +=
                    fail("%s: loss %a, one process's clmse_mse %a", "single", loss, one.loss);
            if (ulp_diff(loss, one.reference) > 1)
                failures +=
                    fail("%s: loss %a, long-double reference %a", "reference", loss, one.reference);
            if (ulp_diff(encoded, one.reference) > 1)
                failures += fail("%s: encoded loss %a, long-double reference %a", "encoded",
                                 encoded, one.reference);
            if (ulp_diff(one.two_contexts, one.loss) > 1)
                failures += fail("%s: two contexts' loss %a, one context's %a", "two contexts",
                                 one.two_contexts, one.loss);
            if (!one.two_grad_same) {
                fprintf(stderr, "mpi_check: FAIL: the two contexts' input gradient differs "
                                "from one context's\n");
                failures++;
            }
            free(wx);
            free(wy);
        }
        free(gathered);
    }

    MPI_Allreduce(&failures, &total_failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("device: %s (%s)\n", info.name, info.platform_name);
        for (int r = 0; r < ranks; r++)
            printf("rank %d: elements [%d, %d)\n", r, displs[r], displs[r] + counts[r]);
        printf("clmse.mpi ranks=%d n=%" PRIu64 " loss_bits=0x%08" PRIx32 " loss=%.9g"
               " single_bits=0x%08" PRIx32 " reference_bits=0x%08" PRIx32
               " encoded_bits=0x%08" PRIx32 " two_contexts_bits=0x%08" PRIx32
               " grad=%s step_ms=%.3f single_ms=%.3f result=%s\n",
               ranks, n, float_bits(loss), (double)loss, float_bits(one.loss),
               float_bits(one.reference), float_bits(encoded), float_bits(one.two_contexts),
               grad_ok ? "bitwise" : "DIFFERS", ms_max, one.ms, total_failures ? "FAIL" : "pass");
        fflush(stdout);
    }

    shard_release(&s);
    clmse_context_release(ctx);
    free(x);
    free(y);
    free(grad);
    free(all);
    free(counts);
    free(displs);
    free(one.grad);
    MPI_Finalize();
    return total_failures ? 1 : 0;
}
