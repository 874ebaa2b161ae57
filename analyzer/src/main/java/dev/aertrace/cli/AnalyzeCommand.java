package dev.aertrace.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** Bootstrap version: counts event types per trace. The timeline/race engine replaces the body. */
@Command(name = "analyze", description = "Analyze agent traces (default: the sample trace shipped in the jar).")
final class AnalyzeCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "TRACE") List<Path> traces;

    @Override
    public Integer call() throws IOException {
        if (traces == null || traces.isEmpty()) {
            try (InputStream in = AnalyzeCommand.class.getResourceAsStream("/dev/aertrace/sample/fatal-race.jsonl")) {
                report("sample fatal-race.jsonl", in);
            }
        } else {
            for (Path p : traces) {
                try (InputStream in = Files.newInputStream(p)) {
                    report(p.toString(), in);
                }
            }
        }
        return 0;
    }

    private static void report(String name, InputStream in) throws IOException {
        Map<String, Integer> counts = new TreeMap<>();
        JsonFactory f = new JsonFactory();
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null) {
            try (JsonParser p = f.createParser(line)) {
                if (p.nextToken() != JsonToken.START_OBJECT) continue;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String k = p.currentName();
                    p.nextToken();
                    if (k.equals("type")) { counts.merge(p.getText(), 1, Integer::sum); break; }
                    p.skipChildren();
                }
            }
        }
        System.out.println(name + ": " + counts);
    }
}
