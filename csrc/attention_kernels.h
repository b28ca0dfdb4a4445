/* Row kernels of cs231n_fast._ext.attention: the masked, numerically stable softmax of a block of
 * attention scores, the attention dropout, and the softmax's backward (ds = p * (dp - rowsum(p *
 * dp))), each over the rows of one (batch, head) block that the GEMMs around them produce.
 *
 * Softmax of one row (in place): the additive mask first (s = add == -inf ? -inf : s + add, so a
 * masked entry is -inf whatever its score, masked_fill's rule), then the maximum m (CS_LANES
 * running maxima: exact, so their order does not matter; NaN skipped here reaches every result
 * through its exponential), e = exp(s - m) with rnn_kernels.h's exp (arguments <= 0 or NaN:
 * exactly cs_expn's domain; the vector and scalar forms give the same bits), the sum of the e in
 * CS_LANES partial sums added in a fixed order (simd.h: bits independent of the vector width)
 * and p = e * (1 / sum). A row whose maximum is -inf (every key masked) becomes zeros.
 *
 * Every element's result is computed with the same operations whichever clone (CS_CLONES),
 * vector width or scalar build runs (-ffp-contract=off), so the kernels are bitwise identical
 * across instruction sets, thread counts and the portable build.
 */
#ifndef CS231N_FAST_ATTENTION_KERNELS_H
#define CS231N_FAST_ATTENTION_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "simd.h"
/* Only the exp of rnn_kernels.h is used here; its other static kernels are not. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wpsabi"
#include "rnn_kernels.h"
#pragma GCC diagnostic pop

#define CS_AINLINE static inline __attribute__((always_inline))

/* The vector helpers pass 32-byte vectors by value between always-inlined functions (the
 * warning is about an ABI no call here crosses). */
#pragma GCC diagnostic ignored "-Wpsabi"

/* ---- float ---------------------------------------------------------------------------------- */
#define CS_T float
#define CS_F(name) CS_CAT(name, _f)
#define CS_SUM_LANES cs_sum_lanes_f
#ifdef CS_RNN_VECTOR
#define CS_V cs_vf
#define CS_VI cs_vfi
#define CS_NV 8
#endif
#include "attention_kernels_impl.h"

/* ---- double --------------------------------------------------------------------------------- */
#define CS_T double
#define CS_F(name) CS_CAT(name, _d)
#define CS_SUM_LANES cs_sum_lanes_d
#ifdef CS_RNN_VECTOR
#define CS_V cs_vd
#define CS_VI cs_vdi
#define CS_NV 4
#endif
#include "attention_kernels_impl.h"

#endif /* CS231N_FAST_ATTENTION_KERNELS_H */
