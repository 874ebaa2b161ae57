package dev.aertrace.report;

import dev.aertrace.ingest.Event;

import java.util.Arrays;
import java.util.Set;

/**
 * The events a report marks or lists as evidence. Asked once per access of an episode (thousands for a polling
 * user), so most events are ruled out by their line number: equal events have equal lines, while hashing an event
 * walks every field of its record.
 */
final class EvidenceSet {
    private final Set<Event> events;
    private final long[] lines;

    EvidenceSet(Set<Event> events) {
        this.events = events;
        long[] l = new long[events.size()];
        int i = 0;
        for (Event e : events) l[i++] = e.line();
        Arrays.sort(l);
        lines = l;
    }

    boolean contains(Event e) {
        if (e == null || lines.length == 0) return false;
        long l = e.line();
        // Evidence sits around the reset and the error, while the accesses asked about span the whole episode: most
        // lie outside the evidence's first and last line, and no search is needed to rule them out.
        return l >= lines[0] && l <= lines[lines.length - 1] && Arrays.binarySearch(lines, l) >= 0 && events.contains(e);
    }
}
