package dev.blender.runtime.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * A {@link LatencyBench.Report} as text (what {@code blender bench} prints): a latency table (total and
 * first-token percentiles, answer tokens per second, p50 relative to {@code single}), a per-stage table
 * (sampling, ranking, fusion) and the process's memory.
 */
public final class LatencyTable {
    private LatencyTable() {}

    /** The report's lines: first column left-aligned, the rest right-aligned, each as wide as its widest cell. */
    public static List<String> of(LatencyBench.Report report) {
        List<LatencyBench.Summary> rows = report.results().stream().map(LatencyBench.Result::summary).toList();
        List<String> out = new ArrayList<>();
        out.add(String.format(Locale.ROOT, "%d prompts x %d strategies; times in ms, nearest-rank percentiles",
                report.prompts(), rows.size()));
        List<String[]> latency = new ArrayList<>();
        latency.add(new String[] {"strategy", "requests", "total p50", "p95", "mean", "1st token p50", "p95", "mean",
            "answer tok/s", "p50/SINGLE"});
        for (LatencyBench.Summary s : rows) {
            latency.add(new String[] {s.composition(), Integer.toString(s.requests()), ms(s.total().p50()),
                ms(s.total().p95()), ms(s.total().mean()), ms(s.firstToken().p50()), ms(s.firstToken().p95()),
                ms(s.firstToken().mean()),
                s.answerPiecesPerSecond() == null ? "n/a" : String.format(Locale.ROOT, "%.1f", s.answerPiecesPerSecond()),
                s.p50VsSingle() == null ? "n/a" : String.format(Locale.ROOT, "%.2fx", s.p50VsSingle())});
        }
        aligned(out, latency);
        out.add("");
        List<String[]> stages = new ArrayList<>();
        stages.add(new String[] {"strategy", "sampling p50", "p95", "mean", "ranking p50", "p95", "mean", "fusion p50",
            "p95", "mean"});
        for (LatencyBench.Summary s : rows) {
            stages.add(new String[] {s.composition(), ms(s.sampling().p50()), ms(s.sampling().p95()),
                ms(s.sampling().mean()), ms(s.ranking().p50()), ms(s.ranking().p95()), ms(s.ranking().mean()),
                ms(s.fusion().p50()), ms(s.fusion().p95()), ms(s.fusion().mean())});
        }
        aligned(out, stages);
        out.add("");
        if (report.baseline().isPresent()) {
            out.add("these machines are noisy: compare the p50/SINGLE ratios, not absolute times across runs");
        }
        out.add(String.format("peak RSS %s, current RSS %s", kib(report.peakRssKib()), kib(report.currentRssKib())));
        return out;
    }

    private static String ms(Double v) {
        return v == null ? "n/a" : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String kib(OptionalLong v) {
        return v.isPresent() ? String.format(Locale.ROOT, "%.1f MiB", v.getAsLong() / 1024.0) : "n/a";
    }

    private static void aligned(List<String> out, List<String[]> table) {
        int[] width = new int[table.get(0).length];
        for (String[] row : table) {
            for (int i = 0; i < row.length; i++) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        for (String[] row : table) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                if (i == 0) {
                    line.append(row[i]).append(" ".repeat(width[i] - row[i].length()));
                } else {
                    line.append("  ").append(" ".repeat(width[i] - row[i].length())).append(row[i]);
                }
            }
            out.add(line.toString());
        }
    }
}
