package dev.blender.runtime.eval;

/** Correct answers out of a number of problems, with a 95% Wilson score interval. */
public record Accuracy(int correct, int total) {

    public double value() {
        return total == 0 ? 0 : (double) correct / total;
    }

    /** Lower and upper bound of the 95% Wilson interval. */
    public double[] wilson95() {
        if (total == 0) {
            return new double[] {0, 1};
        }
        double z = 1.959964;
        double n = total;
        double p = value();
        double denom = 1 + z * z / n;
        double center = (p + z * z / (2 * n)) / denom;
        double half = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom;
        return new double[] {Math.max(0, center - half), Math.min(1, center + half)};
    }
}
