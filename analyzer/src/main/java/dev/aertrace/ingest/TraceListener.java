package dev.aertrace.ingest;

/** Receives what a {@link TraceReader} reads, in stream order. */
public interface TraceListener {
    /** A header line: the first line of a trace, or a later one when traces were concatenated. */
    void header(TraceHeader header);

    void event(Event event);

    /**
     * A region access the agent's flight recorder kept in the kernel and wrote out when an error began (schema
     * v2, {@code "history":true}): older than lines before it, by design.
     */
    default void history(Event event) { event(event); }

    /**
     * The enter half of a one-line access (schema v3 {@code vfio.rw}), followed at once by its exit half through
     * {@link #event}. The line was written when the access returned, so this enter is as old as the access took: in
     * the file's order by design, not a late record (a read held by a reset for seconds is the case that matters).
     */
    default void wholeEnter(Event enter) { event(enter); }

    /** A flight-recorder dump marker ({@code "type":"history"}): the history records that follow are a new dump. */
    default void historyDump() {}

    void footer(TraceFooter footer);

    /**
     * Time has passed. Into the reorder stage: the stream's clock has reached {@code ts} (live input, quiet
     * stream). Out of it: watermark, no event with a timestamp below {@code ts} will follow.
     */
    default void advance(long ts) {}

    /** End of input (after the last event). */
    default void end() {}
}
