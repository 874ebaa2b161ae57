package dev.aertrace.ingest;

import java.util.List;
import java.util.Map;

/**
 * What was read from one input (file or stdin): header/footer (null when absent), counts, and every issue.
 * {@code header} is the first segment's header; {@code segments} counts headers seen (concatenated traces).
 */
public record SourceReport(String source, TraceHeader header, TraceFooter footer, long lines, long events,
                           Map<String, Long> eventsByType, Map<String, Long> unknownTypes,
                           Map<String, Long> unknownFields, long lostEvents, int segments, List<Issue> issues) {

    public boolean hasIssue(Issue.Kind kind) {
        return issues.stream().anyMatch(i -> i.kind() == kind);
    }
}
