/* Internal: G of Winograd F(4x4, 3x3), U = G g G^T, shared by the packings
 * (winograd4_pack.c, winograd4_pack_avx512.c). */
#ifndef COSNET_KERNELS_WINOGRAD4_TRANSFORM_H
#define COSNET_KERNELS_WINOGRAD4_TRANSFORM_H

static const double winograd4_transform_g[6][3] = {
    {1.0 / 4, 0.0, 0.0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0.0, 0.0, 1.0}};

#endif
