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
        return e != null && Arrays.binarySearch(lines, e.line()) >= 0 && events.contains(e);
    }
}
