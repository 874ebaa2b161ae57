package dev.aertrace.chart;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.race.AnalyzedEpisode;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextTimelineTest {
    @Test
    void everyScenarioFitsEightyAsciiColumns() {
        for (Map.Entry<String, Tr> s : Scenarios.all().entrySet()) {
            for (AnalyzedEpisode a : s.getValue().analyze().episodes()) {
                for (String line : TextTimeline.render(a, 60)) {
                    assertTrue(line.length() <= 80, s.getKey() + ": " + line.length() + " columns: " + line);
                    assertTrue(line.chars().allMatch(c -> c >= 0x20 && c < 0x7f), s.getKey() + ": not ASCII: " + line);
                }
            }
        }
    }

    @Test
    void raceWindowIsRuledAndItsRowsMarked() {
        List<String> t = TextTimeline.render(Scenarios.stalled().analyze().only(), 60);
        String all = String.join("\n", t);
        int begin = indexOf(t, "race window begins"), end = indexOf(t, "race window ends");
        assertTrue(begin > 0 && end > begin, all);
        // The user's held read starts inside the window, on the user lane (last column), marked '!'.
        boolean userRowMarked = false;
        for (int i = begin + 1; i < end; i++) {
            assertTrue(t.get(i).startsWith("!"), "row inside the window not marked: " + t.get(i));
            String[] cols = t.get(i).split("\\|", -1);
            if (cols.length == 4 && cols[3].startsWith("> cfg read")) userRowMarked = true;
        }
        assertTrue(userRowMarked, all);
        assertTrue(all.contains("aer_root_reset"), all);
        String head = t.get(indexOf(t, "host kernel"));
        assertTrue(head.contains("|HW") && head.contains("|user"), head);
    }

    @Test
    void cleanEpisodeHasNoRaceMarks() {
        List<String> t = TextTimeline.render(Scenarios.fatalQuiet().analyze().only(), 60);
        assertFalse(String.join("\n", t).contains("race window"), String.join("\n", t));
        assertTrue(t.stream().noneMatch(l -> l.startsWith("!")));
    }

    @Test
    void rowLimitIsHonouredAndSaid() {
        List<String> t = TextTimeline.render(Scenarios.stalled().analyze().only(), 2);
        assertTrue(t.stream().anyMatch(l -> l.contains("more rows")), String.join("\n", t));
    }

    private static int indexOf(List<String> t, String s) {
        for (int i = 0; i < t.size(); i++) if (t.get(i).contains(s)) return i;
        return -1;
    }
}
