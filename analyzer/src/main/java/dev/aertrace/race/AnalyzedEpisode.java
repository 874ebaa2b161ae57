package dev.aertrace.race;

import dev.aertrace.timeline.QemuLane;
import dev.aertrace.timeline.Episode;

import java.util.List;

/**
 * An episode with its verdicts (INCONCLUSIVE first when present) and the resulting outcome; {@code qemu}: what
 * the QEMU processes holding its devices did (empty unless the trace has QEMU's uprobe events, dev.aertrace.qemu).
 */
public record AnalyzedEpisode(Episode episode, List<Verdict> verdicts, Outcome outcome, List<QemuLane> qemu) {}
