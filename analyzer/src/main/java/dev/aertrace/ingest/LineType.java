package dev.aertrace.ingest;

import java.util.HashMap;
import java.util.Map;

/**
 * What the reader decides from a line's {@code type} string, worked out once per known type instead of on every
 * line: the reader compared each line's type with a dozen strings (header, footer, history, the device-loss and
 * QEMU prefixes, its rule twice, the access and loss types, its counter), a tenth of ingest's CPU. An unknown type
 * is classified the same way, on its line, and not kept (a hostile input cannot grow the table).
 */
final class LineType {
    final String name;
    /** Index of the reader's counter for this type; -1 for a type outside the table (counted by name). */
    final int code;
    final boolean header, footer, history;
    /** Schema-v2 lines counted like events but not placed in timelines (yet): dump markers, device-loss and QEMU lines the timeline does not use. */
    final boolean countOnly;
    /** A vfio.rw access (its size is checked) / a lost line (its bounds and count are checked). */
    final boolean rw, lost;
    /** A one-line access (schema v3 {@code vfio.rw}): an enter at its ts and an exit at its exit_ts. */
    final boolean whole;
    /** recovery.exit, whose ret the header's kernel may require (asked of every line without a ret). */
    final boolean recoveryExit;
    /** {@link LineRules#need}: -1 for a type this analyzer does not know. */
    final int need;
    final LineRules.Rule rule;
    /** The rule's shape checks as an array: walking the list took an iterator per line under C1. */
    final LineRules.Check[] shape;
    /** {@link FieldSets#mask}: the fields a line of this type may carry. */
    final long fields;
    /** {@link EventBuilder#build}: which typed event a line of this type makes. */
    final int build;

    private LineType(String type, int code) {
        this.name = type;
        this.code = code;
        header = type.equals("header");
        footer = type.equals("footer");
        history = type.equals("history");
        countOnly = history || (EventBuilder.deviceLossOrQemu(type) && !EventBuilder.deviceGone(type) && !EventBuilder.qemu(type));
        whole = type.equals("vfio.rw");
        rw = whole || type.startsWith("vfio.rw.");
        lost = type.equals("lost");
        recoveryExit = type.equals("recovery.exit");
        need = LineRules.need(type);
        rule = LineRules.of(type);
        shape = rule == null ? new LineRules.Check[0] : rule.shape().toArray(new LineRules.Check[0]);
        fields = FieldSets.mask(type);
        build = EventBuilder.build(type);
    }

    private static final Map<String, LineType> KNOWN = new HashMap<>();
    private static final String[] NAMES;

    static {
        java.util.TreeSet<String> all = new java.util.TreeSet<>(Strict.TYPES);
        all.addAll(LineRules.types());
        NAMES = all.toArray(new String[0]);
        for (int i = 0; i < NAMES.length; i++) KNOWN.put(NAMES[i], new LineType(NAMES[i], i));
    }

    /** Number of counters a reader keeps (one per known type). */
    static final int COUNT = NAMES.length;

    static String name(int code) { return NAMES[code]; }

    /**
     * A reader's recent types by identity (the scanner hands back one String per repeated value): the table's
     * hashing and compare once per type instead of once per line. Fixed size; an unknown type's entry is as good
     * as a new one (the same string gives the same decisions).
     */
    static final class Recent {
        private final String[] keys = new String[16];
        private final LineType[] values = new LineType[16];

        LineType of(String type) {
            int h = type.hashCode() & 15;
            if (keys[h] == type) return values[h];
            LineType t = LineType.of(type);
            keys[h] = type;
            values[h] = t;
            return t;
        }
    }

    static LineType of(String type) {
        LineType t = KNOWN.get(type);
        return t != null ? t : new LineType(type, -1);
    }
}
