package dev.aertrace.kernellog;

import dev.aertrace.ingest.Event;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Outcome;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Episode;

import java.util.ArrayList;
import java.util.List;

/**
 * A device loss rebuilt from a kernel log, marked for what the log cannot show. The removal notices
 * ({@code device-removed}) are the log's own lines and stay; a log has no access to the device, so whether its user
 * read all-ones, and when it let go, cannot be told: the episode is {@code inconclusive}, and says which of the
 * loss's steps the log has and which it lacks. A device put below the slot's port by time alone (the log has no
 * "PCI bridge to" line for that port) makes its notices tentative.
 */
final class LossVerdicts {
    private LossVerdicts() {}

    static AnalyzedEpisode mark(AnalyzedEpisode a, LogLoss loss, String logDescription) {
        Episode ep = a.episode();
        List<Verdict> out = new ArrayList<>();
        List<Event> evidence = new ArrayList<>();
        for (Verdict v : a.verdicts()) {
            if (v.kind() != Verdict.Kind.DEVICE_REMOVED) continue; // nothing else rests on what a log has
            boolean guessed = loss.placedByTime && !v.dev().equals(loss.port);
            out.add(guessed ? new Verdict(v.kind(), v.dev(), v.sentence() + " (placed below " + loss.port
                    + " by time: the log does not say which buses its slot leads to)", v.evidence(), true, v.gaps(), v.from(), v.to()) : v);
            evidence.addAll(v.evidence());
        }
        out.add(0, new Verdict(Verdict.Kind.INCONCLUSIVE, ep.device(), sentence(ep, loss, logDescription), List.copyOf(evidence), false));
        return new AnalyzedEpisode(ep, List.copyOf(out), Outcome.INCONCLUSIVE, List.of());
    }

    private static String sentence(Episode ep, LogLoss loss, String logDescription) {
        List<String> has = new ArrayList<>();
        if (loss.port != null && loss.items.stream().anyMatch(i -> i.dev().equals(loss.port)))
            has.add("pciehp's slot events on " + loss.port);
        if (loss.requested) has.add("vfio-pci's request to the user to release " + String.join(", ", loss.devices));
        if (loss.removed) has.add("the removal of " + String.join(", ", loss.devices) + " (it left its IOMMU group)");
        StringBuilder sb = new StringBuilder("Rebuilt from a kernel log (" + logDescription + "): a device loss");
        sb.append(ep.device() != null ? " of " + ep.device() : "").append("; it shows ").append(String.join(", ", has))
                .append(", but no access to the device: whether its user read all-ones, and when it let go, cannot be"
                        + " told from it (record with the agent for that).");
        if (loss.devices.isEmpty())
            sb.append(" The log names no device below ").append(loss.port).append(": the lost device is not known.");
        else if (!loss.removed)
            sb.append(" The removal itself is not in the log (no \"Removing from iommu group\" line: this kernel does"
                    + " not print it, or the log ends before it): the device may still be bound.");
        if (loss.canceled) sb.append(" The button press was taken back: pciehp left the slot powered.");
        if (loss.placedByTime)
            sb.append(" Which buses ").append(loss.port).append("'s slot leads to is not in the log: ")
                    .append(String.join(", ", loss.devices)).append(" is placed below it because its removal came within the")
                    .append(" slot event's window.");
        if (!loss.notes.isEmpty()) sb.append(" Also logged: ").append(String.join("; ", loss.notes.subList(0, Math.min(6, loss.notes.size())))).append('.');
        return sb.toString();
    }
}
