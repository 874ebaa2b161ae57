package dev.aertrace.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several trace files analysed by several threads give the bytes one thread gives, in command-line order. */
class ParallelInputsTest {
    @Test
    void manyThreadsSameBytes() throws Exception {
        List<String> traces = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("../testdata/lab/6.1"))) {
            s.map(Path::toString).filter(p -> p.endsWith(".gz")).sorted().limit(10).forEach(traces::add); // traces and kernel logs mixed
        }
        traces.add(1, traces.get(0)); // the same file twice
        assertTrue(traces.size() >= 8, traces.toString());
        for (List<String> format : List.<List<String>>of(List.of(), List.of("--format", "json"))) {
            String one = run(format, "1", traces), four = run(format, "4", traces);
            assertEquals(one, four, "analyze " + format + " -j 4 differs from -j 1");
        }
    }

    static String run(List<String> format, String jobs, List<String> traces) {
        List<String> args = new ArrayList<>(List.of("analyze", "-j", jobs));
        args.addAll(format);
        args.addAll(traces);
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream bo = new ByteArrayOutputStream(), be = new ByteArrayOutputStream();
        int code;
        synchronized (ParallelInputsTest.class) {
            try {
                System.setOut(new PrintStream(bo, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(be, true, StandardCharsets.UTF_8));
                code = Main.run(args.toArray(String[]::new));
            } finally {
                System.setOut(o);
                System.setErr(e);
            }
        }
        return "exit " + code + "\n" + bo.toString(StandardCharsets.UTF_8) + "\n--- stderr\n" + be.toString(StandardCharsets.UTF_8);
    }
}
