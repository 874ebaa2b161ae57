package dev.aertrace.pci;

import java.util.ArrayList;
import java.util.List;

/** Names for PCI numbers, spelled as the kernel, lspci -vvv and rasdaemon spell them. */
public final class Pci {
    private Pci() {}

    /** pci_ers_result values (include/linux/pci.h). */
    public static String ers(Integer r) {
        if (r == null) return "?";
        return switch (r) {
            case 1 -> "NONE";
            case 2 -> "CAN_RECOVER";
            case 3 -> "NEED_RESET";
            case 4 -> "DISCONNECT";
            case 5 -> "RECOVERED";
            case 6 -> "NO_AER_DRIVER";
            default -> "ers(" + r + ")";
        };
    }

    public static String severity(Integer s) {
        if (s == null) return "unknown";
        return switch (s) {
            case 0 -> "non-fatal";
            case 1 -> "fatal";
            case 2 -> "correctable";
            case 3 -> "fatal (DPC)";
            default -> "severity " + s;
        };
    }

    public static String channel(Integer s) {
        if (s == null) return "?";
        return switch (s) {
            case 1 -> "normal";
            case 2 -> "frozen";
            case 3 -> "perm_failure";
            default -> "state " + s;
        };
    }

    private static final String[] UNCOR = new String[32];
    private static final String[] COR = new String[32];

    static {
        // lspci -vvv "UESta"/"CESta" names; bits 26-31 are the 2025 additions (kernel strings).
        UNCOR[0] = "Undefined"; UNCOR[4] = "DLP"; UNCOR[5] = "SDES"; UNCOR[12] = "TLP"; UNCOR[13] = "FCP";
        UNCOR[14] = "CmpltTO"; UNCOR[15] = "CmpltAbrt"; UNCOR[16] = "UnxCmplt"; UNCOR[17] = "RxOF";
        UNCOR[18] = "MalfTLP"; UNCOR[19] = "ECRC"; UNCOR[20] = "UnsupReq"; UNCOR[21] = "ACSViol";
        UNCOR[22] = "UncorrIntErr"; UNCOR[23] = "BlockedTLP"; UNCOR[24] = "AtomicOpBlocked"; UNCOR[25] = "TLPBlockedErr";
        UNCOR[26] = "PoisonTLPBlocked"; UNCOR[27] = "DMWrReqBlocked"; UNCOR[28] = "IDECheck"; UNCOR[29] = "MisIDETLP";
        UNCOR[30] = "PCRC_CHECK"; UNCOR[31] = "TLPXlatBlocked";
        COR[0] = "RxErr"; COR[6] = "BadTLP"; COR[7] = "BadDLLP"; COR[8] = "Rollover"; COR[12] = "Timeout";
        COR[13] = "AdvNonFatalErr"; COR[14] = "CorrIntErr"; COR[15] = "HeaderOF";
    }

    /** Decodes an AER status word: correctable severities use the COR table, the others the UNCOR table. */
    public static List<String> aerBits(Integer severity, long status) {
        String[] table = severity != null && severity == 2 ? COR : UNCOR;
        List<String> out = new ArrayList<>();
        for (int b = 0; b < 32; b++) {
            if ((status & (1L << b)) == 0) continue;
            out.add(table[b] != null ? table[b] : "bit" + b);
        }
        return out;
    }

    public static String aerStatus(Integer severity, long status) {
        List<String> bits = aerBits(severity, status);
        return hex(status, 8) + (bits.isEmpty() ? "" : " (" + String.join(" ", bits) + ")");
    }

    /** PCI_COMMAND bits in lspci's words. */
    public static String command(long v) {
        String[] names = {"I/O", "Mem", "BusMaster", "SpecCycle", "MemWINV", "VGASnoop", "ParErr", "Stepping",
                "SERR", "FastB2B", "DisINTx"};
        List<String> on = new ArrayList<>();
        for (int b = 0; b < names.length; b++) if ((v & (1L << b)) != 0) on.add(names[b] + "+");
        return on.isEmpty() ? "none set" : String.join(" ", on);
    }

    /** Name of the config register at {@code off} (standard header; extended space shown by offset). */
    public static String configRegister(long off) {
        if (off >= 0x100) return "ext";
        return switch ((int) off) {
            case 0x00 -> "VENDOR_ID";
            case 0x02 -> "DEVICE_ID";
            case 0x04 -> "COMMAND";
            case 0x06 -> "STATUS";
            case 0x08 -> "CLASS_REVISION";
            case 0x0c -> "CACHE_LINE_SIZE";
            case 0x0e -> "HEADER_TYPE";
            case 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24 -> "BAR" + ((off - 0x10) / 4);
            case 0x2c -> "SUBSYSTEM_VENDOR_ID";
            case 0x2e -> "SUBSYSTEM_ID";
            case 0x30 -> "ROM_ADDRESS";
            case 0x34 -> "CAPABILITY_LIST";
            case 0x3c -> "INTERRUPT_LINE";
            case 0x3d -> "INTERRUPT_PIN";
            default -> "cap";
        };
    }

    public static String configAt(long off) {
        String n = configRegister(off);
        return hex(off, 2) + (n.equals("ext") || n.equals("cap") ? "" : " (" + n + ")");
    }

    public static long allOnes(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    /**
     * A value in the width of its access: "0x0000" for 2 bytes. Only 1, 2, 4 and 8 are real access sizes; any
     * other (0, negative, 1e9 from a damaged line) is printed without padding and marked, never used as a
     * format width (a size of 1e9 would build a 2 GB string).
     */
    public static String hexOfSize(long value, int size) {
        return switch (size) {
            case 1, 2, 4, 8 -> hex(value, size * 2);
            default -> hex(value, 0) + " (size " + size + "?)";
        };
    }

    /**
     * "0x" and {@code v} in lowercase hex, zero-padded to {@code digits}: String.format's "0x%0{digits}x" (a negative
     * value as its 64-bit two's complement, as %x prints a long) without the formatter, which was a tenth of a text
     * report's CPU (PciTest holds the two equal).
     */
    public static String hex(long v, int digits) {
        String h = Long.toHexString(v);
        return h.length() >= digits ? "0x" + h : "0x" + "0".repeat(digits - h.length()) + h;
    }
}
