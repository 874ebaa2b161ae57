package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;

/** The error eventfd signalled to the user ({@code dev} null when the agent could not tie it to a device). */
public record Notification(String dev, String ctx, long ts, Event.EventfdSignal event) {}
