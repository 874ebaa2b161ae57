package dev.aertrace.ingest;

import java.util.List;

/**
 * One kind of input problem, counted, with the first line numbers where it happened (at most
 * {@link Diagnostics#MAX_LINES} kept so memory stays bounded) and the first occurrence's detail.
 */
public record Issue(Kind kind, long count, List<Long> lines, String detail) {

    public enum Kind {
        UNREADABLE("input could not be read"),
        EMPTY_INPUT("no lines at all"),
        MISSING_HEADER("first line is not a header; topology unknown"),
        SCHEMA_VERSION("header has a schema_version this analyzer does not know"),
        EXTRA_HEADER("header in the middle of a stream (concatenated traces); a new segment starts"),
        CORRUPT_LINE("line is not valid JSON"),
        TRUNCATED_LINE("line is cut off (no closing brace / no newline at end of input)"),
        INVALID_EVENT("known event type with missing or mistyped required fields"),
        UNKNOWN_TYPE("unknown event type (newer agent?); counted and ignored, except inside an open episode or call, where it is a gap at its ts (it may be a damaged known event)"),
        UNKNOWN_FIELD("unknown field on a known type; ignored"),
        OUT_OF_ORDER("timestamp older than the reorder window allows"),
        UNMATCHED_EXIT("exit without a matching enter (duplicate or missing enter, or a gap between the two)"),
        MISSING_EXIT("enter whose exit never came (or a gap between the two)"),
        LOST_EVENTS("the agent reported lost events"),
        NO_FOOTER("no footer: the trace was cut off"),
        FOOTER_MISMATCH("footer counts differ from what was read"),
        AFTER_FOOTER("lines after the footer"),
        BAD_HEADER("header field missing or of the wrong JSON type or shape; no verdict of this trace is confident"),
        BAD_SIZE("vfio access size impossible (config: 1-4096 bytes, other regions: 1 byte to the kernel's 2 GiB read limit); the line is a gap"),
        BAD_COUNT("loss or footer count impossible (zero, negative, or a sum past 2^63-1, which saturates); the loss is of unknown size"),
        DAMAGED_NAME("a type or field name one character away from a known one: a damaged line, not a newer agent's"),
        IMPLAUSIBLE("a value no kernel or agent writes: ts not positive, past 2^62 or long before the agent started; pid/tid/cpu beyond the kernel's limits or 0 where only a task runs; a status, state, result or return value outside its type; the line is a gap"),
        TIME_JUMP("an event more than 1 s older than one before it in the file: a buffer read late, or a damaged timestamp (no reader can tell which); the span between is a gap"),
        UNRECORDED_ACCESSES("the agent recorded user accesses (vfio.rw) only near error/reset activity (header rw_window_ms, agent 0.1 --rw-window): accesses outside those windows are not in the trace, so a device lost or a value changed there is not seen"),
        UNLISTED_DEVICE("a device the header's topology does not list: hot-added after the agent started, or a damaged name (no reader can tell which); the line is a gap"),
        BOUND("a per-input bound was reached (open episodes, open accesses per thread, threads, gaps or accesses per episode); what it dropped is a gap");

        public final String meaning;

        Kind(String meaning) { this.meaning = meaning; }

        /** Stable identifier used in the JSON report. */
        public String id() { return name().toLowerCase().replace('_', '-'); }

        /** Kinds that mean events may be missing: no verdict, not even "no error happened", is confident. */
        public boolean gap() {
            return switch (this) {
                case CORRUPT_LINE, TRUNCATED_LINE, INVALID_EVENT, OUT_OF_ORDER, UNMATCHED_EXIT, MISSING_EXIT,
                        LOST_EVENTS, NO_FOOTER, FOOTER_MISMATCH, SCHEMA_VERSION, MISSING_HEADER, BAD_HEADER, BAD_SIZE,
                        BAD_COUNT, DAMAGED_NAME, BOUND, IMPLAUSIBLE, TIME_JUMP, UNRECORDED_ACCESSES, UNLISTED_DEVICE -> true;
                default -> false;
            };
        }

        /** Informational kinds are expected with newer agents and do not make the input suspicious. */
        public boolean informational() { return this == UNKNOWN_TYPE || this == UNKNOWN_FIELD || this == EXTRA_HEADER; }
    }
}
