package dev.aertrace.compare;

import org.apache.commons.statistics.inference.AlternativeHypothesis;
import org.apache.commons.statistics.inference.MannWhitneyUTest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Per-phase timing comparison between a baseline group and another group: Mann–Whitney U
 * (commons-statistics) on the durations, Holm–Bonferroni across phases, and a verdict at {@code alpha}.
 */
public final class PhaseTester {
    /** Below this many episodes per group a two-sided exact test at 5% over several phases cannot reject. */
    public static final int DEFAULT_MIN_SAMPLES = 5;

    private final double alpha;
    private final int minSamples;
    private final MannWhitneyUTest test = MannWhitneyUTest.withDefaults().with(AlternativeHypothesis.TWO_SIDED);

    public PhaseTester(double alpha, int minSamples) {
        if (!(alpha > 0 && alpha < 1)) throw new IllegalArgumentException("alpha must be in (0,1), got " + alpha);
        if (minSamples < 2) throw new IllegalArgumentException("min samples must be at least 2, got " + minSamples);
        this.alpha = alpha;
        this.minSamples = minSamples;
    }

    public double alpha() { return alpha; }

    /**
     * @param phases phase names in report order (phases missing from both maps are skipped)
     * @param base   baseline durations (ns) per phase
     * @param other  other group's durations (ns) per phase
     */
    public List<PhaseComparison> compare(String baseName, Map<String, double[]> base,
                                         String otherName, Map<String, double[]> other,
                                         List<String> phases) {
        Set<String> order = new LinkedHashSet<>(phases);
        order.addAll(base.keySet());
        order.addAll(other.keySet());

        List<Row> rows = new ArrayList<>();
        for (String phase : order) {
            double[] a = base.getOrDefault(phase, new double[0]);
            double[] b = other.getOrDefault(phase, new double[0]);
            if (a.length == 0 && b.length == 0) continue;
            Row r = new Row(phase, a, b);
            if (a.length >= minSamples && b.length >= minSamples) {
                MannWhitneyUTest.Result res = test.test(b, a);
                r.u = res.getStatistic();
                r.p = res.getPValue();
                r.tested = true;
            }
            rows.add(r);
        }
        holm(rows);

        List<PhaseComparison> out = new ArrayList<>(rows.size());
        for (Row r : rows) {
            DurationStats sa = DurationStats.of(r.a);
            DurationStats sb = DurationStats.of(r.b);
            PhaseVerdict v;
            double prob = Double.NaN;
            if (r.a.length == 0 || r.b.length == 0) {
                v = PhaseVerdict.ABSENT_IN_ONE;
            } else if (!r.tested) {
                v = PhaseVerdict.TOO_FEW_SAMPLES;
            } else {
                prob = r.u / ((double) r.a.length * r.b.length);
                if (r.adj < alpha) {
                    v = prob > 0.5 ? PhaseVerdict.SLOWER : PhaseVerdict.FASTER;
                } else {
                    v = PhaseVerdict.NO_DETECTABLE_CHANGE;
                }
            }
            out.add(new PhaseComparison(r.phase, baseName, otherName, sa, sb,
                    r.tested ? r.u : Double.NaN, prob, r.tested ? r.p : Double.NaN,
                    r.tested ? r.adj : Double.NaN, v));
        }
        return out;
    }

    /** Holm step-down adjustment over the tested rows. */
    private static void holm(List<Row> rows) {
        List<Row> tested = new ArrayList<>(rows.stream().filter(r -> r.tested).toList());
        tested.sort(Comparator.comparingDouble(r -> r.p));
        int m = tested.size();
        double running = 0;
        for (int i = 0; i < m; i++) {
            Row r = tested.get(i);
            running = Math.max(running, Math.min(1.0, (m - i) * r.p));
            r.adj = running;
        }
    }

    private static final class Row {
        final String phase;
        final double[] a;
        final double[] b;
        boolean tested;
        double u = Double.NaN;
        double p = Double.NaN;
        double adj = Double.NaN;

        Row(String phase, double[] a, double[] b) {
            this.phase = phase;
            this.a = a;
            this.b = b;
        }

        @Override
        public String toString() { return phase + Arrays.toString(a) + Arrays.toString(b); }
    }
}
