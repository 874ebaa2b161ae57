package dev.aertrace.compare;

import org.apache.commons.statistics.inference.AlternativeHypothesis;
import org.apache.commons.statistics.inference.FisherExactTest;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Differences in what recovery did (not how long it took) between a baseline group and another:
 * for each behaviour key (e.g. "callbacks", "reset vs mmio_enabled", "result", "race"), how many
 * episodes of each group showed each value. Every value gets Fisher's exact test on its 2×2 table
 * (episodes with / without it, per group); it is a difference when p &lt; alpha. A value seen in one group only
 * is always named ({@link Kind#ONLY_IN_OTHER}) but counts as a difference only when significant: a race in
 * 1 of 20 episodes against 0 of 20 is worth reading, not a verdict.
 */
public final class BehaviourDiff {

    /** Counts of one value of one key in both groups. */
    public record ValueCount(String key, String value, int baseCount, int baseTotal, int otherCount, int otherTotal,
                             double pValue, Kind kind, double alphaUsed) {
        public boolean isDifference() { return kind != Kind.SAME && pValue < alphaUsed; }

        /** Seen in one group only but not significant: shown, not counted. */
        public boolean isNote() { return (kind == Kind.ONLY_IN_BASELINE || kind == Kind.ONLY_IN_OTHER) && !isDifference(); }
    }

    public enum Kind {
        SAME("same"), ONLY_IN_BASELINE("only in baseline"), ONLY_IN_OTHER("only in other"), RATE_DIFFERS("rate differs");
        private final String words;
        Kind(String words) { this.words = words; }
        public String words() { return words; }
    }

    /** Tally of behaviour values of one group: key → value → episodes, plus the episode total. */
    public static final class Tally {
        private final Map<String, Map<String, Integer>> counts = new TreeMap<>();
        private int episodes;

        /** Adds one episode; a key may carry several values (e.g. several race kinds), each counted once. */
        public void add(Map<String, ? extends Iterable<String>> behaviour) {
            episodes++;
            behaviour.forEach((k, vs) -> {
                Map<String, Integer> m = counts.computeIfAbsent(k, x -> new TreeMap<>());
                TreeSet<String> seen = new TreeSet<>();
                for (String v : vs) if (seen.add(v)) m.merge(v, 1, Integer::sum);
            });
        }

        public int episodes() { return episodes; }

        public Map<String, Map<String, Integer>> counts() { return counts; }
    }

    private final double alpha;
    private final FisherExactTest fisher = FisherExactTest.withDefaults().with(AlternativeHypothesis.TWO_SIDED);

    public BehaviourDiff(double alpha) { this.alpha = alpha; }

    public List<ValueCount> compare(Tally base, Tally other) {
        Map<String, TreeSet<String>> keys = new LinkedHashMap<>();
        base.counts.forEach((k, m) -> keys.computeIfAbsent(k, x -> new TreeSet<>()).addAll(m.keySet()));
        other.counts.forEach((k, m) -> keys.computeIfAbsent(k, x -> new TreeSet<>()).addAll(m.keySet()));
        List<ValueCount> out = new ArrayList<>();
        for (var e : new TreeMap<>(keys).entrySet()) {
            for (String v : e.getValue()) {
                int a = base.counts.getOrDefault(e.getKey(), Map.of()).getOrDefault(v, 0);
                int b = other.counts.getOrDefault(e.getKey(), Map.of()).getOrDefault(v, 0);
                double p = fisher.test(new int[][] {{a, base.episodes - a}, {b, other.episodes - b}}).getPValue();
                Kind kind;
                if (a > 0 && b == 0 && other.episodes > 0) {
                    kind = Kind.ONLY_IN_BASELINE;
                } else if (b > 0 && a == 0 && base.episodes > 0) {
                    kind = Kind.ONLY_IN_OTHER;
                } else {
                    kind = p < alpha ? Kind.RATE_DIFFERS : Kind.SAME;
                }
                out.add(new ValueCount(e.getKey(), v, a, base.episodes, b, other.episodes, p, kind, alpha));
            }
        }
        return out;
    }
}
