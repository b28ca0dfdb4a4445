/* Image-feature kernels for cs231n_fast._ext.features: the course's HOG descriptor and its hue
 * histogram (CS231n assignment 1, cs231n/features.py), one image per call.
 *
 * HOG (the course's hog_feature). Per pixel, in float64 as the course computes:
 *   gray = 0.299 r + 0.587 g + 0.144 b, as fma(b, .144, fma(g, .587, r * .299)): the value
 *          NumPy's np.dot(rgb, [0.299, 0.587, 0.144]) takes from OpenBLAS's dot kernel on
 *          every x86-64 with FMA (bitwise there; 1 ulp apart at most elsewhere);
 *   gx, gy = forward differences along x and y (0 in the last column / row);
 *   mag    = sqrt(gx*gx + gy*gy);
 *   bin    = the course's orientation bin of ori = atan2(gy, gx + 1e-15) * (180/pi) + 90:
 *            bin i holds 20 i <= ori < 20 (i+1) with ori > 0; pixels outside (0, 180) are
 *            dropped.
 * The bin is decided without atan2 where that is safe: with t = gx + 1e-15 > 0 and
 * |gy| < 1e9 t, ori lies in [20 i, 20 (i+1)) exactly when gy / t lies in [tan(20 i - 90),
 * tan(20 i - 70)); when gy / t is further than 1e-9 (relative) from every boundary tangent,
 * the course's rounded ori (a few ulps from the true angle, i.e. < 1e-13 degrees) cannot be on
 * the other side, so comparing gy / t with the tangents gives the course's bin. With t < 0
 * and |gy| < 1e9 |t| the angle is more than 1e-9 rad beyond +-90 degrees: dropped. Every
 * other pixel (gx == 0 exactly, the flat rows of real images; t == 0; near a boundary;
 * non-finite) takes the course's formula itself with libm's atan2 and the same constants, so
 * the decision is the course's rounding for rounding. (NumPy's own arctan2 is libm's, except
 * on AVX-512 machines where it is SVML's, within an ulp of it.)
 * The course then averages each orientation's magnitudes over 8 x 8 windows with
 * scipy.ndimage.uniform_filter and samples the window centred at (8 b + 4, 8 a + 4) into cell
 * (a, b) (note the transpose), i.e. exactly the pixels of rows [8 b, 8 b + 8) and columns
 * [8 a, 8 a + 8): here each cell's magnitudes are summed in row-major order and divided by 64.
 * SciPy's filter computes running sums instead, so the two agree to rounding (~1e-16 relative
 * per cell), not bitwise.
 *
 * Hue histogram (the course's color_histogram_hsv). Per pixel, in the type T of the course's
 * `rgb_to_hsv(im / xmax) * xmax` (float32 for float32 images, else float64), the operations of
 * matplotlib.colors.rgb_to_hsv's hue in its order: q = x / xmax; max, min, delta = max - min;
 * if delta > 0 (and no channel is NaN): h = (g - b) / delta, 2 + (b - r) / delta or
 * 4 + (r - g) / delta, the last channel equal to the max winning, as in matplotlib's three
 * masked assignments; h = remainder(h / 6, 1) (NumPy's: fmod, plus 1 when negative); v = h *
 * xmax. v is then counted in bin j when edges[j] <= v < edges[j + 1] (the last bin closed),
 * np.histogram's rule, found by a guess from the uniform spacing corrected by exact
 * comparisons with the given edges. Every operation is an IEEE basic operation, so the counts
 * are the course's exactly. The image's range check (matplotlib raises unless every q is in
 * [0, 1]) is computed on the way with matplotlib's NaN rules and returned as a status.
 *
 * Determinism: an image is computed by one thread, in a fixed order; no reductions across
 * images. Results are bitwise identical for any thread count, any clone (AVX-512 / AVX2 /
 * baseline: the loops marked CS_CLONES are elementwise; -ffp-contract=off; fma() is fused
 * in every clone, an instruction or libm's exact fma) and the build without OpenMP.
 */
