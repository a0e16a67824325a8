/* The reference configuration: every op's plain-C version. Each ISA's
 * providers then replace the ops it has (dispatch.c). */
#include "kernels/kernels.h"

void kernels_provide_scalar(kernel_table *table)
{
    *table = (kernel_table){
        .name = "scalar",
        .conv3x3 = NULL,
        .maxpool2x2_forward = maxpool2x2_forward_scalar,
        .maxpool2x2_backward = maxpool2x2_backward_scalar,
        .conv3x3_pool_backward_weights = conv3x3_pool_backward_weights_scalar,
        /* Window bits come only from AVX-512's one-input forward. */
        .conv3x3_pool_backward_weights_bits = NULL,
        .cosine_similarity = cosine_similarity_scalar,
        .cosine_loss = cosine_loss_scalar,
        .dense_forward = dense_forward_scalar,
        .dense_backward_input = dense_backward_input_scalar,
        .dense_backward_weights = dense_backward_weights_scalar,
        .dense_backward_weights_summed = dense_backward_weights_summed_scalar,
        .relu_backward = relu_backward_scalar,
        .pixels_to_float = pixels_to_float_scalar,
        .adamw_step = adamw_step_scalar,
        .resample = resample_scalar,
    };
}
