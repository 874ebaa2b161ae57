package dev.aertrace.fuzz;

import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.race.Verdict;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fuzzer's evidence property: no confident verdict where the mutation touched an episode's evidence. Which
 * lines a mutation touched is found by diffing what the analyzer reads (the mutant's bytes, gunzipped as far as
 * they go) against the unmutated slice, line by line: changed and inserted lines are touched, and a deleted
 * line touches its neighbours. A confident verdict (not tentative, not inconclusive) of the mutant whose evidence
 * includes a touched line, or whose time span covers the timestamp of a touched or deleted line, must be one the
 * unmutated slice also gives (same kind, device and sentence); anything else is a verdict the damage made.
 */
final class Evidence {
    private Evidence() {}

    private static final Pattern TS = Pattern.compile("\"ts\":(-?[0-9]{1,19})[,}]");

    /** The lines the analyzer reads from {@code data}: gunzipped up to the first damage, split at '\n'. */
    static List<String> lines(byte[] data, boolean gzip) {
        byte[] plain = data;
        if (gzip || (data.length > 1 && (data[0] & 0xff) == 0x1f && (data[1] & 0xff) == 0x8b)) {
            java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
            try (InputStream in = new java.util.zip.GZIPInputStream(new ByteArrayInputStream(data))) {
                byte[] buf = new byte[8192];
                int n;
                while ((n = in.read(buf)) > 0) b.write(buf, 0, n);
            } catch (IOException damaged) {
                // what came out before the damage is what the analyzer read
            }
            plain = b.toByteArray();
        }
        List<String> out = new ArrayList<>(List.of(new String(plain, StandardCharsets.ISO_8859_1).split("\n", -1)));
        if (!out.isEmpty() && out.get(out.size() - 1).isEmpty()) out.remove(out.size() - 1);
        return out;
    }

    /** Touched lines of {@code mutant} (1-based) and the timestamps of lines touched or deleted. */
    record Touch(Set<Long> lines, Set<Long> ts) {
        boolean none() { return lines.isEmpty() && ts.isEmpty(); }
    }

    static Touch touched(List<String> original, List<String> mutant) {
        List<String> a = new ArrayList<>(original.size());
        for (String s : original) a.add(new String(s.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1));
        int n = a.size(), m = mutant.size();
        int[][] lcs = new int[n + 1][m + 1];
        for (int i = n - 1; i >= 0; i--)
            for (int j = m - 1; j >= 0; j--)
                lcs[i][j] = a.get(i).equals(mutant.get(j)) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
        Set<Long> lines = new TreeSet<>(), ts = new HashSet<>();
        int i = 0, j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && a.get(i).equals(mutant.get(j))) {
                i++;
                j++;
            } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
                lines.add((long) j + 1); // changed or inserted
                ts(mutant.get(j), ts);
                j++;
            } else {
                ts(a.get(i), ts); // deleted (or the old text of a changed line): its neighbours are touched
                if (j > 0) lines.add((long) j);
                if (j < m) lines.add((long) j + 1);
                i++;
            }
        }
        return new Touch(lines, ts);
    }

    private static void ts(String line, Set<Long> out) {
        Matcher t = TS.matcher(line);
        if (t.find()) try {
            out.add(Long.parseLong(t.group(1)));
        } catch (NumberFormatException ignored) {
            // beyond 64 bits: the analyzer does not read it as a time either
        }
    }

    static List<AnalyzedEpisode> analyze(byte[] data) throws IOException {
        List<AnalyzedEpisode> out = new ArrayList<>();
        new Analyzer().analyze("fuzz", () -> new ByteArrayInputStream(data), out::add);
        return out;
    }

    private static boolean confident(Verdict v) {
        return !v.tentative() && v.kind().category != Verdict.Category.INCONCLUSIVE;
    }

    private static String key(Verdict v) { return v.kind().id + " " + v.dev() + " " + v.sentence(); }

    /** The problem, or null: every confident verdict over touched evidence is one the unmutated slice gives. */
    static String check(Mutator.Mutant m) throws IOException {
        if (m.slice().isEmpty()) return null; // a seed file: no unmutated original to compare with
        List<String> mutant = lines(m.data(), m.gzip());
        // A whole line deleted or repeated leaves a well-formed trace of events that did or did not happen: only
        // the footer's count can tell (ingest makes a mismatch a hole of unknown place). Without an intact footer
        // such a mutant is another valid trace, not damage a reader could see.
        boolean wholeLines = m.ops().stream().anyMatch(o -> o.startsWith("deleted lines") || o.contains(" repeated "));
        if (wholeLines && mutant.stream().noneMatch(l -> l.startsWith("{\"type\":\"footer\"") && l.endsWith("}"))) return null;
        // A number changed to another value its field allows is a real-looking record (FuzzDomain): not judged.
        if (m.ops().stream().anyMatch(o -> o.endsWith(Mutator.IN_DOMAIN))) return null;
        Touch t = touched(m.slice(), mutant);
        if (t.none()) return null;
        Set<String> before = new HashSet<>();
        for (AnalyzedEpisode e : analyze(Mutator.join(m.slice())))
            for (Verdict v : e.verdicts()) if (confident(v)) before.add(key(v));
        for (AnalyzedEpisode e : analyze(m.data())) {
            for (Verdict v : e.verdicts()) {
                if (!confident(v) || before.contains(key(v))) continue;
                List<Long> hit = new ArrayList<>();
                for (var ev : v.evidence()) if (t.lines().contains(ev.line())) hit.add(ev.line());
                boolean inSpan = false;
                for (long x : t.ts()) if (x >= v.from() && x <= v.to()) inSpan = true;
                if (!hit.isEmpty() || inSpan)
                    return "confident " + v.kind().id + " on " + v.dev() + " over touched " + (hit.isEmpty()
                            ? "time (a touched line's ts is inside " + v.from() + ".." + v.to() + ")" : "lines " + hit)
                            + ", not in the unmutated slice: " + v.sentence();
            }
        }
        return null;
    }
}