#ifndef CS231N_FAST_FEATURES_KERNELS_H
#define CS231N_FAST_FEATURES_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "simd.h"

#define CS_HOG_BINS 9
#define CS_HOG_SKIP 9 /* the bin of dropped pixels (a tenth, discarded, slot per cell) */
#define CS_HOG_SLOTS 10

/* tan(20 k - 90 degrees), k = 1..8: the boundaries of the orientation bins in gy / t. */
static const double cs_hog_tan[8] = {
    -0x1.5fad570f872d7p+1, -0x1.3116c3711527ep+0, -0x1.279a74590331cp-1, -0x1.691e1ebc5cbbcp-3,
    0x1.691e1ebc5cbbcp-3,  0x1.279a74590331cp-1,  0x1.3116c3711527ep+0,  0x1.5fad570f872d7p+1,
};
/* 180 / np.pi, the course's factor (the double nearest to 180 / pi's double). */
#define CS_HOG_DEG 0x1.ca5dc1a63c1f8p+5
/* Relative distance from a boundary tangent below which the course's formula decides. */
#define CS_HOG_MARGIN 1e-9
/* |gy| / |t| from which the angle may be within rounding of +-90 degrees. */
#define CS_HOG_STEEP 1e9

/* --- gray ---------------------------------------------------------------------------------- */

/* g[x] for x in [0, n): the course's rgb2gray of pixel x (channels c >= 3; c == 1: the value
 * itself, a grayscale image). */
#define CS_GRAY_ROW(NAME, P)                                                                    \
    static CS_CLONES void NAME(const P *p, ptrdiff_t c, ptrdiff_t n, double *g)                 \
    {                                                                                           \
        ptrdiff_t x;                                                                            \
        if (c == 1) {                                                                           \
            for (x = 0; x < n; x++) g[x] = (double)p[x];                                        \
            return;                                                                             \
        }                                                                                       \
        for (x = 0; x < n; x++) {                                                               \
            const P *q = p + x * c;                                                             \
            g[x] = fma((double)q[2], 0.144, fma((double)q[1], 0.587, (double)q[0] * 0.299));    \
        }                                                                                       \
    }

CS_GRAY_ROW(cs_gray_row_u8, unsigned char)
CS_GRAY_ROW(cs_gray_row_f, float)
CS_GRAY_ROW(cs_gray_row_d, double)

/* --- HOG ----------------------------------------------------------------------------------- */

/* One row of pixels: gradients, magnitudes and the bins decidable without atan2 (-1 for the
 * rest), as doubles so that every clone vectorises the loop. g: this row's gray; gn: the next
 * row's (NULL on the image's last row: gy = 0); n: pixels; nr: how many of them have a right
 * neighbour (n or n - 1). */
static CS_CLONES void cs_hog_row(const double *g, const double *gn, ptrdiff_t n, ptrdiff_t nr,
                                 double *gxs, double *gys, double *mag, double *bin)
{
    ptrdiff_t x;
    for (x = 0; x < nr; x++) gxs[x] = g[x + 1] - g[x];
    for (x = nr; x < n; x++) gxs[x] = 0.0;
    if (gn != NULL)
        for (x = 0; x < n; x++) gys[x] = gn[x] - g[x];
    else
        for (x = 0; x < n; x++) gys[x] = 0.0;
    for (x = 0; x < n; x++) {
        double gx = gxs[x], gy = gys[x];
        double t = gx + 1e-15;
        double u = gy / t;
        double k = 0.0, near = 0.0, r;
        int j;
        for (j = 0; j < 8; j++) {
            k += u >= cs_hog_tan[j] ? 1.0 : 0.0;
            near = fabs(u - cs_hog_tan[j]) <= CS_HOG_MARGIN * fabs(cs_hog_tan[j]) ? 1.0 : near;
        }
        r = near != 0.0 ? -1.0 : k;
        r = t < 0.0 ? (double)CS_HOG_SKIP : r;
        /* false for t == 0 and for any NaN or infinite gy */
        r = fabs(gy) < CS_HOG_STEEP * fabs(t) ? r : -1.0;
        mag[x] = sqrt(gx * gx + gy * gy);
        bin[x] = r;
    }
}

