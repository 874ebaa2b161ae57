package dev.aertrace.compare;

/** Outcome of comparing one phase's durations of a group against the baseline group. */
public enum PhaseVerdict {
    FASTER("faster"),
    SLOWER("slower"),
    NO_DETECTABLE_CHANGE("no detectable change"),
    /** Too few episodes in one group for the test to ever reach the chosen level: say so instead of "no change". */
    TOO_FEW_SAMPLES("too few samples"),
    /** The phase occurs in one group only: a behaviour difference, reported there, not a timing verdict. */
    ABSENT_IN_ONE("absent in one group");

    private final String words;

    PhaseVerdict(String words) { this.words = words; }

    public String words() { return words; }
}
