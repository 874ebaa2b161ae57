package dev.aertrace.cli;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** The bench's one-CPU baseline really runs its command on one CPU (issue 13: 8 inputs against one core). */
class BenchRunsTest {
    @Test
    void cpuListsAsTheKernelWritesThem() {
        assertEquals(List.of(0, 1), BenchRuns.cpuList("0-1\n"));
        assertEquals(List.of(0, 1, 2, 3, 6), BenchRuns.cpuList(" 0-3,6"));
        assertEquals(List.of(5), BenchRuns.cpuList("5"));
        assertEquals(List.of(), BenchRuns.cpuList("x"));
        assertEquals(4096, BenchRuns.cpuList("0-99999").size());
    }

    @Test
    void oneCpuRunsItsCommandOnOneCpu() throws Exception {
        List<String> pin = BenchRuns.oneCpu();
        assumeFalse(pin.isEmpty(), "no taskset on PATH (util-linux)");
        List<String> cmd = new ArrayList<>(pin);
        cmd.add("nproc");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.waitFor(), out);
        assertEquals("1", out);
    }
}