/* The course's own decision: ori = atan2(gy, gx + 1e-15) * (180 / pi) + 90. */
static inline int cs_hog_exact_bin(double gx, double gy)
{
    double ori = atan2(gy, gx + 1e-15) * CS_HOG_DEG + 90.0;
    int b = 0;
    if (!(ori > 0.0 && ori < 180.0)) return CS_HOG_SKIP; /* also NaN */
    while (b < CS_HOG_BINS - 1 && ori >= 20.0 * (b + 1)) b++;
    return b;
}

/* Doubles of scratch cs_hog_image_* needs: two gray rows (8 ncell + 1 columns, or w), gx, gy,
 * mag and bins of a row, and the cell sums (9 bins and the dropped pixels' slot per cell). */
static inline ptrdiff_t cs_hog_scratch(ptrdiff_t h, ptrdiff_t w, ptrdiff_t ncell)
{
    ptrdiff_t side = 8 * ncell, cols = side < w ? side + 1 : w;
    (void)h;
    return 2 * cols + 4 * side + ncell * ncell * CS_HOG_SLOTS;
}

/* The HOG of one image (h, w, c) -> out[(a * ncell + b) * 9 + k], ncell >= 1 with
 * 8 ncell <= min(h, w) (the caller checked the course's geometry, which makes the cell grid
 * square and every sampled window lie inside the image). Only rows and columns [0, 8 ncell]
 * are read. Returns 1 when a cell sum is not finite (an infinite magnitude: the caller
 * recomputes that image as the course does, whose running sums turn inf into NaN), else 0. */
#define CS_HOG_IMAGE(NAME, P, GRAY_ROW)                                                         \
    static int NAME(const P *img, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t ncell,       \
                    double *scratch, double *out)                                               \
    {                                                                                           \
        ptrdiff_t side = 8 * ncell;                                                             \
        ptrdiff_t cols = side < w ? side + 1 : w; /* gray columns needed */                     \
        ptrdiff_t nr = side < w ? side : side - 1; /* pixels with a right neighbour */          \
        double *g0 = scratch, *g1 = g0 + cols, *gxs = g1 + cols, *gys = gxs + side;             \
        double *mag = gys + side, *bin = mag + side, *hist = bin + side;                       \
        ptrdiff_t y, x, k, cell;                                                                \
        int bad = 0;                                                                            \
        memset(hist, 0, (size_t)(ncell * ncell * CS_HOG_SLOTS) * sizeof(double));               \
        GRAY_ROW(img, c, cols, g0);                                                             \
        for (y = 0; y < side; y++) {                                                            \
            const double *gn = NULL;                                                            \
            double *tmp;                                                                        \
            double *row;                                                                        \
            if (y + 1 < h) {                                                                    \
                GRAY_ROW(img + (y + 1) * w * c, c, cols, g1);                                   \
                gn = g1;                                                                        \
            }                                                                                   \
            cs_hog_row(g0, gn, side, nr, gxs, gys, mag, bin);                                   \
            for (x = 0; x < side; x++)                                                          \
                if (bin[x] < 0.0) bin[x] = (double)cs_hog_exact_bin(gxs[x], gys[x]);            \
            /* cell (a, b) = (x / 8, y / 8): row-major order within every cell */               \
            row = hist + (y >> 3) * CS_HOG_SLOTS;                                               \
            for (x = 0; x < side; x++)                                                          \
                row[(x >> 3) * ncell * CS_HOG_SLOTS + (ptrdiff_t)bin[x]] += mag[x];             \
            tmp = g0;                                                                           \
            g0 = g1;                                                                            \
            g1 = tmp;                                                                           \
        }                                                                                       \
        for (cell = 0; cell < ncell * ncell; cell++)                                            \
            for (k = 0; k < CS_HOG_BINS; k++) {                                                 \
                double s = hist[cell * CS_HOG_SLOTS + k];                                       \
                bad |= !isfinite(s);                                                            \
                out[cell * CS_HOG_BINS + k] = s * 0.015625;                                     \
            }                                                                                   \
        return bad;                                                                             \
    }

