package dev.aertrace.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.spi.ToolProvider;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Methods every event passes that must stay small enough for C2 to inline them under the launcher's limit for long
 * inputs (-XX:FreqInlineSize=40 bytes of bytecode, the aertrace script and BenchRuns.jvmChoice). Over it they are a
 * call per event or per field, which nothing else shows: Event.of at 41 bytes (a pattern variable's local) and the
 * spill's whole varint decoder were 2-4% of a 10 M-event run's CPU (README, issue 13, session 15). The sizes are read
 * from the compiled classes with the JDK's javap.
 */
class HotPathInliningTest {
    static final int FREQ_INLINE_SIZE = 40;

    @ParameterizedTest
    @CsvSource({
            "dev.aertrace.ingest.Event,       'public static dev.aertrace.ingest.Event$Common of(dev.aertrace.ingest.Event);'",
            "dev.aertrace.ingest.SpillBytes,  'long rawLong();'",
    })
    void staysUnderTheLaunchersInliningLimit(String cls, String signature) {
        int size = bytecodeSize(cls, signature);
        assertTrue(size <= FREQ_INLINE_SIZE, signature + " is " + size + " bytes of bytecode, over " + FREQ_INLINE_SIZE
                + ": C2 would call it, not inline it, under the launcher's options");
    }

    @org.junit.jupiter.api.Test
    void theLimitIsTheLaunchersAndBenchsOwn() throws Exception {
        String script = java.nio.file.Files.readString(java.nio.file.Path.of("../aertrace"));
        assertTrue(script.contains("-XX:FreqInlineSize=" + FREQ_INLINE_SIZE), "the launcher's limit moved: update this test");
        String bench = java.nio.file.Files.readString(java.nio.file.Path.of("src/main/java/dev/aertrace/cli/BenchRuns.java"));
        assertTrue(bench.contains("\"-XX:FreqInlineSize=" + FREQ_INLINE_SIZE + "\""), "the bench's limit moved: update this test");
    }

    @org.junit.jupiter.api.Test
    void measuresWhatJavapPrints() {
        // a method known to be large: the reading is not stuck at 0 or at a small number
        assertTrue(bytecodeSize("dev.aertrace.ingest.LineScanner",
                "private boolean match(dev.aertrace.ingest.LineShape, byte[], int, int, boolean);") > 200);
        assertEquals(1, bytecodeSize("dev.aertrace.ingest.HotPathInliningTest$Tiny", "void empty();"));
    }

    static final class Tiny {
        void empty() {}
    }

    /** The method's code length: the offset of its last instruction plus that instruction's (a return: 1 byte). */
    static int bytecodeSize(String cls, String signature) {
        ToolProvider javap = ToolProvider.findFirst("javap").orElseThrow();
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = javap.run(new PrintWriter(out), new PrintWriter(err), "-c", "-p", "-cp",
                System.getProperty("java.class.path"), cls);
        assertEquals(0, rc, err.toString());
        String text = out.toString();
        int at = text.indexOf("  " + signature + "\n");
        assertTrue(at >= 0, signature + " not found in javap's output of " + cls + ":\n" + text);
        int end = text.indexOf("\n\n", at);
        String body = text.substring(at, end < 0 ? text.length() : end);
        Matcher m = Pattern.compile("\\n\\s+(\\d+): (\\w+)").matcher(body);
        int last = -1;
        String op = null;
        while (m.find()) {
            last = Integer.parseInt(m.group(1));
            op = m.group(2);
        }
        assertTrue(last >= 0 && op != null && op.endsWith("return"), "no code ending in a return for " + signature + ":\n" + body);
        return last + 1;
    }
}
