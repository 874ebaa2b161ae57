package dev.aertrace.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;

/**
 * Damages a real trace the ways a disk, a pipe, a buggy or newer agent, or a hostile user would. Everything is
 * drawn from one {@link Random}, so a mutant is re-made exactly from (trace, seed): that pair is the seed file.
 */
final class Mutator {
    /** What was done, for the failure message and the seed file. */
    record Mutant(byte[] data, boolean gzip, List<String> ops, List<String> slice) {}

    enum Op { BYTE_FLIP, DELETE_LINES, DUPLICATE_LINE, SWAP_LINES, TYPE_CHANGE, EXTREME_NUMBER, EXTREME_TS,
        INVALID_UTF8, NUL, TRUNCATE, RETYPE_EVENT, DROP_FIELD, LONE_SURROGATE, GZIP_DAMAGE }

    private static final Pattern FIELD = Pattern.compile("\"([a-z_]+)\":(\"(?:[^\"\\\\]|\\\\.)*\"|-?[0-9][0-9.eE+-]*|true|false|null|\\[[^\\]]*\\])");
    private static final Pattern NUMBER = Pattern.compile("\"([a-z_]+)\":(-?[0-9][0-9.eE+-]*)");
    private static final Pattern TS = Pattern.compile("\"ts\":(-?[0-9]+)");
    private static final String[] EXTREME = {"9223372036854775807", "-9223372036854775808", "-1", "0", "1e308",
            "99999999999999999999999", "1000000000", "-2147483648", "2147483647", "4294967296", "1.5", "-0"};
    private static final String[] OTHER_TYPE = {"\"1\"", "null", "{}", "[]", "[1,2]", "true", "\"\"", "{\"a\":1}", "1"};
    /**
     * Every type the reader knows (ingest's Strict.TYPES and LineRules' QEMU types), including those it counts but
     * does not place (pci.remove.exit, vfio.remove.exit, hotplug.unconfigure.*), plus two near misses of real names
     * (aer.error, cfg.lock) and a newer agent's type.
     */
    private static final String[] TYPES = {"header", "footer", "lost", "history", "aer.event", "recovery.enter",
            "recovery.exit", "reset.enter", "reset.exit", "user_reset.enter", "user_reset.exit", "cb.enter", "cb.exit",
            "vfio.rw.enter", "vfio.rw.exit", "vfio.ioctl.enter", "vfio.ioctl.exit", "vfio.open", "vfio.close", "cfg_lock",
            "eventfd.signal", "eventfd.read", "vfio.err_detected.enter", "vfio.err_detected.exit", "vfio.request",
            "vfio.remove.enter", "vfio.remove.exit", "pci.remove.enter", "pci.remove.exit", "pci.hp_event",
            "hotplug.event", "hotplug.unconfigure.enter", "hotplug.unconfigure.exit", "pcie.link_event",
            "qemu.config.enter", "qemu.config.exit", "qemu.region.enter", "qemu.region.exit", "qemu.vm_stop",
            "qemu.runstate", "qemu.system_reset", "aer.error", "cfg.lock", "future.event.v9"};

    /** Marks a number changed to another value its field allows (FuzzDomain): not judged by the evidence property. */
    static final String IN_DOMAIN = " (a value its field allows)";

    private Mutator() {}

    /**
     * A slice of {@code lines} (the header, then a window around an episode's start, sometimes the footer) with
     * one to three mutations. Slices keep a run to tens of milliseconds; an error's evidence is local.
     */
    static Mutant mutate(List<String> lines, Random r) throws IOException {
        List<String> slice = slice(lines, r);
        List<String> before = List.copyOf(slice);
        List<String> ops = new ArrayList<>();
        int n = 1 + r.nextInt(3);
        boolean gzip = r.nextInt(4) == 0;
        byte[] data = null;
        for (int i = 0; i < n; i++) {
            Op op = Op.values()[r.nextInt(Op.values().length)];
            if (op == Op.GZIP_DAMAGE) { gzip = true; continue; }
            if (op == Op.BYTE_FLIP || op == Op.INVALID_UTF8 || op == Op.NUL || op == Op.TRUNCATE) {
                if (data == null) data = join(slice);
                data = bytes(op, data, r, ops);
            } else if (data == null) {
                ops.add(lineOp(op, slice, r));
            } else {
                // byte damage already done: further line edits work on the damaged bytes split at newlines
                List<String> back = new ArrayList<>(List.of(new String(data, StandardCharsets.ISO_8859_1).split("\n", -1)));
                ops.add(lineOp(op, back, r));
                data = String.join("\n", back).getBytes(StandardCharsets.ISO_8859_1);
            }
        }
        if (data == null) data = join(slice);
        if (gzip) {
            data = gzip(data);
            if (r.nextBoolean() || ops.isEmpty()) {
                int kind = r.nextInt(4);
                if (kind == 0 && data.length > 20) { data = java.util.Arrays.copyOf(data, 10 + r.nextInt(data.length - 10)); ops.add("gzip cut"); }
                else if (kind == 1 && data.length > 20) { data[data.length - 1 - r.nextInt(8)] ^= 0x5a; ops.add("gzip trailer (CRC/size) damaged"); }
                else if (kind == 2 && data.length > 20) { data[10 + r.nextInt(data.length - 18)] ^= (byte) (1 << r.nextInt(8)); ops.add("gzip body bit flip"); }
                else { byte[] two = new byte[data.length * 2]; System.arraycopy(data, 0, two, 0, data.length); System.arraycopy(data, 0, two, data.length, data.length); data = two; ops.add("gzip member repeated"); }
            }
        }
        return new Mutant(data, gzip, ops, before);
    }

