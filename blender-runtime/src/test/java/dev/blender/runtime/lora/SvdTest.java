package dev.blender.runtime.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SvdTest {

    /** {@code q} columns of an orthonormal basis of R^n, by Gram-Schmidt on random vectors. */
    static double[][] orthonormal(int n, int q, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double[][] out = new double[q][n];
        for (int k = 0; k < q; k++) {
            for (int i = 0; i < n; i++) {
                out[k][i] = random.nextDouble() - 0.5;
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int l = 0; l < k; l++) {
                    double d = dot(out[k], out[l]);
                    for (int i = 0; i < n; i++) {
                        out[k][i] -= d * out[l][i];
                    }
                }
            }
            double norm = Math.sqrt(dot(out[k], out[k]));
            for (int i = 0; i < n; i++) {
                out[k][i] /= norm;
            }
        }
        return out;
    }

    static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    /** {@code U·diag(s)·Vᵀ} for known factors. */
    static double[] compose(double[][] u, double[] s, double[][] v) {
        int m = u[0].length;
        int n = v[0].length;
        double[] a = new double[m * n];
        for (int k = 0; k < s.length; k++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    a[i * n + j] += u[k][i] * s[k] * v[k][j];
                }
            }
        }
        return a;
    }

    static double frobenius(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += (x[i] - y[i]) * (x[i] - y[i]);
        }
        return Math.sqrt(s);
    }

    @Test
    void aTextbookMatrix() {
        // [[3, 2, 2], [2, 3, -2]] has singular values 5 and 3
        Svd svd = Svd.of(new double[] {3, 2, 2, 2, 3, -2}, 2, 3);
        assertArrayEquals(new double[] {5, 3}, svd.s(), 1e-12);
        assertEquals(0, frobenius(new double[] {3, 2, 2, 2, 3, -2}, svd.reconstruct(2)), 1e-12);
        // the rank-1 truncation is 5·u1·v1ᵀ = [[2.5, 2.5, 0], [2.5, 2.5, 0]]
        assertArrayEquals(new double[] {2.5, 2.5, 0, 2.5, 2.5, 0}, svd.reconstruct(1), 1e-12);
    }

    @Test
    void recoversKnownFactorsOfTallAndWideMatrices() {
        double[] s = {9, 4, 2.5, 1, 0.25, 1e-3, 0};
        for (int[] shape : new int[][] {{256, 64}, {64, 256}, {331, 64}, {7, 7}, {40, 9}}) {
            int m = shape[0];
            int n = shape[1];
            int k = Math.min(m, n);
            double[] want = new double[k];
            System.arraycopy(s, 0, want, 0, Math.min(s.length, k));
            double[][] u = orthonormal(m, k, 1);
            double[][] v = orthonormal(n, k, 2);
            double[] a = compose(u, want, v);
            Svd svd = Svd.of(a, m, n);
            String at = m + "x" + n;
            assertEquals(k, svd.size());
            assertArrayEquals(want, svd.s(), 1e-10, at);
            assertEquals(0, frobenius(a, svd.reconstruct(k)), 1e-10, at);
            // Eckart-Young: the rank-r truncation misses exactly the dropped singular values
            for (int r = 1; r < Math.min(k, 5); r++) {
                double tail = 0;
                for (int l = r; l < k; l++) {
                    tail += want[l] * want[l];
                }
                assertEquals(Math.sqrt(tail), frobenius(a, svd.reconstruct(r)), 1e-10, at + " rank " + r);
            }
            // orthonormal singular vectors (where the singular value is not 0)
            for (int p = 0; p < 6 && p < k; p++) {
                for (int q = 0; q < 6 && q < k; q++) {
                    assertEquals(p == q ? 1 : 0, dot(svd.u()[p], svd.u()[q]), 1e-9, at + " U " + p + "," + q);
                    assertEquals(p == q ? 1 : 0, dot(svd.v()[p], svd.v()[q]), 1e-9, at + " V " + p + "," + q);
                }
            }
        }
    }

    @Test
    void aRandomMatrixIsReconstructedAndItsValuesAreSorted() {
        SplittableRandom random = new SplittableRandom(3);
        double[] a = new double[256 * 64];
        for (int i = 0; i < a.length; i++) {
            a[i] = random.nextGaussian();
        }
        Svd svd = Svd.of(a, 64, 256);
        assertEquals(0, frobenius(a, svd.reconstruct(64)), 1e-9);
        for (int k = 1; k < svd.size(); k++) {
            assertEquals(true, svd.s()[k - 1] >= svd.s()[k], "sorted at " + k);
        }
        double total = 0;
        for (double x : a) {
            total += x * x;
        }
        assertEquals(1.0, svd.energy(64), 1e-12);
        assertEquals(Math.sqrt(total * (1 - svd.energy(8))), frobenius(a, svd.reconstruct(8)), 1e-8);
    }

    @Test
    void refusesBadInput() {
        assertThrows(IllegalArgumentException.class, () -> Svd.of(new double[5], 2, 3));
        assertThrows(IllegalArgumentException.class, () -> Svd.of(new double[] {1, Double.NaN}, 1, 2));
    }
}
