package dev.aertrace.kernellog;

/** What a kernel log tells as one episode: an AER error and its recovery, or a device loss. */
sealed interface LogStory permits LogError, LogLoss {
    /** Wall clock minus the log's clock at the story's first line, when the log gives both; else null. */
    Long wallOffset();
}
