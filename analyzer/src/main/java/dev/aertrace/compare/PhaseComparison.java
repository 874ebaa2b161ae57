package dev.aertrace.compare;

/**
 * One phase, baseline group versus another group.
 *
 * @param probOtherLonger common-language effect size U/(n·m): the probability that a random episode of
 *                        {@code other} spent longer in this phase than a random baseline episode (0.5 = no shift)
 * @param pValue          two-sided Mann–Whitney U p-value (exact for small samples without ties)
 * @param adjustedP       Holm-adjusted over all phases of the same pair of groups, so that testing many
 *                        phases does not manufacture a "slower" by chance
 */
public record PhaseComparison(String phase, String baseline, String other,
                              DurationStats baseStats, DurationStats otherStats,
                              double u, double probOtherLonger, double pValue, double adjustedP,
                              PhaseVerdict verdict) {

    /** median(other) / median(baseline), NaN when either is missing. */
    public double medianRatio() {
        return otherStats.median() / baseStats.median();
    }
}