CS_HOG_IMAGE(cs_hog_image_u8, unsigned char, cs_gray_row_u8)
CS_HOG_IMAGE(cs_hog_image_f, float, cs_gray_row_f)
CS_HOG_IMAGE(cs_hog_image_d, double, cs_gray_row_d)

/* --- hue histogram ------------------------------------------------------------------------- */

/* Status of an image's range check (matplotlib.colors.rgb_to_hsv on im / xmax). */
#define CS_HUE_OK 0
#define CS_HUE_ABOVE 1 /* a pixel's max channel > 1 (a pixel with a NaN channel has max NaN) */
#define CS_HUE_BELOW 2 /* the image's min < 0 (NaN anywhere makes the min NaN: no error) */

/* Pixels per block: the hue values of a block are computed by a vectorised loop into a
 * buffer on the stack, then counted. */
#define CS_HUE_BLOCK 256

/* vals[i] = the course's hue value h * xmax of pixel i (3 channels), i in [0, n); returns the
 * block's flags: 1 a pixel's max > 1, 2 a pixel's min < 0 (pixels without NaN), 4 a NaN.
 * Branch-free, so every clone vectorises it. Why the hue is exact:
 *   - the red/green/blue cases of matplotlib are three masked assignments, the last true one
 *     winning (blue, then green, then red); h = off + num / delta with off = 0 for red equals
 *     matplotlib's num / delta (0 + x == x; only -0 becomes +0, and the remainder maps both to
 *     +0);
 *   - |num| <= delta holds after rounding too (rounding is monotone), so h / 6 lies in
 *     [-1/6, 5/6] or is NaN, where fmod(a, 1) == a: NumPy's remainder(a, 1) is then a + 1 for
 *     a < 0, +0 for a == 0, a otherwise (NaN stays NaN). */
#define CS_HUE_VALUES(NAME, P, T)                                                               \
    static CS_CLONES int NAME(const P *img, ptrdiff_t n, T div, T mult, double *vals)           \
    {                                                                                           \
        int above = 0, below = 0, nan = 0;                                                      \
        ptrdiff_t i;                                                                            \
        for (i = 0; i < n; i++) {                                                               \
            T r = (T)img[3 * i] / div, g = (T)img[3 * i + 1] / div;                             \
            T b = (T)img[3 * i + 2] / div;                                                      \
            int isn = (r != r) | (g != g) | (b != b);                                           \
            T mx = g > r ? g : r, mn = g < r ? g : r;                                           \
            T delta, num = g - b, off = (T)0, h, a, m;                                          \
            mx = b > mx ? b : mx;                                                               \
            mn = b < mn ? b : mn;                                                               \
            delta = mx - mn;                                                                    \
            num = g == mx ? b - r : num;                                                        \
            off = g == mx ? (T)2 : off;                                                         \
            num = b == mx ? r - g : num;                                                        \
            off = b == mx ? (T)4 : off;                                                         \
            h = off + num / delta;                                                              \
            h = ((delta > (T)0) & !isn) ? h : (T)0;                                             \
            a = h / (T)6;                                                                       \
            m = a < (T)0 ? a + (T)1 : a;                                                        \
            m = a == (T)0 ? (T)0 : m;                                                           \
            vals[i] = (double)(m * mult);                                                       \
            nan |= isn;                                                                         \
            above |= (mx > (T)1) & !isn;                                                        \
            below |= (mn < (T)0) & !isn;                                                        \
        }                                                                                       \
        return above | (below << 1) | (nan << 2);                                               \
    }

