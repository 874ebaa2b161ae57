package dev.aertrace.pci;

import org.junit.jupiter.api.Test;

import java.util.Locale;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Hex without the formatter prints what the formatter printed. */
class PciTest {
    @Test
    void hexIsTheFormattersHex() {
        Random r = new Random(4);
        long[] edge = {0, 1, -1, 0xff, 0x100, 0xffff, 0x10000, 0xffff_ffffL, Long.MIN_VALUE, Long.MAX_VALUE};
        for (int i = 0; i < 200_000; i++) {
            long v = i < edge.length ? edge[i] : switch (i % 4) {
                case 0 -> r.nextLong();
                case 1 -> r.nextInt(0x10000);
                case 2 -> -r.nextInt(1000);
                default -> r.nextLong() >>> r.nextInt(64);
            };
            for (int size : new int[] {0, 1, 2, 3, 4, 8, -1, 1_000_000_000}) {
                String want = switch (size) {
                    case 1, 2, 4, 8 -> String.format(Locale.ROOT, "0x%0" + size * 2 + "x", v);
                    default -> String.format(Locale.ROOT, "0x%x", v) + " (size " + size + "?)";
                };
                assertEquals(want, Pci.hexOfSize(v, size));
            }
            assertEquals(String.format("0x%08x", v), Pci.hex(v, 8));
            assertEquals(String.format("0x%03x", v), Pci.hex(v, 3));
            assertEquals(String.format("0x%02x", v), Pci.hex(v, 2));
        }
    }
}
