package dev.aertrace.text;

import dev.aertrace.pci.Pci;

/**
 * The one way to name a register or an access in every output: "cfg read COMMAND/2", "cfg write 0x104/4",
 * "BAR0 read 0x10/4", each optionally followed by its value (" = 0x0000" read, " ← 0x1" written).
 */
public final class Phrases {
    private Phrases() {}

    /** "COMMAND" for the standard header's registers, the offset elsewhere (capabilities, extended space). */
    public static String register(long off) {
        String n = Pci.configRegister(off);
        return n.equals("ext") || n.equals("cap") ? Pci.hex(off, 3) : n;
    }

    /** "cfg read COMMAND/2". */
    public static String config(boolean write, long offset, int size) {
        return "cfg " + (write ? "write " : "read ") + register(offset) + "/" + size;
    }

    /** "BAR0 read 0x10/4"; {@code region} null reads "bar". */
    public static String bar(String region, boolean write, long offset, int size) {
        return (region == null ? "bar" : region) + (write ? " write 0x" : " read 0x") + Long.toHexString(offset) + "/" + size;
    }

    /** " = 0x0000" for a read, " ← 0x00000001" for a write. */
    public static String value(boolean write, long v, int size) {
        return (write ? " ← " : " = ") + Pci.hexOfSize(v, size);
    }
}
