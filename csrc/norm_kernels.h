/* Loop bodies of cs231n_fast._ext.norm (batch, spatial batch, layer and group normalisation).
 *
 * Statistics: two passes in float64 for both dtypes. The first pass sums the values, the mean
 * is that sum / count; the second sums the squared deviations from that mean (computed in
 * float64), the biased variance is that sum / count. A float32 input is widened to float64
 * element by element, so the statistics of float32 data carry no float32 rounding at all, and
 * the second pass has no cancellation (a constant input gives a variance of exactly 0; an
 * offset of 1e4 on unit-variance data costs nothing). Backward sums (sum of dout, sum of
 * dout * xhat) accumulate in float64 too.
 *
 * Determinism: every sum over a contiguous run goes into CS_NRM_PARTS = 32 float64 partial
 * sums, element i of a run into partial sum i % 32 (runs of one channel in their order), the
 * partial sums added in a fixed order (cs_nrm_total); column sums ("cols" functions) add the rows in row order, one running sum per column,
 * vectorised across the columns. Nothing depends on the vector width, so the AVX-512, AVX2,
 * baseline and scalar builds give the same bits (with -ffp-contract=off, setup.py).
 *
 * Elementwise passes run in the compute dtype:
 *   xhat = (x - mean) * ivar,  out = xhat * gamma + beta,
 *   dx = ivar * (dout * gamma - A - xhat * B)
 * with A = mean of dxhat = dout * gamma and B = mean of dxhat * xhat over the normalised set
 * (the course's closed form), or dx = (dout * gamma) * ivar when the statistics are constants
 * (batch normalisation in test mode). xhat is recomputed in the backward from the cached mean and
 * ivar rather than stored by the forward (as PyTorch does): a forward then writes one array
 * instead of two, and the backward reads x instead of xhat.
 *
 * The float and double versions are one source, norm_kernels_impl.h, included once per type.
 */
#ifndef CS231N_FAST_NORM_KERNELS_H
#define CS231N_FAST_NORM_KERNELS_H

#include <math.h>
#include <stddef.h>
#include "simd.h"

/* Partial sums of the reductions over contiguous runs: the statistics put element i of a run
 * into partial sum i % CS_NRM_PARTS (32: two vectors' worth of additions in flight), the
 * backward's two sums (each its own loop over the run, which is in L1 the second time: GCC
 * vectorises a lane loop feeding one set of partial sums, not two) into i % CS_LANES. The
 * partial sums are then added in a fixed order (cs_nrm_total, cs_sum_lanes_d). Measured on one
 * (64, 1, 1024) float32 channel, CPU time per call: forward 25 us, backward 36 us, where
 * hand-written four-lane generic vectors took 43 and 50 (GCC converted float to double vectors
 * two elements at a time) and the first version, two sets of partial sums in one loop, 33 and
 * 190 (that loop was scalarised). */
#define CS_NRM_PARTS (2 * CS_LANES)


/* Columns per block of the (N, D) kernels: the unit of the parallel partition over features
 * (a function of D only) and the width of the vectorised row walk. */
#define CS_NRM_COLS 64

#define CS_NRM_CAT_(a, b) a##b
#define CS_NRM_CAT(a, b) CS_NRM_CAT_(a, b)

#define CS_T float
#define CS_F(name) CS_NRM_CAT(name, _f)
#include "norm_kernels_impl.h"

#define CS_T double
#define CS_F(name) CS_NRM_CAT(name, _d)
#include "norm_kernels_impl.h"

#endif /* CS231N_FAST_NORM_KERNELS_H */
