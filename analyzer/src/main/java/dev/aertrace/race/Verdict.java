package dev.aertrace.race;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.TraceGap;

import java.util.List;

/**
 * One finding about an episode, with the events that prove it and one sentence for a kernel developer. Made only
 * by {@link Evidence#judge} (the rule of evidence, docs/evidence.md): {@code tentative} is true exactly when
 * {@code gaps} is not empty, i.e. a gap in the trace meets the time span [{@code from}, {@code to}] the verdict
 * rests on; the sentence then states no number such a gap could have changed and names the gap.
 */
public record Verdict(Kind kind, String dev, String sentence, List<Event> evidence, boolean tentative,
                      List<TraceGap> gaps, long from, long to) {

    /**
     * A verdict not judged against a trace's gaps (kernel-log post-mortem: its own evidence rules): tentative as
     * its maker says, no gap list, no span.
     */
    public Verdict(Kind kind, String dev, String sentence, List<Event> evidence, boolean tentative) {
        this(kind, dev, sentence, evidence, tentative, List.of(), Long.MIN_VALUE, Long.MAX_VALUE);
    }

    /**
     * RACE: the user and the host recovery touched the device in an unsafe order. RECOVERY: the recovery itself
     * failed. NOTICE: information was lost to the user (not unsafe for the device); does not change a clean
     * outcome. INCONCLUSIVE: a gap makes the episode's verdicts unreliable.
     */
    public enum Category { RACE, RECOVERY, NOTICE, INCONCLUSIVE }

    public enum Kind {
        ACCESS_DURING_RESET("access-during-reset", Category.RACE),
        ACCESS_STALLED_BY_RESET("access-stalled-by-reset", Category.RACE),
        STATE_CHANGED_UNDER_USER("state-changed-under-user", Category.RACE),
        ALL_ONES_READ("all-ones-read", Category.RACE),
        DOUBLE_RESET("double-reset", Category.RACE),
        ACCESS_IN_RECOVERY_WINDOW("access-in-recovery-window", Category.RACE),
        NOTIFIED_BEFORE_RESET("notified-before-reset", Category.RACE),
        AER_STATUS_CLEARED_BEFORE_READ("aer-status-cleared-before-read", Category.NOTICE),
        USER_RESET_REFUSED("user-reset-refused", Category.NOTICE),
        DEVICE_REMOVED("device-removed", Category.NOTICE),
        RECOVERY_FAILED("recovery-failed", Category.RECOVERY),
        DEVICE_NOT_RESET("device-not-reset", Category.RECOVERY),
        /**
         * QEMU stopped the VM on the error notification: from QEMU's/libvirt's log (dev.aertrace.kernellog.QemuLog)
         * or from the QEMU uprobes in a trace (dev.aertrace.qemu, vm_stop(internal-error)).
         */
        VM_STOPPED("vm-stopped", Category.RECOVERY),
        /** A guest access, served by QEMU, reached the device while the host reset it (dev.aertrace.qemu). */
        GUEST_ACCESS_DURING_RESET("guest-access-during-reset", Category.RACE),
        INCONCLUSIVE("inconclusive", Category.INCONCLUSIVE);

        /** Stable identifier for JSON and scripts. */
        public final String id;
        public final Category category;

        Kind(String id, Category category) {
            this.id = id;
            this.category = category;
        }
    }
}
