package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;

/** One driver callback on one device (a report_* walk step): the driver's vote is {@code result}. */
public record CallbackCall(String dev, Event.Callback cb, String driver, Integer state, long start, Long end,
                           Integer result, Event.CallbackEnter enter, Event.CallbackExit exit) {}
