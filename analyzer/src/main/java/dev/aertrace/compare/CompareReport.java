package dev.aertrace.compare;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.aertrace.text.Durations;
import dev.aertrace.text.Text;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Renders a {@link Comparison.Result} as text (terminals, mails), Markdown (docs, tickets) or JSON (scripts). */
public final class CompareReport {
    /** Version of the JSON layout; bump on any change a reader must know about. */
    public static final int JSON_VERSION = 1;

    private CompareReport() {}

    public static String text(Comparison.Result r) {
        StringBuilder sb = new StringBuilder();
        sb.append("aertrace compare: ").append(r.groups().size()).append(" groups, ")
                .append(r.pairs().size() > 1 && !r.pairs().get(1).baseline().equals(r.groups().get(0).name())
                        ? "each against the one before" : "baseline " + r.groups().get(0).name()).append('\n');
        header(sb, r, "");
        for (Comparison.Pair p : r.pairs()) {
            sb.append('\n').append(p.other()).append(" vs ").append(p.baseline()).append('\n');
            sb.append(String.format(Locale.ROOT, "  %-26s %4s %9s %9s %9s | %4s %9s %9s %9s | %6s %6s %8s  %s%n",
                    "phase", "n", "median", "p90", "max", "n", "median", "p90", "max", "ratio", "P(B>A)", "p(Holm)", "verdict"));
            for (PhaseComparison c : p.phases()) {
                DurationStats a = c.baseStats(), b = c.otherStats();
                sb.append(String.format(Locale.ROOT, "  %-26s %4d %9s %9s %9s | %4d %9s %9s %9s | %6s %6s %8s  %s%n",
                        c.phase(), a.count(), ms(a.median()), ms(a.p90()), ms(a.max()),
                        b.count(), ms(b.median()), ms(b.p90()), ms(b.max()),
                        ratio(c.medianRatio()), num(c.probOtherLonger(), 2), pval(c.adjustedP()), verdictWords(c)));
            }
            sb.append("  (durations in ms; p99 in --format markdown/json; P(B>A): chance a ").append(p.other())
                    .append(" episode took longer than a ").append(p.baseline()).append(" one)\n");
            sb.append("  behaviour:\n");
            int shown = 0;
            for (BehaviourDiff.ValueCount v : p.behaviour()) {
                sb.append(String.format(Locale.ROOT, "  %s %-24s %-40s %3d/%-3d | %3d/%-3d %s%n",
                        v.isDifference() ? "*" : " ", v.key(), Text.clip(v.value(), 40), v.baseCount(), v.baseTotal(),
                        v.otherCount(), v.otherTotal(), behaviourWords(v)));
                shown++;
            }
            if (shown == 0) sb.append("    (no episodes)\n");
            sb.append("  ").append(summary(p)).append('\n');
        }
        return sb.toString();
    }

