/* SPDX-License-Identifier: MIT */
/* The MSE call that bench and tune time. */
#include "workload.h"

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
        clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &w->tx, &w->ty, NULL, NULL, NULL, NULL};

        if (op != CLMSE_OP_BACKWARD)
            a.output = &w->tloss;
        if (op != CLMSE_OP_FORWARD) {
            a.grad_input = &w->tgx;
            a.grad_target = &w->tgy;
        }
        return clmse_mse(ctx, &a, 0, NULL, NULL);
    }
    if (op == CLMSE_OP_FORWARD)
        return clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_MEAN, w->n, w->x, 0, w->y, 0, w->loss,
                                     0, 0, NULL, NULL);
    if (op == CLMSE_OP_BACKWARD)
        return clmse_mse_backward_f32(ctx, CLMSE_REDUCTION_MEAN, w->n, w->x, 0, w->y, 0, NULL, 0,
                                      w->gx, 0, w->gy, 0, 0, NULL, NULL);
    return clmse_mse_forward_backward_f32(ctx, CLMSE_REDUCTION_MEAN, w->n, w->x, 0, w->y, 0,
                                          w->loss, 0, NULL, 0, w->gx, 0, w->gy, 0, 0, NULL, NULL);
}
