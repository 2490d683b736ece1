/* SPDX-License-Identifier: MIT */
/* The call that clmse-bench (bench/) and `clmse tune` time: one MSE operation, reduction mean,
 * on contiguous device buffers, through the public API only; and the values they fill them with. */
#ifndef CLMSE_TOOLS_WORKLOAD_H
#define CLMSE_TOOLS_WORKLOAD_H

#include <stdint.h>

#include "clmse.h"
#include "clmse_tuning.h"

typedef struct mse_workload {
    clmse_dtype dtype; /* CLMSE_DTYPE_F32 or CLMSE_DTYPE_F64 */
    size_t n;
    cl_mem x, y, gx, gy;                  /* n elements each */
    cl_mem loss;                          /* one element */
    clmse_tensor tx, ty, tloss, tgx, tgy; /* views over them, for clmse_mse() (float64) */
} mse_workload;

/* splitmix64 of the i-th state of the stream that starts at `seed`: the state advances by a
 * constant, so element i is computed on its own. The clmse tool's data all come from it. */
uint64_t workload_mix_at(uint64_t seed, size_t i);

/* A uniform value in [-1, 1) that depends on (seed, i) only, with 24 random bits: every value
 * is an exact float, so runs are reproducible anywhere. */
float workload_uniform_f32(uint64_t seed, size_t i);

/* v[i] = a uniform value in [-1, 1) that depends on (seed, i) only: 24 random bits for float
 * (workload_uniform_f32), 53 for double. */
void workload_fill_f32(float *v, size_t n, uint64_t seed);
void workload_fill_f64(double *v, size_t n, uint64_t seed);

/* Fills the tensor views from w's dtype, n and buffers. Statuses of clmse_tensor_init(). */
clmse_status workload_views(mse_workload *w);

/* Enqueues `op` on w with nothing to wait for and no event: float32 through the _f32 entry
 * points, float64 through clmse_mse() on the contiguous views (its contiguous path). */
clmse_status workload_enqueue(clmse_context *ctx, const mse_workload *w, clmse_op op);

#endif /* CLMSE_TOOLS_WORKLOAD_H */
