package dev.aertrace.kernellog;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/** kernel-log-patterns.json is data, so the tests keep it honest: examples match, and "seen" means seen. */
class KernelLogPatternsTest {
    static final Path KMSG = KernelLogLabTest.LAB.resolve("kmsg");

    @Test
    void everyExampleMatchesItsOwnPatternAndNoEarlierOne() {
        Patterns p = Patterns.builtin();
        assertFalse(p.entries.isEmpty());
        for (Patterns.Entry e : p.entries) {
            assertFalse(e.examples().isEmpty(), e.id() + " has no example");
            assertTrue(p.kernels.containsAll(e.kernels()), e.id() + ": unknown kernel in " + e.kernels());
            for (String ex : e.examples()) {
                String line = e.devicePrefix() ? "pcieport 0000:00:02.0: " + ex : ex;
                Patterns.Hit h = p.match(line);
                assertNotNull(h, e.id() + " does not match its example " + ex);
                assertEquals(e.id(), h.entry().id(), "example of " + e.id() + " is taken by " + h.entry().id());
            }
        }
    }

    /**
     * For every kernel with a committed lab log (kmsg/KERNEL/ and the topology and removal logs in KERNEL/): each
     * pattern marked seen on it matches a line of its logs, and no pattern matches a log of a kernel it does not list.
     */
    @Test
    void seenMeansSeenInTheLabLogsOfEveryListedKernel() throws Exception {
        Patterns p = Patterns.builtin();
        List<String> problems = new ArrayList<>();
        int kernelsWithLogs = 0;
        for (String k : p.kernels) {
            List<Path> logs = new ArrayList<>();
            for (Path d : List.of(KMSG.resolve(k), KernelLogLabTest.LAB.resolve(k))) {
                if (!Files.isDirectory(d)) continue;
                try (Stream<Path> s = Files.list(d)) {
                    s.filter(x -> x.toString().endsWith(".dmesg.gz")).forEach(logs::add);
                }
            }
            if (logs.isEmpty()) continue;
            kernelsWithLogs++;
            Set<String> hit = new HashSet<>();
            {
                for (Path f : logs) {
                    try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(f)), StandardCharsets.UTF_8))) {
                        String line;
                        while ((line = r.readLine()) != null) {
                            LogLine l = LogLine.parse(line);
                            if (l == null) continue;
                            Patterns.Hit h = p.match(l.message());
                            if (h != null) hit.add(h.entry().id());
                        }
                    }
                }
            }
            for (Patterns.Entry e : p.entries) {
                assertTrue(e.kernels().containsAll(e.seenOn()), e.id() + ": seen on a kernel it does not list");
                if (e.seenOn().contains(k) && !hit.contains(e.id()))
                    problems.add(e.id() + " is marked seen on " + k + " but no lab log of " + k + " has it");
                if (!e.kernels().contains(k) && hit.contains(e.id()))
                    problems.add(e.id() + " matched a lab log of " + k + " but does not list " + k);
            }
        }
        assertTrue(kernelsWithLogs > 0, "no lab kernel logs under " + KMSG);
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }
}