CS_HUE_VALUES(cs_hue_values_u8_f, unsigned char, float)
CS_HUE_VALUES(cs_hue_values_u8_d, unsigned char, double)
CS_HUE_VALUES(cs_hue_values_f_f, float, float)
CS_HUE_VALUES(cs_hue_values_f_d, float, double)
CS_HUE_VALUES(cs_hue_values_d_d, double, double)

/* counts[j] += the number of vals in bin j of edges[0..nbin] (np.histogram's rule), nbin >= 1. */
static inline void cs_hue_count(const double *vals, ptrdiff_t n, const double *edges,
                                ptrdiff_t nbin, double *counts)
{
    double e0 = edges[0], en = edges[nbin];
    double scale = (double)nbin / (en - e0);
    ptrdiff_t i, j;
    for (i = 0; i < n; i++) {
        double v = vals[i], q;
        if (!(v >= e0 && v <= en)) continue; /* also NaN */
        q = (v - e0) * scale;                 /* a guess, corrected by exact comparisons */
        j = q < (double)nbin ? (ptrdiff_t)q : nbin - 1;
        while (j > 0 && v < edges[j]) j--;
        while (j < nbin - 1 && v >= edges[j + 1]) j++;
        counts[j] += 1.0;
    }
}

/* counts[j] (as doubles, exact below 2**53) of the image's n pixels (3 channels each) whose
 * hue value falls in bin j of edges[0..nbin]; returns a CS_HUE_* status. T: the course's
 * type; div, mult: xmax rounded to T (div = 1 when the caller divided already). */
#define CS_HUE_IMAGE(NAME, P, T, VALUES)                                                        \
    static int NAME(const P *img, ptrdiff_t n, T div, T mult, const double *edges,              \
                    ptrdiff_t nbin, double *counts)                                             \
    {                                                                                           \
        double vals[CS_HUE_BLOCK];                                                              \
        int flags = 0;                                                                          \
        ptrdiff_t i, len;                                                                       \
        if (nbin > 0) memset(counts, 0, (size_t)nbin * sizeof(double));                         \
        for (i = 0; i < n; i += CS_HUE_BLOCK) {                                                 \
            len = n - i < CS_HUE_BLOCK ? n - i : CS_HUE_BLOCK;                                  \
            flags |= VALUES(img + 3 * i, len, div, mult, vals);                                 \
            if (nbin > 0) cs_hue_count(vals, len, edges, nbin, counts);                         \
        }                                                                                       \
        if (flags & 1) return CS_HUE_ABOVE;                                                     \
        if ((flags & 2) && !(flags & 4)) return CS_HUE_BELOW;                                   \
        return CS_HUE_OK;                                                                       \
    }

CS_HUE_IMAGE(cs_hue_image_u8_f, unsigned char, float, cs_hue_values_u8_f)
CS_HUE_IMAGE(cs_hue_image_u8_d, unsigned char, double, cs_hue_values_u8_d)
CS_HUE_IMAGE(cs_hue_image_f_f, float, float, cs_hue_values_f_f)
CS_HUE_IMAGE(cs_hue_image_f_d, float, double, cs_hue_values_f_d)
CS_HUE_IMAGE(cs_hue_image_d_d, double, double, cs_hue_values_d_d)

/* The course's histogram from the counts: (c / db) / total * db when normalized (np.histogram's
 * density times the bin widths, NaN when no value fell in a bin), c * db otherwise. */
static inline void cs_hue_finish(double *counts, const double *db, ptrdiff_t nbin, int normalized)
{
    ptrdiff_t j;
    double total = 0.0;
    if (!normalized) {
        for (j = 0; j < nbin; j++) counts[j] = counts[j] * db[j];
        return;
    }
    for (j = 0; j < nbin; j++) total += counts[j];
    for (j = 0; j < nbin; j++) counts[j] = counts[j] / db[j] / total * db[j];
}

#endif /* CS231N_FAST_FEATURES_KERNELS_H */
