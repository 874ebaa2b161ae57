package dev.aertrace.compare;

import org.apache.commons.statistics.descriptive.Quantile;

import java.util.Arrays;

/**
 * Summary of one phase's durations in one group, in nanoseconds.
 * Quantiles use commons-statistics' default estimator (Hyndman–Fan type 8, median-unbiased), so
 * with 20 samples p99 is close to the maximum: the report shows both rather than pretend otherwise.
 */
public record DurationStats(int count, double median, double p90, double p99, double max, double min) {

    public static DurationStats of(double[] ns) {
        if (ns.length == 0) {
            return new DurationStats(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        double[] sorted = ns.clone();
        Arrays.sort(sorted);
        double[] q = Quantile.withDefaults().withCopy(false).evaluate(sorted, 0.5, 0.9, 0.99);
        return new DurationStats(sorted.length, q[0], q[1], q[2], sorted[sorted.length - 1], sorted[0]);
    }
}