    static List<String> slice(List<String> lines, Random r) {
        if (lines.size() <= 2) return new ArrayList<>(lines);
        List<Integer> starts = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            String l = lines.get(i);
            if (l.contains("\"aer.error\"") || l.contains("\"recovery.enter\"")) starts.add(i);
        }
        int from = starts.isEmpty() ? 1 + r.nextInt(lines.size() - 1) : Math.max(1, starts.get(r.nextInt(starts.size())) - r.nextInt(60));
        int len = 40 + r.nextInt(260);
        List<String> s = new ArrayList<>();
        s.add(lines.get(0));
        for (int i = from; i < Math.min(lines.size(), from + len); i++) s.add(lines.get(i));
        String last = lines.get(lines.size() - 1);
        if (last.contains("\"footer\"") && r.nextBoolean() && !s.get(s.size() - 1).equals(last)) s.add(footerOf(s, last));
        // A slice that runs to the trace's end has its footer: rewritten to the slice's counts too, or the unmutated
        // slice itself has a hole (the whole trace's counts) and a mutant that loses the footer looks less damaged
        // than its original (long run seed 301 mutant 2855). No draw of r here: every other mutant stays the same.
        else if (s.size() > 1 && s.get(s.size() - 1).equals(last) && last.contains("\"footer\""))
            s.set(s.size() - 1, footerOf(s.subList(0, s.size() - 1), last));
        return s;
    }

    private static final Pattern COUNT = Pattern.compile("\"count\":([0-9]+)");

    /**
     * The trace's footer with the counts of the slice, as if the agent had written just these lines: a slice is a
     * trace of its own, and a footer that adds up is what lets a reader see lines deleted or duplicated.
     */
    static String footerOf(List<String> slice, String footer) {
        long events = 0, lost = 0;
        for (String l : slice.subList(1, slice.size())) {
            events++;
            if (l.contains("\"type\":\"lost\"")) {
                Matcher c = COUNT.matcher(l);
                if (c.find()) lost += Long.parseLong(c.group(1));
            }
        }
        return footer.replaceFirst("\"events\":[0-9]+", "\"events\":" + events).replaceFirst("\"lost\":[0-9]+", "\"lost\":" + lost);
    }

    private static String lineOp(Op op, List<String> s, Random r) {
        if (s.isEmpty()) return "nothing to edit";
        int i = r.nextInt(s.size());
        String l = s.get(i);
        switch (op) {
            case DELETE_LINES -> {
                int k = 1 + r.nextInt(Math.min(20, s.size() - i));
                for (int j = 0; j < k; j++) s.remove(i);
                return "deleted lines " + (i + 1) + ".." + (i + k);
            }
            case DUPLICATE_LINE -> {
                int times = 1 + r.nextInt(3);
                for (int j = 0; j < times; j++) s.add(i, l);
                return "line " + (i + 1) + " repeated " + times + "x";
            }
            case SWAP_LINES -> {
                int j = Math.max(0, Math.min(s.size() - 1, i + r.nextInt(11) - 5));
                s.set(i, s.get(j));
                s.set(j, l);
                return "swapped lines " + (i + 1) + " and " + (j + 1);
            }
            case TYPE_CHANGE, DROP_FIELD -> {
                List<int[]> m = matches(FIELD, l);
                if (m.isEmpty()) return "no field on line " + (i + 1);
                int[] f = m.get(r.nextInt(m.size()));
                String other = op == Op.DROP_FIELD ? null : OTHER_TYPE[r.nextInt(OTHER_TYPE.length)];
                String repl = op == Op.DROP_FIELD ? "\"dropped_" + r.nextInt(9) + "\":0" : l.substring(f[0], f[1]) + other;
                s.set(i, l.substring(0, f[0]) + repl + l.substring(f[3]));
                // "1" for a number is no change of type: a value its field may allow, judged like EXTREME_NUMBER's
                boolean allowed = "1".equals(other) && FuzzDomain.inDomain(l, l.substring(f[0] + 1, f[1] - 2), other);
                return (op == Op.DROP_FIELD ? "dropped field " : "changed the type of ") + l.substring(f[0], f[1]) + " on line " + (i + 1)
                        + (allowed ? IN_DOMAIN : "");
            }
            case EXTREME_NUMBER -> {
                List<int[]> m = matches(NUMBER, l);
                if (m.isEmpty()) return "no number on line " + (i + 1);
                int[] f = m.get(r.nextInt(m.size()));
                String v = EXTREME[r.nextInt(EXTREME.length)];
                s.set(i, l.substring(0, f[2]) + v + l.substring(f[3]));
                String name = l.substring(f[0] + 1, f[1] - 2);
                return "number " + l.substring(f[0], f[1]) + " := " + v + " on line " + (i + 1)
                        + (FuzzDomain.inDomain(l, name, v) ? IN_DOMAIN : "");
            }
            case EXTREME_TS -> {
                Matcher m = TS.matcher(l);
                if (!m.find()) return "no ts on line " + (i + 1);
                long ts = Long.parseLong(m.group(1));
                long[] choices = {Long.MIN_VALUE, Long.MAX_VALUE, 0, -1, ts + 3_600_000_000_000L, ts - 3_600_000_000_000L, ts + 5_000_000_000L, ts - 5_000_000_000L};
                long v = choices[r.nextInt(choices.length)];
                s.set(i, l.substring(0, m.start(1)) + v + l.substring(m.end(1)));
                return "ts := " + v + " on line " + (i + 1);
            }
            case RETYPE_EVENT -> {
                String t = TYPES[r.nextInt(TYPES.length)];
                s.set(i, l.replaceFirst("\"type\":\"[^\"]*\"", "\"type\":\"" + t + "\""));
                return "type := " + t + " on line " + (i + 1);
            }
            case LONE_SURROGATE -> {
                s.set(i, l.replaceFirst("\"comm\":\"", "\"comm\":\"\\\\ud800x"));
                return "lone surrogate in comm on line " + (i + 1);
            }
            default -> throw new IllegalStateException(op.name());
        }
    }

    private static byte[] bytes(Op op, byte[] d, Random r, List<String> ops) {
        if (d.length == 0) return d;
        int at = r.nextInt(d.length);
        switch (op) {
            case BYTE_FLIP -> {
                int k = 1 + r.nextInt(4);
                for (int j = 0; j < k; j++) d[r.nextInt(d.length)] ^= (byte) (1 << r.nextInt(8));
                ops.add(k + " bit flips");
                return d;
            }
            case INVALID_UTF8, NUL -> {
                byte[][] bad = {{(byte) 0xff}, {(byte) 0xc3, 0x28}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80}, {(byte) 0xc0, (byte) 0xaf}};
                byte[] ins = op == Op.NUL ? new byte[1 + r.nextInt(3)] : bad[r.nextInt(bad.length)];
                byte[] o = new byte[d.length + ins.length];
                System.arraycopy(d, 0, o, 0, at);
                System.arraycopy(ins, 0, o, at, ins.length);
                System.arraycopy(d, at, o, at + ins.length, d.length - at);
                ops.add((op == Op.NUL ? "NUL" : "invalid UTF-8") + " at byte " + at);
                return o;
            }
            case TRUNCATE -> {
                ops.add("cut at byte " + at);
                return java.util.Arrays.copyOf(d, at);
            }
            default -> throw new IllegalStateException(op.name());
        }
    }

    /** {start of name, end of "name":, start of value, end of value} for each field match. */
    private static List<int[]> matches(Pattern p, String l) {
        List<int[]> out = new ArrayList<>();
        Matcher m = p.matcher(l);
        while (m.find()) out.add(new int[] {m.start(), m.start(2), m.start(2), m.end()});
        return out;
    }

    static byte[] join(List<String> lines) {
        return (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    static byte[] gzip(byte[] d) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(b)) { g.write(d); }
        return b.toByteArray();
    }
}