    public static String markdown(Comparison.Result r) {
        StringBuilder sb = new StringBuilder();
        sb.append("## Recovery timing and behaviour: ");
        List<String> names = new ArrayList<>();
        for (Comparison.Group g : r.groups()) names.add("`" + g.name() + "`");
        sb.append(String.join(" vs ", names)).append("\n\n");
        header(sb, r, "- ");
        for (Comparison.Pair p : r.pairs()) {
            sb.append("\n### `").append(p.other()).append("` compared with `").append(p.baseline()).append("`\n\n");
            sb.append("**").append(summary(p)).append("**\n\n");
            sb.append("| phase | n | median | p90 | p99 | max | n | median | p90 | p99 | max | median ratio | P(B>A) | p | p (Holm) | verdict |\n");
            sb.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
            for (PhaseComparison c : p.phases()) {
                DurationStats a = c.baseStats(), b = c.otherStats();
                sb.append("| ").append(c.phase()).append(" | ").append(a.count()).append(" | ").append(ms(a.median()))
                        .append(" | ").append(ms(a.p90())).append(" | ").append(ms(a.p99())).append(" | ").append(ms(a.max()))
                        .append(" | ").append(b.count()).append(" | ").append(ms(b.median())).append(" | ").append(ms(b.p90()))
                        .append(" | ").append(ms(b.p99())).append(" | ").append(ms(b.max())).append(" | ")
                        .append(ratio(c.medianRatio())).append(" | ").append(num(c.probOtherLonger(), 2)).append(" | ")
                        .append(pval(c.pValue())).append(" | ").append(pval(c.adjustedP())).append(" | ");
                boolean diff = c.verdict() == PhaseVerdict.FASTER || c.verdict() == PhaseVerdict.SLOWER;
                sb.append(diff ? "**" + verdictWords(c) + "**" : verdictWords(c)).append(" |\n");
            }
            sb.append("\nDurations in ms. Left block: `").append(p.baseline()).append("`, right block: `").append(p.other())
                    .append("`. P(B>A): probability that a `").append(p.other()).append("` episode spent longer in the phase than a `")
                    .append(p.baseline()).append("` one (0.5 = no shift).\n\n");
            sb.append("| behaviour | value | `").append(p.baseline()).append("` | `").append(p.other()).append("` | difference |\n");
            sb.append("|---|---|--:|--:|---|\n");
            for (BehaviourDiff.ValueCount v : p.behaviour()) {
                sb.append("| ").append(v.key()).append(" | ").append(v.value().replace("|", "\\|")).append(" | ")
                        .append(v.baseCount()).append("/").append(v.baseTotal()).append(" | ")
                        .append(v.otherCount()).append("/").append(v.otherTotal()).append(" | ")
                        .append(v.isDifference() ? "**" + behaviourWords(v) + "**" : behaviourWords(v))
                        .append(" |\n");
            }
        }
        return sb.toString();
    }

    public static String json(Comparison.Result r) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("aertrace_compare", JSON_VERSION);
        root.put("alpha", r.alpha());
        root.put("min_samples", r.minSamples());
        root.put("filter", r.filter());
        root.put("test", "two-sided Mann-Whitney U (commons-statistics, exact p for small samples without ties), "
                + "Holm-adjusted across phases; behaviour: Fisher exact test");
        List<Object> groups = new ArrayList<>();
        for (Comparison.Group g : r.groups()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", g.name());
            m.put("sources", g.sources());
            m.put("episodes", g.episodes());
            Map<String, Object> st = new LinkedHashMap<>();
            g.stats().forEach((k, s) -> st.put(k, stats(s)));
            m.put("phases_ns", st);
            m.put("behaviour", g.behaviour().counts());
            groups.add(m);
        }
        root.put("groups", groups);
        List<Object> pairs = new ArrayList<>();
        for (Comparison.Pair p : r.pairs()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("baseline", p.baseline());
            m.put("other", p.other());
            m.put("summary", summary(p));
            List<Object> ph = new ArrayList<>();
            for (PhaseComparison c : p.phases()) {
                Map<String, Object> x = new LinkedHashMap<>();
                x.put("phase", c.phase());
                x.put("baseline", stats(c.baseStats()));
                x.put("other", stats(c.otherStats()));
                x.put("median_ratio", finite(c.medianRatio()));
                x.put("prob_other_longer", finite(c.probOtherLonger()));
                x.put("u", finite(c.u()));
                x.put("p", finite(c.pValue()));
                x.put("p_holm", finite(c.adjustedP()));
                x.put("verdict", c.verdict().name().toLowerCase(Locale.ROOT).replace('_', '-'));
                ph.add(x);
            }
            m.put("phases", ph);
            List<Object> bh = new ArrayList<>();
            for (BehaviourDiff.ValueCount v : p.behaviour()) {
                Map<String, Object> x = new LinkedHashMap<>();
                x.put("key", v.key());
                x.put("value", v.value());
                x.put("baseline", List.of(v.baseCount(), v.baseTotal()));
                x.put("other", List.of(v.otherCount(), v.otherTotal()));
                x.put("fisher_p", finite(v.pValue()));
                x.put("kind", v.kind().name().toLowerCase(Locale.ROOT).replace('_', '-'));
                x.put("significant", v.isDifference());
                bh.add(x);
            }
            m.put("behaviour", bh);
            pairs.add(m);
        }
        root.put("comparisons", pairs);
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(root) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One line: which phases changed and which behaviours differ, or that nothing detectable did. */
    public static String summary(Comparison.Pair p) {
        List<String> parts = new ArrayList<>();
        for (PhaseComparison c : p.phases()) {
            if (c.verdict() == PhaseVerdict.FASTER || c.verdict() == PhaseVerdict.SLOWER) {
                parts.add(c.phase() + " " + c.verdict().words() + " (median ×" + ratio(c.medianRatio()) + ")");
            }
        }
        long beh = p.behaviour().stream().filter(BehaviourDiff.ValueCount::isDifference).count();
        long notes = p.behaviour().stream().filter(BehaviourDiff.ValueCount::isNote).count();
        String timing = parts.isEmpty() ? "no detectable timing change" : String.join(", ", parts);
        long tooFew = p.phases().stream().filter(c -> c.verdict() == PhaseVerdict.TOO_FEW_SAMPLES).count();
        return p.other() + " vs " + p.baseline() + ": " + timing
                + (beh == 0 ? "; no behaviour difference" : "; " + beh + " behaviour difference" + (beh == 1 ? "" : "s"))
                + (notes == 0 ? "" : " (" + notes + " value" + (notes == 1 ? "" : "s") + " seen in one group only, not significant)")
                + (tooFew > 0 ? "; " + tooFew + " phase(s) with too few samples to test" : "");
    }

