package dev.aertrace.ingest;

/** Receives what a {@link TraceReader} reads, in stream order. */
public interface TraceListener {
    /** A header line: the first line of a trace, or a later one when traces were concatenated. */
    void header(TraceHeader header);

    void event(Event event);

    void footer(TraceFooter footer);

    /** Watermark: no event with a timestamp below {@code ts} will follow (sent by the reorder stage). */
    default void advance(long ts) {}

    /** End of input (after the last event). */
    default void end() {}
}
