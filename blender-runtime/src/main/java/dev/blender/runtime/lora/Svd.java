package dev.blender.runtime.lora;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * The singular value decomposition {@code M = U·diag(s)·Vᵀ} of a small dense matrix, by one-sided
 * (Hestenes) Jacobi rotations in double precision: plain Java, no dependency, and accurate for the small
 * singular values too, which squaring the matrix into a Gram matrix would lose. Made for weight deltas
 * of at most a few hundred rows and columns; the cost grows with {@code min(rows, cols)² · max(rows, cols)}
 * per sweep.
 *
 * @param u the left singular vectors, {@code u[k]} of length {@code rows}, in order of {@code s}
 * @param s the singular values, largest first ({@code min(rows, cols)} of them)
 * @param v the right singular vectors, {@code v[k]} of length {@code cols}
 */
public record Svd(double[][] u, double[] s, double[][] v) {
    private static final int MAX_SWEEPS = 100;
    private static final double EPSILON = 1e-15;

    /**
     * Decomposes the row-major {@code rows × cols} matrix {@code a}.
     *
     * @throws IllegalArgumentException if the sizes do not match or a value is not finite
     */
    public static Svd of(double[] a, int rows, int cols) {
        if (rows < 1 || cols < 1 || a.length != (long) rows * cols) {
            throw new IllegalArgumentException("a " + rows + "x" + cols + " matrix needs " + (long) rows * cols
                    + " values, got " + a.length);
        }
        for (double x : a) {
            if (!Double.isFinite(x)) {
                throw new IllegalArgumentException("the matrix holds a non-finite value: " + x);
            }
        }
        if (cols > rows) {
            // rotations act on columns: keep the shorter side as columns, then swap the roles back
            double[] t = new double[a.length];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    t[j * rows + i] = a[i * cols + j];
                }
            }
            Svd st = of(t, cols, rows);
            return new Svd(st.v, st.s, st.u);
        }
        int m = rows;
        int n = cols;
        double[][] w = new double[n][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                w[j][i] = a[i * n + j];
            }
        }
        double[][] v = new double[n][n];
        for (int j = 0; j < n; j++) {
            v[j][j] = 1;
        }
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            boolean rotated = false;
            for (int p = 0; p < n - 1; p++) {
                for (int q = p + 1; q < n; q++) {
                    double alpha = dot(w[p], w[p]);
                    double beta = dot(w[q], w[q]);
                    double gamma = dot(w[p], w[q]);
                    if (gamma == 0 || Math.abs(gamma) <= EPSILON * Math.sqrt(alpha * beta)) {
                        continue;
                    }
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.signum(zeta == 0 ? 1 : zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
                    double c = 1 / Math.sqrt(1 + t * t);
                    double sn = c * t;
                    rotate(w[p], w[q], c, sn);
                    rotate(v[p], v[q], c, sn);
                }
            }
            if (!rotated) {
                break;
            }
        }
        double[] norms = new double[n];
        for (int j = 0; j < n; j++) {
            norms[j] = Math.sqrt(dot(w[j], w[j]));
        }
        Integer[] order = IntStream.range(0, n).boxed().sorted(Comparator.comparingDouble(j -> -norms[j]))
                .toArray(Integer[]::new);
        double[][] u = new double[n][];
        double[] s = new double[n];
        double[][] vs = new double[n][];
        for (int k = 0; k < n; k++) {
            int j = order[k];
            s[k] = norms[j];
            u[k] = new double[m];
            if (norms[j] > 0) {
                for (int i = 0; i < m; i++) {
                    u[k][i] = w[j][i] / norms[j];
                }
            }
            vs[k] = v[j];
        }
        return new Svd(u, s, vs);
    }

    /** Decomposes a row-major {@code float} matrix (as GGUF stores weights). */
    public static Svd of(float[] a, int rows, int cols) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return of(d, rows, cols);
    }

    /** The number of singular values: {@code min(rows, cols)}. */
    public int size() {
        return s.length;
    }

    /** {@code U_r·diag(s_r)·V_rᵀ}, row-major: the best rank-{@code r} approximation (Eckart–Young). */
    public double[] reconstruct(int r) {
        int k = Math.min(r, s.length);
        int m = u[0].length;
        int n = v[0].length;
        double[] out = new double[m * n];
        for (int l = 0; l < k; l++) {
            for (int i = 0; i < m; i++) {
                double us = u[l][i] * s[l];
                if (us == 0) {
                    continue;
                }
                int row = i * n;
                for (int j = 0; j < n; j++) {
                    out[row + j] += us * v[l][j];
                }
            }
        }
        return out;
    }

    /** The fraction of the squared Frobenius norm the first {@code r} singular values hold (1 for a zero matrix). */
    public double energy(int r) {
        double kept = 0;
        double total = 0;
        for (int k = 0; k < s.length; k++) {
            total += s[k] * s[k];
            if (k < r) {
                kept += s[k] * s[k];
            }
        }
        return total == 0 ? 1 : kept / total;
    }

    private static double dot(double[] x, double[] y) {
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            sum += x[i] * y[i];
        }
        return sum;
    }

    private static void rotate(double[] x, double[] y, double c, double s) {
        for (int i = 0; i < x.length; i++) {
            double a = x[i];
            double b = y[i];
            x[i] = c * a - s * b;
            y[i] = s * a + c * b;
        }
    }

    @Override
    public String toString() {
        return "Svd[" + u[0].length + "x" + v[0].length + ", s=" + Arrays.toString(Arrays.copyOf(s, Math.min(4, s.length)))
                + (s.length > 4 ? "..." : "") + "]";
    }
}
