package dev.aertrace.ingest;

/** Last line of a cleanly ended stream; absent when the trace was cut off. */
public record TraceFooter(long ts, long events, long lost, String reason, long line) {}
