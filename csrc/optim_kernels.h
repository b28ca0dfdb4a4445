/* Fused update rules for cs231n_fast._ext.optim: one pass over [0, n) computes the new weights
 * and the new optimiser state of one chunk, from the weights, the gradient and the old state.
 *
 * The formulas are the course's (cs231n/optim.py), term by term in the course's order, with the
 * hyperparameter expressions (1 - beta1, 1 - beta1**t, 1 + momentum, ...) computed by the caller
 * in double and rounded once to the array's type, as NumPy does with a Python float and a
 * float32 array. So each element sees the same IEEE operations as the course's NumPy
 * expressions; the NumPy twin (reference/optim.py) therefore agrees to the last bit in practice
 * (not promised: NumPy may evaluate an expression in another, equally rounded, way).
 *
 * Determinism: purely elementwise, no reductions. setup.py compiles with -ffp-contract=off (no
 * FMA contraction), and sqrt and division are correctly rounded in scalar and vector form, so
 * every element's bits are the same whichever clone (AVX-512, AVX2, baseline), vector width,
 * chunking, thread count or the portable scalar build (CS231N_FAST_SCALAR_KERNELS) computed it.
 *
 * Vectorising sqrt needs -fno-math-errno (with errno semantics GCC keeps a scalar sqrt and a
 * libm call for negative arguments in the loop); optim.pyx asks for it for this module only.
 * The results do not change: the flag drops the errno write, not the IEEE result (NaN for a
 * negative argument, which only a user-supplied negative cache can give).
 *
 * The float and double kernels are one source, optim_kernels_impl.h, included once per type.
 */
#ifndef CS231N_FAST_OPTIM_KERNELS_H
#define CS231N_FAST_OPTIM_KERNELS_H

#include <math.h>
#include <stddef.h>

#include "simd.h"

#define CS_T float
#define CS_F(name) name##_f
#define CS_SQRT sqrtf
#include "optim_kernels_impl.h"

#define CS_T double
#define CS_F(name) name##_d
#define CS_SQRT sqrt
#include "optim_kernels_impl.h"

#endif /* CS231N_FAST_OPTIM_KERNELS_H */
