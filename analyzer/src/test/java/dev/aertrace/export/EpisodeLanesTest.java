package dev.aertrace.export;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.chart.TextTimeline;
import dev.aertrace.race.Verdict;
import org.junit.jupiter.api.Test;

import java.io.StringWriter;
import java.util.List;

import static dev.aertrace.Tr.EP;
import static dev.aertrace.Tr.IRQ;
import static dev.aertrace.Tr.RP;
import static dev.aertrace.Tr.USER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    @Test
    void linkDownAndUpOfTheResetPortSitInsideTheResetInEveryOutput() throws Exception {
        // 7.0+: the secondary bus reset of the root port flaps its link; pciehp and the Link Status re-read say so.
        Tr t = Tr.lab().fatalRecovery(0)
                .ev("pci.hp_event", 1_000, IRQ, RP, "\"event\":\"LINK_DOWN\",\"slot\":\"1\"")
                .ev("pcie.link_event", 100_000, IRQ, RP, "\"reason\":0,\"port_type\":4,\"speed\":21,\"max_speed\":21,"
                        + "\"width\":1,\"flit_mode\":0,\"link_status\":8192,\"dllla\":true")
                .ev("pci.hp_event", 100_500, IRQ, RP, "\"event\":\"LINK_UP\",\"slot\":\"1\"");
        AnalyzedEpisode a = t.footer(5_000_000).analyze().only();
        assertFalse(a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.DEVICE_REMOVED),
                "a link flap inside the host's reset is not a removal: " + a.verdicts());
        EpisodeLanes l = EpisodeLanes.of(a);
        EpisodeLanes.Lane reset = l.lanes().stream().filter(x -> x.key().equals("reset " + RP)).findFirst().orElseThrow();
        List<String> names = reset.marks().stream().filter(m -> m.kind() == EpisodeLanes.MarkKind.LINK)
                .map(m -> m.name() + " / " + m.args().get("during")).toList();
        assertEquals(List.of("link down " + RP + " / host reset pci_reset_secondary_bus", "link up " + RP + " / host reset aer_root_reset",
                "link up " + RP + " / host reset aer_root_reset"), names);
        String text = String.join("\n", TextTimeline.render(a, 200));
        assertTrue(text.contains("* 00:02.0 link down in reset"), text);
        assertTrue(text.contains("* 00:02.0 link up in reset"), text);
        StringWriter w = new StringWriter();
        TraceEventExport.write(w, List.of(a));
        assertTrue(w.toString().contains("\"link down " + RP + "\""), "exported as an instant");
        assertTrue(w.toString().contains("\"during\":\"host reset pci_reset_secondary_bus\""), "with the reset it fell in");
        assertTrue(w.toString().contains("\"cat\":\"link\""), "with its own category");
    }

    @Test
    void aPciehpLinkDownNoEpisodeExplainsIsStillADeviceLoss() {
        AnalyzedEpisode a = Tr.lab().ev("pci.hp_event", 1_000, IRQ, RP, "\"event\":\"LINK_DOWN\",\"slot\":\"1\"")
                .footer(5_000_000).analyze().only();
        assertTrue(a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.DEVICE_REMOVED), a.verdicts().toString());
    }
}
