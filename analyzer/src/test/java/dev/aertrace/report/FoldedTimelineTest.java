package dev.aertrace.report;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fold's repeat test must be exactly "side + device + text joined are equal", as before it stopped joining. */
class FoldedTimelineTest {

    private static String[] row(String side, String dev, String what) { return new String[]{" ", null, side, dev, what}; }

    @Test
    void equalPartsRepeat() {
        assertTrue(FoldedTimeline.sameKey(row("user", "01:00.0", "cfg read COMMAND/2 = 0x0000 vfio-user"),
                row("user", "01:00.0", "cfg read COMMAND/2 = 0x0000 vfio-user")));
        assertFalse(FoldedTimeline.sameKey(row("user", "01:00.0", "cfg read COMMAND/2 = 0x0000 vfio-user"),
                row("user", "01:00.0", "cfg read COMMAND/2 = 0x0400 vfio-user")));
        assertFalse(FoldedTimeline.sameKey(row("user", "01:00.0", "x"), row("qemu", "01:00.0", "x")));
    }

    @Test
    void joinedAcrossOtherBoundariesRepeatsToo() {
        assertTrue(FoldedTimeline.sameKey(row("user", "ab", "c"), row("user", "a", "bc")));
        assertTrue(FoldedTimeline.sameKey(row("gap", "line 1", "x"), row("gapl", "ine 1", "x")));
        assertFalse(FoldedTimeline.sameKey(row("gap", "line 1", "x"), row("gapl", "ine 1", "y")));
        assertFalse(FoldedTimeline.sameKey(row("user", "ab", "c"), row("user", "a", "bcd")));
    }

    @Test
    void agreesWithJoinedStringsOnRandomParts() {
        Random r = new Random(12);
        for (int i = 0; i < 200_000; i++) {
            String[] a = row(rnd(r), rnd(r), rnd(r));
            String[] b = r.nextInt(3) == 0 ? row(a[2], a[3], a[4]) : row(rnd(r), rnd(r), rnd(r));
            assertEquals((a[2] + a[3] + a[4]).equals(b[2] + b[3] + b[4]), FoldedTimeline.sameKey(a, b),
                    () -> String.join("|", a[2], a[3], a[4]) + " vs " + String.join("|", b[2], b[3], b[4]));
        }
    }

    /**
     * The config-text cache gives what the access's own phrase gives, for keys that differ in one part only and
     * collide in its 64 slots (200 distinct keys), asked in random order so slots are rebuilt and found again.
     */
    @Test
    void configTextsGiveTheAccessesOwnText() {
        Random r = new Random(13);
        FoldedTimeline.ConfigTexts texts = new FoldedTimeline.ConfigTexts();
        java.util.List<dev.aertrace.timeline.Access> keys = new java.util.ArrayList<>();
        for (int i = 0; i < 200; i++) {
            boolean write = r.nextInt(4) == 0;
            long offset = r.nextInt(3) == 0 ? 4 : r.nextInt(0x1000);
            int size = new int[]{1, 2, 4}[r.nextInt(3)];
            long value = r.nextInt(3) == 0 ? 0xffffffffL : r.nextInt(0x10000);
            String comm = new String[]{"vfio-user", "qemu-system-x86", null, "vfio-user2"}[r.nextInt(4)];
            keys.add(new dev.aertrace.timeline.Access(write ? dev.aertrace.timeline.Access.Kind.CONFIG_WRITE
                    : dev.aertrace.timeline.Access.Kind.CONFIG_READ, "0000:01:00.0", 1, 1, comm == null ? null : new String(comm),
                    0, 1L, null, offset, size, value, 0L, null, null, null));
        }
        for (int i = 0; i < 20_000; i++) {
            dev.aertrace.timeline.Access a = keys.get(r.nextInt(keys.size()));
            assertEquals(a.phraseWithValue() + " " + a.comm(), texts.of(a));
        }
    }

    /** Short strings over two letters: joined strings often coincide across different boundaries. */
    private static String rnd(Random r) {
        StringBuilder sb = new StringBuilder();
        for (int n = r.nextInt(4); n > 0; n--) sb.append(r.nextBoolean() ? 'a' : 'b');
        return sb.toString();
    }
}
