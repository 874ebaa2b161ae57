package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pairing compares calls without building their keys: the answer must be the keys' own, '/' and null included. */
class CallsTest {
    private static final String[] DEVS = {"0000:01:00.0", "0000:01:00.1", null, "null", "a/b", "0000:01:00.0/x"};
    private static final String[] NAMES = {"config", "bar0", null, "null", "config/4", "config/4/2/false", "", "pcie_flr", "a/0000:01:00.0"};

    private static Event random(Random r) {
        Event.Common c = new Event.Common(1, 0, 1, 1, "t", DEVS[r.nextInt(DEVS.length)], 1);
        String name = NAMES[r.nextInt(NAMES.length)];
        long off = r.nextInt(3) * 2;
        int size = 2 + r.nextInt(2) * 2;
        boolean w = r.nextBoolean();
        Event.Callback cb = Event.Callback.values()[r.nextInt(2)];
        return switch (r.nextInt(12)) {
            case 0 -> new Event.RwEnter(c, name, off, size, w, null);
            case 1 -> new Event.RwExit(c, name, off, size, w, (long) size, null);
            case 2 -> new Event.IoctlEnter(c, 0x3b6f + r.nextInt(2), "x");
            case 3 -> new Event.IoctlExit(c, 0x3b6f + r.nextInt(2), "x", 0L);
            case 4 -> new Event.ResetEnter(c, name);
            case 5 -> new Event.ResetExit(c, name, 0L);
            case 6 -> new Event.UserResetEnter(c, name);
            case 7 -> new Event.UserResetExit(c, name, 0L);
            case 8 -> new Event.CallbackEnter(c, cb, "drv", 1);
            case 9 -> new Event.CallbackExit(c, cb, 1);
            case 10 -> new Event.RecoveryEnter(c, 1);
            default -> new Event.VfioOpen(c);
        };
    }

    @Test
    void sameKeyIsTheKeysEquality() {
        Random r = new Random(1302);
        int equal = 0;
        for (int i = 0; i < 400_000; i++) {
            Event a = random(r), b = random(r);
            boolean want = Calls.keyOf(a).equals(Calls.keyOf(b));
            assertEquals(want, Calls.sameKey(a, b), () -> Calls.keyOf(a) + " vs " + Calls.keyOf(b) + ": " + a + " / " + b);
            if (want) equal++;
        }
        assertTrue(equal > 10_000, "pairs with equal keys were drawn: " + equal);
    }
}
