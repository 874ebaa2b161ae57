package dev.aertrace.export;

import dev.aertrace.Scenarios;
import dev.aertrace.race.AnalyzedEpisode;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.Test;

import java.io.StringReader;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class CsvExportTest {
    @Test
    void episodesAndSpansRoundTrip() throws Exception {
        List<AnalyzedEpisode> eps = new ArrayList<>();
        eps.addAll(Scenarios.stalled().analyze().episodes());
        eps.addAll(Scenarios.backToBack().analyze().episodes());
        StringWriter ew = new StringWriter(), sw = new StringWriter();
        try (CsvExport x = new CsvExport(ew, sw)) {
            for (AnalyzedEpisode a : eps) x.episode(a);
        }
        CSVFormat f = CSVFormat.RFC4180.builder().setHeader().setSkipHeaderRecord(true).get();
        List<CSVRecord> er = f.parse(new StringReader(ew.toString())).getRecords();
        assertEquals(eps.size(), er.size());
        assertEquals(List.of(CsvExport.EPISODE_COLUMNS), f.parse(new StringReader(ew.toString())).getHeaderNames());
        CSVRecord first = er.get(0);
        assertEquals("race", first.get("outcome"));
        assertEquals(String.valueOf(eps.get(0).episode().start()), first.get("start_ns"));
        assertEquals("1", first.get("accesses_during_reset"));

        int spans = 0;
        for (AnalyzedEpisode a : eps) {
            var e = a.episode();
            spans += e.phases().size() + e.callbacks().size() + e.resets().size() + e.accesses().size();
        }
        List<CSVRecord> sr = f.parse(new StringReader(sw.toString())).getRecords();
        assertEquals(spans, sr.size());
        for (CSVRecord r : sr) {
            if (!r.get("end_offset_ns").isEmpty()) {
                assertEquals(Long.parseLong(r.get("end_offset_ns")) - Long.parseLong(r.get("start_offset_ns")),
                        Long.parseLong(r.get("duration_ns")), r.toString());
            }
        }
    }
}
