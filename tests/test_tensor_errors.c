/* SPDX-License-Identifier: MIT */
/* clmse_mse refusals: exact statuses, no event, a message, and nothing written
 * (docs/errors.md names each case). */
#include "suites.h"
#include "tensor_harness.h"

#include <check.h>
#include <stdint.h>

enum { EBUF = 64 };

START_TEST(test_errors)
{
    const float data[EBUF] = {1, 2, 3, 4, 5, 6, 7, 8};
    cl_mem bx = th_buffer(tm_ctx, EBUF, 0, data, EBUF), by = th_buffer(tm_ctx, EBUF, 0, data, EBUF);
    cl_mem bg = th_buffer(tm_ctx, EBUF, 0, data, EBUF);
    cl_mem bout = th_buffer(tm_ctx, EBUF, 0, NULL, 0), bgx = th_buffer(tm_ctx, EBUF, 0, NULL, 0);
    cl_mem bgy = th_buffer(tm_ctx, EBUF, 0, NULL, 0);
    const size_t s4[1] = {4}, s5[1] = {5}, s2[1] = {2}, s22[2] = {2, 2}, s3[1] = {3};
    const size_t s31[2] = {3, 1}, s33[2] = {3, 3}, s14[2] = {1, 4};
    clmse_tensor x, y, out, out0, g, gx, gy;
    CHECK_OK(NULL, clmse_tensor_init(&x, bx, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&y, by, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&out, bout, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&out0, bout, CLMSE_DTYPE_F32, 0, NULL, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&g, bg, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&gx, bgx, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&gy, bgy, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    clmse_mse_args args = {CLMSE_REDUCTION_NONE, 0, &x, &y, &out, &g, &gx, &gy, 0};
    const clmse_mse_args *ap = &args;
    clmse_context *ctx = tm_ctx;
    cl_uint num_wait = 0;
    const cl_event *wait = NULL;
    cl_event user = NULL;
    cl_context other = NULL;
    cl_mem foreign = NULL;
    clmse_status want = CLMSE_SUCCESS;
    const int64_t far[1] = {100};
    /* A float dtype that is not the promoted float32 and that the device supports. */
    const clmse_dtype wide = tm_fp64 ? CLMSE_DTYPE_F64 : CLMSE_DTYPE_BF16;

    switch (_i) {
    case 0:
        want = CLMSE_SUCCESS;
        break; /* the control: the base call is valid */
    case 1:
        x.dtype = CLMSE_DTYPE_I32;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    case 2:
        y.dtype = CLMSE_DTYPE_BOOL;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    case 3:
        x.dtype = CLMSE_DTYPE_C64;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    case 4:
        y.dtype = CLMSE_DTYPE_C128;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    case 5:
        x.dtype = y.dtype = CLMSE_DTYPE_I64;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    /* Cases 6, 8, 9 and 26 use float64 where the device has it. Without fp64 any float64
     * tensor is refused first (CLMSE_ERROR_UNSUPPORTED_DTYPE), which would hide the check, so
     * they use a narrower dtype there. */
    case 6:
        out.dtype = wide;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    case 7:
        gx.dtype = CLMSE_DTYPE_F16;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    case 8:
        g.dtype = wide;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    case 9: /* the data promote to a dtype other than float32: a float32 output is wrong */
        x.dtype = gx.dtype = tm_fp64 ? CLMSE_DTYPE_F64 : CLMSE_DTYPE_F16;
        if (!tm_fp64) /* float16 with float32 would promote to float32 */
            y.dtype = gy.dtype = CLMSE_DTYPE_F16;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    case 10:
        out.shape[0] = 5;
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 11: /* same element count, wrong shape */
        CHECK_OK(NULL, clmse_tensor_init(&out, bout, CLMSE_DTYPE_F32, 2, s22, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 12: /* mean needs one element */
        args.reduction = CLMSE_REDUCTION_MEAN;
        args.grad_output = NULL;
        CHECK_OK(NULL, clmse_tensor_init(&out, bout, CLMSE_DTYPE_F32, 1, s2, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 13:
        args.reduction = CLMSE_REDUCTION_SUM;
        args.grad_output = NULL;
        want = CLMSE_ERROR_SHAPE_MISMATCH; /* output (4,) for sum */
        break;
    case 14:
        CHECK_OK(NULL, clmse_tensor_init(&gx, bgx, CLMSE_DTYPE_F32, 1, s5, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 15:
        CHECK_OK(NULL, clmse_tensor_init(&gy, bgy, CLMSE_DTYPE_F32, 2, s14, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 16:
        CHECK_OK(NULL, clmse_tensor_init(&g, bg, CLMSE_DTYPE_F32, 1, s3, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH; /* grad_output (3,) for none of (4,) */
        break;
    case 17: /* grad_output (2,) for sum */
        args.reduction = CLMSE_REDUCTION_SUM;
        args.output = &out0;
        CHECK_OK(NULL, clmse_tensor_init(&g, bg, CLMSE_DTYPE_F32, 1, s2, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 18: /* (4,) vs (3,) do not broadcast */
        CHECK_OK(NULL, clmse_tensor_init(&y, by, CLMSE_DTYPE_F32, 1, s3, NULL, 0));
        args.grad_target = NULL;
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 19: /* strict shapes: (3,1) vs (3,) is refused although it broadcasts */
        args.flags = CLMSE_STRICT_SHAPES;
        CHECK_OK(NULL, clmse_tensor_init(&x, bx, CLMSE_DTYPE_F32, 2, s31, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&y, by, CLMSE_DTYPE_F32, 1, s3, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&out, bout, CLMSE_DTYPE_F32, 2, s33, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&g, bg, CLMSE_DTYPE_F32, 2, s33, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&gx, bgx, CLMSE_DTYPE_F32, 2, s31, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&gy, bgy, CLMSE_DTYPE_F32, 1, s3, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 20:
        args.flags = 4u; /* no such flag (1 and 2 are STRICT_SHAPES and MEAN_COUNT) */
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    case 21:
        args.flags = 0x80000000u | CLMSE_STRICT_SHAPES;
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    case 22: /* strides reach past the buffer */
        CHECK_OK(NULL, clmse_tensor_init(&x, bx, CLMSE_DTYPE_F32, 1, s4, far, 0));
        want = CLMSE_ERROR_BUFFER_TOO_SMALL;
        break;
    case 23:
        out.offset = 70;
        want = CLMSE_ERROR_BUFFER_TOO_SMALL;
        break;
    case 24:
        y.offset = EBUF - 3;
        want = CLMSE_ERROR_BUFFER_TOO_SMALL;
        break; /* one too far */
    case 25:
        y.offset = EBUF - 4;
        want = CLMSE_SUCCESS;
        break; /* just fits */
    case 26:   /* a view of 8-byte elements (2-byte without fp64) that ends past the buffer */
        x.dtype = y.dtype = out0.dtype = tm_fp64 ? CLMSE_DTYPE_F64 : CLMSE_DTYPE_F16;
        /* 4 elements from there end 2 past the buffer: its size counts elements of x's dtype */
        x.offset = (tm_fp64 ? EBUF / 2 : EBUF * 2) - 2;
        args.output = &out0;
        args.grad_output = args.grad_input = args.grad_target = NULL;
        args.reduction = CLMSE_REDUCTION_SUM;
        want = CLMSE_ERROR_BUFFER_TOO_SMALL;
        break;
    case 27:
        y.buffer = NULL;
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    case 28:
        gx.buffer = NULL;
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    case 29:
        ap = NULL;
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    case 30:
        args.input = NULL;
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    case 31:
        args.target = NULL;
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    case 32:
        args.output = args.grad_input = args.grad_target = NULL;
        want = CLMSE_ERROR_INVALID_ARGUMENT; /* grad_output alone asks for nothing */
        break;
    case 33:
        args.reduction = (clmse_reduction)7;
        want = CLMSE_ERROR_INVALID_REDUCTION;
        break;
    case 34:
        args.reduction = (clmse_reduction)-1;
        want = CLMSE_ERROR_INVALID_REDUCTION;
        break;
    case 35:
        x.ndim = CLMSE_MAX_NDIM + 1;
        want = CLMSE_ERROR_INVALID_LAYOUT;
        break;
    case 36:
        out.strides[0] = -1;
        want = CLMSE_ERROR_INVALID_LAYOUT;
        break;
    case 37:
        y.strides[0] = -1;
        want = CLMSE_ERROR_INVALID_LAYOUT;
        break;
    case 38: { /* element counts that overflow size_t (every tensor, so nothing else fails) */
        clmse_tensor *all[6] = {&x, &y, &out, &g, &gx, &gy};
        for (int k = 0; k < 6; k++) {
            all[k]->ndim = 2;
            all[k]->shape[0] = SIZE_MAX / 2 + 1;
            all[k]->shape[1] = 4;
            all[k]->strides[0] = 0;
            all[k]->strides[1] = 1;
        }
        want = CLMSE_ERROR_SIZE_OVERFLOW;
        break;
    }
    case 39:
        num_wait = 1;
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    case 40: {
        cl_int err = CL_SUCCESS;
        user = clCreateUserEvent(th_cl_context(tm_ctx), &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        wait = &user; /* with num_wait 0 */
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    }
    case 41:
    case 42: { /* a buffer of another cl_context, as output (41) or input (42) */
        cl_device_id dev = NULL;
        ck_assert_int_eq(clmse_context_get_cl(tm_ctx, NULL, &dev, NULL), CLMSE_SUCCESS);
        cl_int err = CL_SUCCESS;
        other = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        foreign = clCreateBuffer(other, CL_MEM_READ_WRITE, EBUF * sizeof(float), NULL, &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        if (_i == 41)
            out.buffer = foreign;
        else
            x.buffer = foreign;
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    }
    case 43:
        ctx = NULL;
        want = CLMSE_ERROR_INVALID_HANDLE;
        break;
    default:
        ck_abort_msg("no case %d", _i);
        return;
    }

    cl_event ev = (cl_event)(void *)&tm_dummy_event;
    const clmse_status st = clmse_mse(ctx, ap, num_wait, wait, &ev);
    ck_assert_msg(st == want, "case %d: got %s (%d), want %s (%d): %s", _i, clmse_status_string(st),
                  (int)st, clmse_status_string(want), (int)want, clmse_context_last_error(ctx));
    if (want == CLMSE_SUCCESS) {
        th_finish_event(ev);
    } else {
        ck_assert_msg(ev == NULL, "case %d: *event was not reset to NULL", _i);
        ck_assert_msg(clmse_context_last_error(ctx)[0] != '\0', "case %d: no message", _i);
        ck_assert_int_eq(clFinish(tm_queue()), CL_SUCCESS);
        th_assert_untouched(tm_ctx, bout, EBUF);
        th_assert_untouched(tm_ctx, bgx, EBUF);
        th_assert_untouched(tm_ctx, bgy, EBUF);
    }
    /* Operands are never written. */
    float v[EBUF];
    th_buffer_read(tm_ctx, bx, EBUF, v, NULL);
    ck_assert_mem_eq(v, data, sizeof v);
    th_buffer_read(tm_ctx, by, EBUF, v, NULL);
    ck_assert_mem_eq(v, data, sizeof v);

    if (user)
        ck_assert_int_eq(clReleaseEvent(user), CL_SUCCESS);
    if (foreign)
        ck_assert_int_eq(clReleaseMemObject(foreign), CL_SUCCESS);
    if (other)
        ck_assert_int_eq(clReleaseContext(other), CL_SUCCESS);
    cl_mem bufs[] = {bx, by, bg, bout, bgx, bgy};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ck_assert_int_eq(clReleaseMemObject(bufs[i]), CL_SUCCESS);
}
END_TEST
#define N_ERROR_CASES 44

Suite *make_tensor_errors_suite(void)
{
    Suite *s = suite_create("tensor_errors");
    TCase *tc = th_device_tcase(s, "errors");
    tcase_add_checked_fixture(tc, tm_setup, tm_teardown);
    tcase_add_loop_test(tc, test_errors, 0, N_ERROR_CASES);
    return s;
}
