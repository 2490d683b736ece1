/* SPDX-License-Identifier: MIT */
/* The host layer in a few lines: the mean squared error of the classic 3-element example. */
#include <stdio.h>

#include <clmse.h>

int main(void)
{
    const float input[3] = {2.5f, 3.1f, 4.8f}, target[3] = {2.0f, 3.3f, 5.0f};
    clmse_context *ctx = NULL;
    clmse_status st;
    float loss = 0.0f;

    /* NULL options: $CLMSE_DEVICE, else the first GPU, else the first accelerator or device. */
    st = clmse_context_create(NULL, &ctx);
    if (st != CLMSE_SUCCESS) {
        fprintf(stderr, "host: %s: %s\n", clmse_status_string(st), clmse_context_last_error(NULL));
        return 1;
    }
    st = clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 3, input, target, &loss);
    if (st != CLMSE_SUCCESS)
        fprintf(stderr, "host: %s: %s\n", clmse_status_string(st), clmse_context_last_error(ctx));
    else
        printf("clmse %s: MSELoss([2.5, 3.1, 4.8], [2.0, 3.3, 5.0]) = %g\n", clmse_version(),
               (double)loss);
    clmse_context_release(ctx);
    if (st != CLMSE_SUCCESS)
        return 1;
    /* (0.25 + 0.04 + 0.04) / 3; written so that a NaN fails too. */
    if (!(loss > 0.11f - 1e-6f && loss < 0.11f + 1e-6f)) {
        fprintf(stderr, "host: expected 0.11\n");
        return 1;
    }
    return 0;
}
