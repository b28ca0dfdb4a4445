# cython: language_level=3
# distutils: extra_compile_args = -fno-math-errno -fno-trapping-math
"""Image-feature kernels (cs231n_fast._ext.features): the course's HOG descriptor and hue
histogram over a batch of images (CS231n assignment 1, ``cs231n/features.py``).

``-fno-math-errno`` (this module only) lets GCC vectorise sqrt; it drops errno writes, not
IEEE results. The arithmetic, and why it reproduces the course's, is described in
``features_kernels.h``.

Callers (``cs231n_fast.ops.features``) guarantee: ``imgs`` C-contiguous (N, H, W, C) of
uint8, float32 or float64 with N >= 1; for HOG C == 1 (grayscale) or C >= 3 and
``8 * ncell <= min(H, W)`` with ``ncell >= 1``; for the histogram C == 3, ``edges`` strictly
non-decreasing and finite with ``nbin + 1`` entries, ``widths`` their differences;
outputs and scratch C-contiguous with the documented shapes (for ``nbin == 0`` one dummy bin's
room); ``n_threads >= 1``. Nothing here
validates, raises or touches Python objects inside ``nogil``.

Partition: images, dealt statically to the threads; each image is computed by one thread in a
fixed order into its own output row, so results are bitwise identical for any thread count
and for the build without OpenMP.
"""

cimport cython
from cython.parallel cimport parallel, prange, threadid

ctypedef fused pixel_t:
    unsigned char
    float
    double

cdef extern from "features_kernels.h" nogil:
    Py_ssize_t cs_hog_scratch(Py_ssize_t h, Py_ssize_t w, Py_ssize_t ncell)
    int cs_hog_image_u8(const unsigned char* img, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                        Py_ssize_t ncell, double* scratch, double* out)
    int cs_hog_image_f(const float* img, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                       Py_ssize_t ncell, double* scratch, double* out)
    int cs_hog_image_d(const double* img, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                       Py_ssize_t ncell, double* scratch, double* out)
    int cs_hue_image_u8_f(const unsigned char* img, Py_ssize_t n, float div, float mult,
                          const double* edges, Py_ssize_t nbin, double* counts)
    int cs_hue_image_u8_d(const unsigned char* img, Py_ssize_t n, double div, double mult,
                          const double* edges, Py_ssize_t nbin, double* counts)
    int cs_hue_image_f_f(const float* img, Py_ssize_t n, float div, float mult,
                         const double* edges, Py_ssize_t nbin, double* counts)
    int cs_hue_image_f_d(const float* img, Py_ssize_t n, double div, double mult,
                         const double* edges, Py_ssize_t nbin, double* counts)
    int cs_hue_image_d_d(const double* img, Py_ssize_t n, double div, double mult,
                         const double* edges, Py_ssize_t nbin, double* counts)
    void cs_hue_finish(double* counts, const double* db, Py_ssize_t nbin, int normalized)


def hog_scratch(Py_ssize_t h, Py_ssize_t w, Py_ssize_t ncell):
    """Doubles of scratch one thread needs for an (h, w) image with ncell x ncell cells."""
    return cs_hog_scratch(h, w, ncell)


def hog(const pixel_t[:, :, :, ::1] imgs not None,  # IN  (N, H, W, C)
        double[:, ::1] out not None,                # OUT (N, ncell * ncell * 9)
        signed char[::1] bad not None,              # OUT (N,) 1: a cell sum is not finite
        double[:, ::1] scratch not None,            # SCRATCH (n_threads, hog_scratch(H, W, ncell))
        Py_ssize_t ncell, int n_threads):
    """The course's HOG of every image; ``bad[i]`` flags images the caller must recompute."""
    cdef Py_ssize_t n = imgs.shape[0], h = imgs.shape[1], w = imgs.shape[2], c = imgs.shape[3]
    cdef Py_ssize_t i
    cdef double* buf = NULL
    with nogil, parallel(num_threads=n_threads):
        buf = &scratch[threadid(), 0]
        for i in prange(n, schedule="static"):
            if pixel_t is cython.uchar:
                bad[i] = cs_hog_image_u8(&imgs[i, 0, 0, 0], h, w, c, ncell, buf, &out[i, 0])
            elif pixel_t is float:
                bad[i] = cs_hog_image_f(&imgs[i, 0, 0, 0], h, w, c, ncell, buf, &out[i, 0])
            else:
                bad[i] = cs_hog_image_d(&imgs[i, 0, 0, 0], h, w, c, ncell, buf, &out[i, 0])


def hue_histogram(const pixel_t[:, :, :, ::1] imgs not None,  # IN  (N, H, W, 3)
                  bint single,                                # IN  compute in float32
                  double div, double mult,                    # IN  xmax as the course's type
                  const double[::1] edges not None,           # IN  (max(nbin, 1) + 1,)
                  const double[::1] widths not None,          # IN  (max(nbin, 1),) np.diff(edges)
                  Py_ssize_t nbin,                            # IN  bins (0: only the range check)
                  bint normalized,
                  double[:, ::1] out not None,                # OUT (N, max(nbin, 1))
                  signed char[::1] status not None,           # OUT (N,) CS_HUE_* range check
                  int n_threads):
    """The course's hue histogram of every image (float32 arithmetic when ``single``)."""
    cdef Py_ssize_t n = imgs.shape[0], npix = imgs.shape[1] * imgs.shape[2]
    cdef Py_ssize_t i
    cdef float fdiv = <float>div, fmult = <float>mult
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if pixel_t is cython.uchar:
                if single:
                    status[i] = cs_hue_image_u8_f(&imgs[i, 0, 0, 0], npix, fdiv, fmult,
                                                  &edges[0], nbin, &out[i, 0])
                else:
                    status[i] = cs_hue_image_u8_d(&imgs[i, 0, 0, 0], npix, div, mult,
                                                  &edges[0], nbin, &out[i, 0])
            elif pixel_t is float:
                if single:
                    status[i] = cs_hue_image_f_f(&imgs[i, 0, 0, 0], npix, fdiv, fmult,
                                                 &edges[0], nbin, &out[i, 0])
                else:
                    status[i] = cs_hue_image_f_d(&imgs[i, 0, 0, 0], npix, div, mult,
                                                 &edges[0], nbin, &out[i, 0])
            else:
                status[i] = cs_hue_image_d_d(&imgs[i, 0, 0, 0], npix, div, mult,
                                             &edges[0], nbin, &out[i, 0])
            cs_hue_finish(&out[i, 0], &widths[0], nbin, normalized)
