package dev.aertrace.compare;

import dev.aertrace.race.AnalyzedEpisode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Groups of episodes (by kernel release or label) compared against the first group, the baseline:
 * per-phase timing statistics with a Mann–Whitney verdict, and behaviour differences.
 */
public final class Comparison {

    /** One group's episodes as measured. {@code sources}: the traces they came from. */
    public record Group(String name, List<String> sources, int episodes, Map<String, double[]> durations,
                        BehaviourDiff.Tally behaviour, Map<String, DurationStats> stats) {}

    /** Baseline versus one other group. */
    public record Pair(String baseline, String other, List<PhaseComparison> phases, List<BehaviourDiff.ValueCount> behaviour) {
        public long differences() {
            return phases.stream().filter(p -> p.verdict() == PhaseVerdict.FASTER || p.verdict() == PhaseVerdict.SLOWER).count()
                    + behaviour.stream().filter(BehaviourDiff.ValueCount::isDifference).count();
        }
    }

    public record Result(double alpha, int minSamples, String filter, List<Group> groups, List<Pair> pairs) {}

    /** Collects episodes per group, keeping only durations and behaviour tallies (not the episodes). */
    public static final class Builder {
        private final Map<String, Map<String, List<Long>>> durations = new LinkedHashMap<>();
        private final Map<String, BehaviourDiff.Tally> tallies = new LinkedHashMap<>();
        private final Map<String, List<String>> sources = new LinkedHashMap<>();
        private final Map<String, Integer> counts = new LinkedHashMap<>();

        /** Makes {@code group} exist (in this order) even if none of its episodes pass the filter. */
        public Builder group(String group, String source) {
            durations.computeIfAbsent(group, g -> new LinkedHashMap<>());
            tallies.computeIfAbsent(group, g -> new BehaviourDiff.Tally());
            List<String> s = sources.computeIfAbsent(group, g -> new ArrayList<>());
            if (source != null && !s.contains(source)) s.add(source);
            counts.putIfAbsent(group, 0);
            return this;
        }

        public Builder add(String group, AnalyzedEpisode a) {
            group(group, a.episode().source());
            counts.merge(group, 1, Integer::sum);
            EpisodeMetrics.durations(a.episode()).forEach((k, v) ->
                    durations.get(group).computeIfAbsent(k, x -> new ArrayList<>()).add(v));
            tallies.get(group).add(EpisodeMetrics.behaviour(a));
            return this;
        }

        /** An episode measured elsewhere (e.g. exported from the fleet's episodes topic) by the same EpisodeMetrics. */
        public Builder add(String group, String source, Map<String, Long> episodeDurations,
                           Map<String, ? extends Iterable<String>> behaviour) {
            group(group, source);
            counts.merge(group, 1, Integer::sum);
            episodeDurations.forEach((k, v) -> durations.get(group).computeIfAbsent(k, x -> new ArrayList<>()).add(v));
            tallies.get(group).add(behaviour);
            return this;
        }

        public Result build(double alpha, int minSamples, String filter) {
            return build(alpha, minSamples, filter, false);
        }

        /** @param adjacent compare each group with the one before it (A→B, B→C) instead of all with the first */
        public Result build(double alpha, int minSamples, String filter, boolean adjacent) {
            if (durations.size() < 2) {
                throw new IllegalArgumentException("compare needs at least two groups, got " + durations.keySet()
                        + " (traces of one kernel? give --label per trace)");
            }
            List<Group> groups = new ArrayList<>();
            for (String g : durations.keySet()) {
                Map<String, double[]> d = new LinkedHashMap<>();
                Map<String, DurationStats> st = new LinkedHashMap<>();
                for (String p : EpisodeMetrics.PHASES) {
                    List<Long> v = durations.get(g).get(p);
                    if (v == null) continue;
                    double[] arr = v.stream().mapToDouble(Long::doubleValue).toArray();
                    d.put(p, arr);
                    st.put(p, DurationStats.of(arr));
                }
                groups.add(new Group(g, sources.get(g), counts.get(g), d, tallies.get(g), st));
            }
            PhaseTester tester = new PhaseTester(alpha, minSamples);
            BehaviourDiff diff = new BehaviourDiff(alpha);
            List<Pair> pairs = new ArrayList<>();
            for (int i = 1; i < groups.size(); i++) {
                Group base = groups.get(adjacent ? i - 1 : 0), o = groups.get(i);
                pairs.add(new Pair(base.name(), o.name(),
                        tester.compare(base.name(), base.durations(), o.name(), o.durations(), EpisodeMetrics.PHASES),
                        diff.compare(base.behaviour(), o.behaviour())));
            }
            return new Result(alpha, minSamples, filter, groups, pairs);
        }
    }
}
