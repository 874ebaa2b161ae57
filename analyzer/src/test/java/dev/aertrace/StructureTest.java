package dev.aertrace;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 14's structure check, on the analyzer's main code: no class (file) over {@value #MAX_CLASS} lines, no method
 * over {@value #MAX_METHOD} lines, no package importing a package of its own or a higher layer ({@link #LAYERS}), and
 * no identical run of {@value #RUN} or more lines in two places. Files not yet conformant are named in
 * {@link #EXCEPTED} with who owns them; an exception that is no longer needed fails too, so the list only shrinks.
 */
class StructureTest {
    static final Path MAIN = Path.of("src/main/java/dev/aertrace");
    static final int MAX_CLASS = 400, MAX_METHOD = 80, RUN = 6;

    /**
     * Layers, bottom first: a package may use only packages of lower layers. pci (PCI decoding) and text (what
     * outputs print) are leaves; ingest reads traces; timeline builds episodes; race judges them; qemu adds the
     * QEMU lane's verdicts; pipeline wires them; kernellog reads kernel logs into the same episodes; lanes and
     * report lay episodes out; export, chart and compare render them; fleet serves them; cli is the top.
     */
    static final List<Set<String>> LAYERS = List.of(
            Set.of("pci"), Set.of("text"), Set.of("ingest"), Set.of("timeline"), Set.of("race"), Set.of("qemu"),
            Set.of("pipeline"), Set.of("kernellog", "bench"), Set.of("lanes", "report"), Set.of("export"),
            Set.of("chart", "compare"), Set.of("fleet"), Set.of("cli"));

    /** Files allowed over the size limits for now, and who is splitting them. Shrinks to empty. */
    static final Map<String, String> EXCEPTED = Map.of();

    @Test
    void noClassOrMethodTooLong() throws IOException {
        List<String> over = new ArrayList<>();
        Set<String> usedExceptions = new TreeSet<>();
        for (Path f : sources()) {
            String rel = MAIN.relativize(f).toString();
            List<String> bad = new ArrayList<>();
            long lines = Files.readAllLines(f).size();
            if (lines > MAX_CLASS) bad.add(rel + ": " + lines + " lines (class over " + MAX_CLASS + ")");
            for (Method m : methods(Files.readString(f)))
                if (m.lines() > MAX_METHOD) bad.add(rel + ":" + m.line() + " " + m.name() + ": " + m.lines() + " lines (method over " + MAX_METHOD + ")");
            if (bad.isEmpty()) continue;
            if (EXCEPTED.containsKey(rel)) usedExceptions.add(rel);
            else over.addAll(bad);
        }
        assertEquals(List.of(), over, "split these per lane/layer/phase (issue 14)");
        assertEquals(new TreeSet<>(EXCEPTED.keySet()), usedExceptions, "an exception no longer needed: take it off EXCEPTED");
    }

    @Test
    void noPackageUsesOneAboveIt() throws IOException {
        Map<String, Integer> layer = new HashMap<>();
        for (int i = 0; i < LAYERS.size(); i++) for (String p : LAYERS.get(i)) layer.put(p, i);
        Pattern ref = Pattern.compile("\\bdev\\.aertrace\\.([a-z]+)\\b");
        List<String> wrong = new ArrayList<>();
        for (Path f : sources()) {
            String pkg = MAIN.relativize(f).getName(0).toString();
            assertTrue(layer.containsKey(pkg), "package " + pkg + " has no layer in StructureTest.LAYERS");
            Matcher m = ref.matcher(code(Files.readString(f)));
            Set<String> seen = new TreeSet<>();
            while (m.find()) {
                String dep = m.group(1);
                if (dep.equals(pkg) || !seen.add(dep)) continue;
                if (!layer.containsKey(dep) || layer.get(dep) >= layer.get(pkg))
                    wrong.add(MAIN.relativize(f) + " (" + pkg + ") uses " + dep);
            }
        }
        assertEquals(List.of(), wrong, "a package may use only packages of lower layers (StructureTest.LAYERS)");
    }

    @Test
    void noIdenticalRunsOfSixLines() throws IOException {
        Map<String, List<String>> where = new LinkedHashMap<>();
        for (Path f : sources()) {
            List<String[]> lines = meaningfulLines(f);
            for (int i = 0; i + RUN <= lines.size(); i++) {
                StringBuilder k = new StringBuilder();
                for (int j = i; j < i + RUN; j++) k.append(lines.get(j)[1]).append('\n');
                where.computeIfAbsent(k.toString(), x -> new ArrayList<>()).add(MAIN.relativize(f) + ":" + lines.get(i)[0]);
            }
        }
        Map<String, List<String>> dup = new TreeMap<>();
        where.forEach((k, places) -> { if (places.size() > 1) dup.put(places.get(0), places); });
        assertEquals(Map.of(), dup, "identical runs of " + RUN + " lines: make one piece of code serve both");
    }

    static List<Path> sources() throws IOException {
        try (Stream<Path> s = Files.walk(MAIN)) {
            return s.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        }
    }

    /** Lines that say something: not blank, not comments, imports or lone punctuation; white space folded. */
    static List<String[]> meaningfulLines(Path f) throws IOException {
        List<String[]> out = new ArrayList<>();
        String[] code = code(Files.readString(f), true).split("\n", -1);
        for (int i = 0; i < code.length; i++) {
            String t = code[i].strip().replaceAll("\\s+", " ");
            if (t.isEmpty() || t.startsWith("import ") || t.startsWith("package ") || t.matches("[{}();,\\s]*")) continue;
            out.add(new String[] {String.valueOf(i + 1), t});
        }
        return out;
    }

    record Method(String name, int line, int lines) {}

    /**
     * Methods and constructors: a block opened directly in a type body whose header has a parameter list. A
     * method's lines run from its header's first line to its closing brace (lambdas and anonymous classes in it count).
     */
    static List<Method> methods(String src) {
        String c = code(src);
        List<Method> out = new ArrayList<>();
        List<String> kinds = new ArrayList<>(); // per open brace: "type", "method" or "block"
        List<int[]> starts = new ArrayList<>();
        List<String> names = new ArrayList<>();
        int line = 1, headerLine = 1;
        StringBuilder header = new StringBuilder();
        for (int i = 0; i < c.length(); i++) {
            char ch = c.charAt(i);
            if (ch == '\n') line++;
            if (ch == '{') {
                String h = withoutAnnotations(header.toString()).strip().replaceAll("\\s+", " ");
                String outer = kinds.isEmpty() ? "none" : kinds.get(kinds.size() - 1);
                String kind;
                if (h.matches(".*\\b(class|interface|enum|record)\\b.*") && !h.contains("=") && !h.startsWith("new ")
                        && !h.contains(" new ") && !h.contains("->")) kind = "type";
                else if ((outer.equals("type") || outer.equals("none")) && h.contains("(") && !h.contains("=")) kind = "method";
                else kind = "block";
                kinds.add(kind);
                starts.add(new int[] {headerLine});
                Matcher m = Pattern.compile("([A-Za-z_$][\\w$]*)\\s*\\(").matcher(h);
                names.add(m.find() ? m.group(1) : h);
                header.setLength(0);
                headerLine = line;
            } else if (ch == '}') {
                if (!kinds.isEmpty()) {
                    int k = kinds.size() - 1;
                    if (kinds.get(k).equals("method")) out.add(new Method(names.get(k), starts.get(k)[0], line - starts.get(k)[0] + 1));
                    kinds.remove(k);
                    starts.remove(k);
                    names.remove(k);
                }
                header.setLength(0);
                headerLine = line;
            } else if (ch == ';') {
                header.setLength(0);
                headerLine = line;
            } else {
                if (header.toString().isBlank() && !Character.isWhitespace(ch)) headerLine = line;
                header.append(ch);
            }
        }
        return out;
    }

    /** "@Command(name = ..., footer = {...}) final class X" → " final class X": annotation arguments are not the header. */
    static String withoutAnnotations(String h) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < h.length(); i++) {
            if (h.charAt(i) != '@' || h.startsWith("@interface", i)) {
                b.append(h.charAt(i));
                continue;
            }
            int j = i + 1;
            while (j < h.length() && (Character.isJavaIdentifierPart(h.charAt(j)) || h.charAt(j) == '.')) j++;
            while (j < h.length() && Character.isWhitespace(h.charAt(j))) j++;
            if (j < h.length() && h.charAt(j) == '(') {
                int depth = 0;
                for (; j < h.length(); j++) {
                    if (h.charAt(j) == '(') depth++;
                    else if (h.charAt(j) == ')' && --depth == 0) { j++; break; }
                }
            }
            b.append(' ');
            i = j - 1;
        }
        return b.toString();
    }

    /**
     * The source with comments, string/char literals and text blocks blanked (newlines kept, so line numbers hold):
     * a brace or a package name inside them is not code.
     */
    static String code(String s) {
        return code(s, false);
    }

    /** {@code keepStrings}: only comments blanked (for comparing lines, where the strings are what differs). */
    static String code(String s, boolean keepStrings) {
        StringBuilder b = new StringBuilder(s.length());
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char ch = s.charAt(i);
            if (ch == '/' && i + 1 < n && s.charAt(i + 1) == '/') {
                while (i < n && s.charAt(i) != '\n') i++;
                if (i < n) b.append('\n');
            } else if (ch == '/' && i + 1 < n && s.charAt(i + 1) == '*') {
                int e = s.indexOf("*/", i + 2);
                e = e < 0 ? n : e + 2;
                for (int j = i; j < e; j++) if (s.charAt(j) == '\n') b.append('\n');
                i = e - 1;
            } else if (keepStrings) {
                b.append(ch);
                if (ch == '"' || ch == '\'') { // copy the literal whole: a "//" inside it is not a comment
                    int j = i + 1;
                    while (j < n && s.charAt(j) != ch && s.charAt(j) != '\n') {
                        if (s.charAt(j) == '\\' && j + 1 < n) b.append(s.charAt(j++));
                        b.append(s.charAt(j++));
                    }
                    if (j < n) b.append(s.charAt(j));
                    i = j;
                }
            } else if (s.startsWith("\"\"\"", i)) {
                int e = s.indexOf("\"\"\"", i + 3);
                e = e < 0 ? n : e + 3;
                b.append("\"\"");
                for (int j = i; j < e; j++) if (s.charAt(j) == '\n') b.append('\n');
                i = e - 1;
            } else if (ch == '"' || ch == '\'') {
                int j = i + 1;
                while (j < n && s.charAt(j) != ch && s.charAt(j) != '\n') j += s.charAt(j) == '\\' ? 2 : 1;
                b.append(ch).append(ch);
                i = Math.min(j, n - 1);
            } else {
                b.append(ch);
            }
        }
        return b.toString();
    }

    /** For planning the splits: {@code java ... StructureTest} lists every violation, excepted or not. */
    public static void main(String[] args) throws IOException {
        for (Path f : sources()) {
            long lines = Files.readAllLines(f).size();
            if (lines > MAX_CLASS) System.out.println(MAIN.relativize(f) + ": " + lines + " lines");
            for (Method m : methods(Files.readString(f)))
                if (m.lines() > MAX_METHOD) System.out.println(MAIN.relativize(f) + ":" + m.line() + " " + m.name() + " " + m.lines());
        }
    }
}
