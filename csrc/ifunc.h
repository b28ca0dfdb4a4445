/* Can GCC's target_clones be used here? It compiles one function per instruction set and lets
 * the dynamic loader pick one through an ifunc resolver, which needs GCC (not clang, whose
 * attribute differs), x86-64, a C library with ifunc support and no AddressSanitizer (which
 * does not support ifunc). glibc has ifunc; musl (Alpine, musllinux wheels) does not, and a
 * target_clones function there fails to build, so the C library is checked, not just
 * __linux__: <features.h> (glibc and musl both have it) defines __GLIBC__ on glibc only.
 * uClibc defines __GLIBC__ too but has no ifunc, so it is excluded by name.
 *
 * CS_HAVE_IFUNC is defined (to 1) when target_clones may be used; simd.h, knn_kernels.h and
 * rnn_kernels.h define their clone attributes from it and leave them empty otherwise (the
 * baseline loop, bitwise the same results). */
#ifndef CS231N_FAST_IFUNC_H
#define CS231N_FAST_IFUNC_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(__SANITIZE_ADDRESS__)
#if defined(__has_include)
#if __has_include(<features.h>)
#include <features.h>
#endif
#endif
#if defined(__GLIBC__) && !defined(__UCLIBC__)
#define CS_HAVE_IFUNC 1
#endif
#endif

#endif /* CS231N_FAST_IFUNC_H */
