/* SPDX-License-Identifier: MIT */
/* The MSE call that clmse-bench and clmse tune time, and the values they time it on. */
#include "workload.h"

uint64_t workload_mix_at(uint64_t seed, size_t i)
{
    uint64_t z = seed + ((uint64_t)i + 1) * UINT64_C(0x9E3779B97F4A7C15);

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

float workload_uniform_f32(uint64_t seed, size_t i)
{
    return (float)(workload_mix_at(seed, i) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

void workload_fill_f32(float *v, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = workload_uniform_f32(seed, i);
}

void workload_fill_f64(double *v, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (double)(workload_mix_at(seed, i) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

clmse_status workload_views(mse_workload *w)
{
    clmse_tensor *t[] = {&w->tx, &w->ty, &w->tgx, &w->tgy};
    cl_mem m[] = {w->x, w->y, w->gx, w->gy};
    clmse_status st = CLMSE_SUCCESS;

    for (size_t i = 0; i < 4 && st == CLMSE_SUCCESS; i++)
        st = clmse_tensor_init(t[i], m[i], w->dtype, 1, &w->n, NULL, 0);
    if (st == CLMSE_SUCCESS)
        st = clmse_tensor_init(&w->tloss, w->loss, w->dtype, 0, NULL, NULL, 0);
    return st;
}

clmse_status workload_enqueue(clmse_context *ctx, const mse_workload *w, clmse_op op)
{
    if (w->dtype == CLMSE_DTYPE_F64) {
        clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &w->tx, &w->ty, NULL, NULL, NULL, NULL, 0};

        if (op != CLMSE_OP_BACKWARD)
            a.output = &w->tloss;
        if (op != CLMSE_OP_FORWARD) {
            a.grad_input = &w->tgx;
            a.grad_target = &w->tgy;
        }
        return clmse_mse(ctx, &a, 0, NULL, NULL);
    }
    if (op == CLMSE_OP_FORWARD)
        return clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_MEAN, w->n, w->x, 0, w->y, 0, w->loss, 0,
                                     0, NULL, NULL);
    if (op == CLMSE_OP_BACKWARD)
        return clmse_mse_backward_f32(ctx, CLMSE_REDUCTION_MEAN, w->n, w->x, 0, w->y, 0, NULL, 0,
                                      w->gx, 0, w->gy, 0, 0, NULL, NULL);
    return clmse_mse_fused_f32(ctx, CLMSE_REDUCTION_MEAN, w->n, w->x, 0, w->y, 0, w->loss, 0, NULL,
                               0, w->gx, 0, w->gy, 0, 0, NULL, NULL);
}
