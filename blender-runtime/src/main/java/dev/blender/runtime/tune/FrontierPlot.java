package dev.blender.runtime.tune;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The accuracy-cost picture as plain SVG (no library; any browser or image viewer opens it): every
 * composition a dot with its 95% interval as a vertical bar, the frontier's dots joined and named, the
 * chosen one ringed. Each dot carries its name and figures as a tooltip ({@code <title>}) and a
 * {@code data-name} attribute, so a reader (or a test) can find it.
 */
public final class FrontierPlot {
    private static final int WIDTH = 860;
    private static final int HEIGHT = 520;
    private static final int LEFT = 70;
    private static final int RIGHT = 230; // the frontier's names, in a column
    private static final int TOP = 44;
    private static final int BOTTOM = 58;
    private static final int LABEL_GAP = 12;

    private FrontierPlot() {}

    /**
     * @param title  the heading (e.g. the recipe and the half measured)
     * @param points every composition
     * @param cost   the x axis
     * @param chosen the name to ring; null = none
     */
    public static String svg(String title, List<Frontier.Point> points, Cost cost, String chosen) {
        if (points.isEmpty()) {
            throw new IllegalArgumentException("nothing to plot: no compositions");
        }
        if (chosen != null && points.stream().noneMatch(p -> p.name().equals(chosen))) {
            throw new IllegalArgumentException("the chosen composition " + chosen + " is not among the points");
        }
        List<Frontier.Point> frontier = Frontier.of(points, cost);
        Set<String> onFrontier = frontier.stream().map(Frontier.Point::name).collect(Collectors.toSet());
        double maxCost = points.stream().mapToDouble(cost::of).max().orElse(1);
        double xMax = niceCeil(maxCost <= 0 ? 1 : maxCost * 1.04);
        double low = points.stream().mapToDouble(p -> p.accuracy().wilson95()[0]).min().orElse(0);
        double yMin = Math.max(0, Math.floor(low * 10 - 1e-9) / 10);
        double yMax = 1;
        Axes a = new Axes(xMax, yMin, yMax);

        StringBuilder s = new StringBuilder();
        s.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                + " viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", WIDTH, HEIGHT, WIDTH, HEIGHT));
        s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        s.append(String.format(Locale.ROOT, "<text class=\"title\" x=\"%d\" y=\"24\" font-size=\"15\">%s</text>\n",
                LEFT, escape(title)));
        // grid, ticks and labels
        double xStep = step(xMax);
        for (double x = 0; x <= xMax + 1e-9; x += xStep) {
            s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e6e6e6\"/>\n",
                    a.x(x), TOP, a.x(x), HEIGHT - BOTTOM));
            s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", a.x(x),
                    HEIGHT - BOTTOM + 16, number(x)));
        }
        double yStep = step(yMax - yMin);
        for (double y = Math.ceil(yMin / yStep - 1e-9) * yStep; y <= yMax + 1e-9; y += yStep) {
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n",
                    LEFT, a.y(y), WIDTH - RIGHT, a.y(y)));
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", LEFT - 6,
                    a.y(y) + 4, y));
        }
        s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
                LEFT, TOP, WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM));
        s.append(String.format(Locale.ROOT, "<text class=\"x-label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                LEFT + (WIDTH - LEFT - RIGHT) / 2, HEIGHT - 14, escape(cost.label())));
        s.append(String.format(Locale.ROOT, "<text class=\"y-label\" x=\"18\" y=\"%d\" text-anchor=\"middle\""
                + " transform=\"rotate(-90 18 %d)\">accuracy (95%% interval)</text>\n",
                TOP + (HEIGHT - TOP - BOTTOM) / 2, TOP + (HEIGHT - TOP - BOTTOM) / 2));
        // intervals and dots, off-frontier ones first so the frontier draws over them
        for (boolean front : new boolean[] {false, true}) {
            for (Frontier.Point p : points) {
                if (onFrontier.contains(p.name()) != front) {
                    continue;
                }
                double[] ci = p.accuracy().wilson95();
                double x = a.x(cost.of(p));
                String color = front ? "#1f5fbf" : "#9a9a9a";
                s.append(String.format(Locale.ROOT, "<line class=\"interval\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
                        + " stroke=\"%s\" stroke-opacity=\"0.6\"/>\n", x, a.y(ci[0]), x, a.y(ci[1]), color));
                s.append(String.format(Locale.ROOT, "<circle class=\"point%s\" data-name=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\""
                        + " fill=\"%s\"><title>%s</title></circle>\n", front ? " frontier" : "", escape(p.name()), x,
                        a.y(p.accuracy().value()), front ? "4" : "3", color, escape(tooltip(p))));
            }
        }
        StringBuilder line = new StringBuilder();
        for (Frontier.Point p : frontier) {
            line.append(String.format(Locale.ROOT, "%.1f,%.1f ", a.x(cost.of(p)), a.y(p.accuracy().value())));
        }
        s.append(String.format("<polyline class=\"frontier\" points=\"%s\" fill=\"none\" stroke=\"#1f5fbf\""
                + " stroke-width=\"1.5\"/>\n", line.toString().strip()));
        // the names in a column right of the plot, each joined to its dot, spaced so none overlap
        Frontier.Point ringed = chosen == null ? null : points.stream().filter(p -> p.name().equals(chosen)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("the chosen composition " + chosen
                        + " is not among the points"));
        List<Frontier.Point> named = new java.util.ArrayList<>(frontier);
        if (ringed != null && !onFrontier.contains(ringed.name())) {
            named.add(ringed);
        }
        named.sort(java.util.Comparator.comparingDouble(p -> a.y(p.accuracy().value())));
        double[] labelY = new double[named.size()];
        for (int i = 0; i < named.size(); i++) {
            labelY[i] = Math.max(a.y(named.get(i).accuracy().value()) + 4, i == 0 ? TOP + 8 : labelY[i - 1] + LABEL_GAP);
        }
        for (int i = named.size() - 1; i >= 0; i--) { // pushed past the bottom: back up, keeping the gaps
            labelY[i] = Math.min(labelY[i], i == named.size() - 1 ? HEIGHT - 4 : labelY[i + 1] - LABEL_GAP);
        }
        double labelX = WIDTH - RIGHT + 14;
        for (int i = 0; i < named.size(); i++) {
            Frontier.Point p = named.get(i);
            boolean isChosen = p == ringed;
            String color = isChosen ? "#d62728" : "#1f5fbf";
            s.append(String.format(Locale.ROOT, "<line class=\"leader\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
                    + " stroke=\"%s\" stroke-opacity=\"0.35\"/>\n", a.x(cost.of(p)), a.y(p.accuracy().value()),
                    labelX - 3, labelY[i] - 4, color));
            s.append(String.format(Locale.ROOT, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"%s\"%s>%s</text>\n",
                    isChosen ? "chosen-label" : "frontier-label", labelX, labelY[i], color,
                    isChosen ? " font-weight=\"bold\"" : "", escape(isChosen ? p.name() + " (chosen)" : p.name())));
        }
        if (ringed != null) {
            s.append(String.format(Locale.ROOT, "<circle class=\"chosen\" data-name=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"9\""
                    + " fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n", escape(ringed.name()),
                    a.x(cost.of(ringed)), a.y(ringed.accuracy().value())));
        }
        s.append("</svg>\n");
        return s.toString();
    }

    private record Axes(double xMax, double yMin, double yMax) {
        double x(double v) {
            return LEFT + v / xMax * (WIDTH - LEFT - RIGHT);
        }

        double y(double v) {
            return HEIGHT - BOTTOM - (v - yMin) / (yMax - yMin) * (HEIGHT - TOP - BOTTOM);
        }
    }

    private static String tooltip(Frontier.Point p) {
        double[] ci = p.accuracy().wilson95();
        return String.format(Locale.ROOT, "%s: accuracy %.3f (%.3f-%.3f), %.1f tokens, %.2f ms per problem", p.name(),
                p.accuracy().value(), ci[0], ci[1], p.tokens(), p.millis());
    }

    /** A tick step giving 4 to 10 ticks: 1, 2 or 5 times a power of ten. */
    static double step(double range) {
        double raw = range / 6;
        double pow = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * pow >= raw) {
                return m * pow;
            }
        }
        return 10 * pow;
    }

    private static double niceCeil(double v) {
        double st = step(v);
        return Math.ceil(v / st) * st;
    }

    private static String number(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.2f", v);
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
