package dev.aertrace.lanes;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.race.AnalyzedEpisode;
import org.junit.jupiter.api.Test;

import static dev.aertrace.Tr.EP;
import static dev.aertrace.Tr.USER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EpisodeLanesTest {
    @Test
    void focusCoversTheRecoveryAndTheHeldReadButNotTheSettleWindowPolling() {
        // A fatal recovery (~110 ms) with a read held by the reset, then the user polling for 1.5 s.
        Tr t = Tr.lab().fatalRecovery(0).cfgRead(3_000, 110_050, USER, EP, 4, 2, 0);
        for (int i = 0; i < 150; i++) t.cfgRead(200_000 + i * 10_000, 200_004 + i * 10_000, USER, EP, 4, 2, 0x0406);
        AnalyzedEpisode a = t.footer(5_000_000).analyze().only();
        EpisodeLanes l = EpisodeLanes.of(a);
        assertEquals(a.episode().errors().get(0).ts(), l.origin(), "time zero is the AER event");
        long[] f = l.focus();
        long heldEnd = a.episode().accesses().stream().filter(x -> x.start() == 1_003_000_000L).findFirst().orElseThrow().end();
        assertTrue(f[0] <= l.origin(), "starts at or before the error");
        assertTrue(f[1] >= heldEnd, "keeps the held read whole");
        assertTrue(f[1] < 1_000_000_000L + 200_000_000L, "stops well before the polling that goes on for 1.5 s: " + f[1]);
        assertTrue(l.t1() > 1_000_000_000L + 1_600_000_000L, "the episode itself does include the polling");
    }

    @Test
    void raceMarksTheOverlapOfAccessAndReset() {
        AnalyzedEpisode a = Scenarios.stalled().analyze().only();
        EpisodeLanes l = EpisodeLanes.of(a);
        EpisodeLanes.Window w = l.windows().get(0);
        EpisodeLanes.RaceMark r = l.races().stream().filter(m -> m.verdict().kind().id.equals("access-during-reset")).findFirst().orElseThrow();
        var read = a.episode().accesses().get(0);
        assertEquals(Math.max(read.start(), w.start()), r.start());
        assertEquals(Math.min(read.end(), w.end()), r.end());
        assertEquals(1, r.laneKeys().size());
        assertTrue(r.laneKeys().get(0).startsWith("user " + USER));
    }
}
