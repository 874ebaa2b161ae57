package dev.aertrace.race;

/** Overall state of one episode, worst first: inconclusive beats race (no confident verdict on a gap). */
public enum Outcome {
    INCONCLUSIVE, RACE, RECOVERY_FAILED, CLEAN;

    public String id() { return name().toLowerCase().replace('_', '-'); }
}
