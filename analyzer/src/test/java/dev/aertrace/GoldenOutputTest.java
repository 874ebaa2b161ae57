package dev.aertrace;

import dev.aertrace.cli.Main;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The safety net of the code-shape refactor (issue 14): every committed trace (testdata/lab/**, testdata/field/**,
 * the embedded default and the hand-written {@link Scenarios}) rendered by {@code analyze} (text and JSON),
 * {@code timeline}, {@code export --format chrome} and {@code export --format csv} must stay byte-identical. The
 * goldens are SHA-256 digests of exit code, stdout, stderr and written files, one line per (input, output), in
 * src/test/resources/golden/outputs.sha256. A trace committed later is named on stderr until the goldens are
 * regenerated; a golden whose trace is gone, or whose output changed, fails.
 *
 * <p>When an output changes on purpose, regenerate them in a commit of its own that says what changed and why:
 * <pre>cd analyzer && ./mvnw -B -q verify -Dtest=GoldenOutputTest -Daertrace.golden.update=true -Dsurefire.failIfNoSpecifiedTests=false</pre>
 */
class GoldenOutputTest {
    static final Path TESTDATA = Path.of(System.getProperty("aertrace.testdata", "../testdata"));
    static final Path GOLDEN = Path.of("src/test/resources/golden/outputs.sha256");

    /**
     * Scenario traces and CSV output go here, not to a JUnit temp dir: its name's length varies from run to run, and
     * a path printed in a wrapped paragraph moved the wrap point (endsMidRecovery's text report differed between runs).
     */
    final Path tmp = Path.of("target/golden-work");

    @org.junit.jupiter.api.BeforeEach
    void clean() throws IOException {
        if (Files.exists(tmp)) {
            try (Stream<Path> s = Files.walk(tmp)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
            }
        }
        Files.createDirectories(tmp);
    }

    /** Every input, by a stable name: the path as given to the command, or "scenario/NAME". */
    Map<String, String> inputs() throws Exception {
        Map<String, String> in = new TreeMap<>();
        for (String dir : List.of("lab", "field")) {
            try (Stream<Path> s = Files.walk(TESTDATA.resolve(dir))) {
                s.filter(p -> {
                    String n = p.getFileName().toString();
                    return n.endsWith(".jsonl.gz") || n.endsWith(".dmesg.gz");
                }).forEach(p -> in.put(TESTDATA.relativize(p).toString(), p.toString()));
            }
        }
        for (var m : Scenarios.class.getDeclaredMethods()) {
            if (m.getParameterCount() != 0 || m.getReturnType() != Tr.class
                    || !java.lang.reflect.Modifier.isStatic(m.getModifiers())) continue;
            Path p = tmp.resolve(m.getName() + ".jsonl");
            Files.write(p, ((Tr) m.invoke(null)).bytes());
            in.put("scenario/" + m.getName(), p.toString());
        }
        return in;
    }

    @Test
    void everyOutputOfEveryCommittedTraceIsUnchanged() throws Exception {
        Map<String, String> now = new TreeMap<>();
        Map<String, String> inputs = inputs();
        assertTrue(inputs.size() > 50, "testdata not found under " + TESTDATA.toAbsolutePath());
        now.putAll(digests("(embedded)", null));
        for (var e : inputs.entrySet()) now.putAll(digests(e.getKey(), e.getValue()));

        StringBuilder text = new StringBuilder();
        now.forEach((k, v) -> text.append(v).append("  ").append(k).append('\n'));
        if (Boolean.getBoolean("aertrace.golden.update")) {
            Files.createDirectories(GOLDEN.getParent());
            Files.writeString(GOLDEN, text.toString());
            return;
        }
        assertTrue(Files.exists(GOLDEN), GOLDEN + " missing: see this class's comment to generate it");
        Map<String, String> want = new TreeMap<>();
        for (String line : Files.readAllLines(GOLDEN)) {
            if (line.isBlank()) continue;
            want.put(line.substring(66), line.substring(0, 64));
        }
        List<String> diff = new ArrayList<>();
        for (String k : want.keySet()) if (!want.get(k).equals(now.get(k))) diff.add(k + (now.containsKey(k) ? " changed" : " gone"));
        // A trace committed after the goldens has no earlier output to keep: named, not failed, until regenerated.
        for (String k : now.keySet()) if (!want.containsKey(k)) System.err.println("GoldenOutputTest: no golden yet for " + k);
        assertEquals(List.of(), diff, "outputs differ from the goldens (regenerate deliberately: see GoldenOutputTest)");
    }

    private Map<String, String> digests(String name, String path) throws Exception {
        Map<String, String> d = new TreeMap<>();
        List<String> in = path == null ? List.of() : List.of(path);
        d.put(name + " analyze-text", digest(name + " analyze-text", run(cat("analyze"), in)));
        // the version-2 report as it always was (issue 13: the default became one line with the race window's accesses)
        d.put(name + " analyze-json", digest(name + " analyze-json", run(cat("analyze", "--format", "json", "--pretty", "--accesses", "all"), in)));
        d.put(name + " analyze-json-default", digest(name + " analyze-json-default", run(cat("analyze", "--format", "json"), in)));
        if (path == null || !path.endsWith(".dmesg.gz")) {
            d.put(name + " timeline", digest(name + " timeline", run(cat("timeline"), in)));
            d.put(name + " export-chrome", digest(name + " export-chrome", run(cat("export", "--format", "chrome"), in)));
            Path csv = tmp.resolve("csv-" + Math.abs(name.hashCode()));
            String r = run(cat("export", "--format", "csv", "-o", csv.toString()), in);
            for (String f : List.of("episodes.csv", "spans.csv")) {
                Path p = csv.resolve(f);
                r += "\n--- " + f + "\n" + (Files.exists(p) ? Files.readString(p) : "(none)");
            }
            d.put(name + " export-csv", digest(name + " export-csv", r.replace(csv.toString(), "<out>").replace(tmp.toString(), "<tmp>")));
        }
        return d;
    }

    private static List<String> cat(String... a) {
        return List.of(a);
    }

    /** Exit code, stdout and stderr of one command, the temporary directory's name replaced. */
    private String run(List<String> args, List<String> inputs) {
        List<String> all = new ArrayList<>(args);
        all.addAll(inputs);
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream bo = new ByteArrayOutputStream(), be = new ByteArrayOutputStream();
        int code;
        synchronized (GoldenOutputTest.class) {
            try {
                System.setOut(new PrintStream(bo, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(be, true, StandardCharsets.UTF_8));
                code = Main.run(all.toArray(String[]::new));
            } finally {
                System.setOut(o);
                System.setErr(e);
            }
        }
        String s = "exit " + code + "\n--- stdout\n" + bo.toString(StandardCharsets.UTF_8)
                + "\n--- stderr\n" + be.toString(StandardCharsets.UTF_8);
        return s.replace(tmp.toString(), "<tmp>");
    }

    /** With -Daertrace.golden.dump=DIR every output is also written there in full, to diff two builds by eye. */
    private static final String DUMP = System.getProperty("aertrace.golden.dump");

    private static String digest(String key, String s) throws IOException {
        if (DUMP != null) {
            Path d = Path.of(DUMP);
            Files.createDirectories(d);
            Files.writeString(d.resolve(key.replaceAll("[^A-Za-z0-9.-]+", "_")), s);
        }
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IOException(e);
        }
    }
}