    private static void header(StringBuilder sb, Comparison.Result r, String bullet) {
        for (Comparison.Group g : r.groups()) {
            sb.append(bullet).append(g.name()).append(": ").append(g.episodes()).append(" episodes from ")
                    .append(String.join(", ", g.sources().stream().map(CompareReport::shortSource).toList())).append('\n');
        }
        sb.append(bullet).append(String.format(Locale.ROOT,
                "test: two-sided Mann-Whitney U per phase, Holm-adjusted across phases, verdict at alpha=%s; "
                        + "phases with fewer than %d episodes in a group are not tested", num(r.alpha(), 3), r.minSamples()));
        if (r.filter() != null) sb.append("; episodes: ").append(r.filter());
        sb.append('\n');
    }

    private static String behaviourWords(BehaviourDiff.ValueCount v) {
        if (v.kind() == BehaviourDiff.Kind.SAME) return "";
        String p = String.format(Locale.ROOT, "Fisher p=%s", pval(v.pValue()));
        return v.kind().words() + (v.isDifference() ? " (" + p + ")" : " (" + p + ", not significant)");
    }

    private static String verdictWords(PhaseComparison c) {
        return c.verdict().words();
    }

    private static Map<String, Object> stats(DurationStats s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", s.count());
        m.put("median", finite(s.median()));
        m.put("p90", finite(s.p90()));
        m.put("p99", finite(s.p99()));
        m.put("max", finite(s.max()));
        m.put("min", finite(s.min()));
        return m;
    }

    private static Object finite(double d) {
        return Double.isFinite(d) ? d : null;
    }

    static String ms(double ns) {
        return Durations.ms(ns);
    }

    private static String ratio(double r) {
        return Double.isFinite(r) ? String.format(Locale.ROOT, "%.2f", r) : "-";
    }

    private static String num(double d, int digits) {
        return Double.isFinite(d) ? String.format(Locale.ROOT, "%." + digits + "f", d) : "-";
    }

    private static String pval(double p) {
        if (!Double.isFinite(p)) return "-";
        if (p < 0.001) return String.format(Locale.ROOT, "%.1e", p);
        return String.format(Locale.ROOT, "%.3f", p);
    }

    /** Last two path components ("6.1/fatal-race-x20.jsonl.gz"): the lab's kernel directory says which trace. */
    private static String shortSource(String s) {
        if (s == null) return "?";
        int i = s.lastIndexOf('/');
        int j = i > 0 ? s.lastIndexOf('/', i - 1) : -1;
        return s.substring(j + 1);
    }
}
