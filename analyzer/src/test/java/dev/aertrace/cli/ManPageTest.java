package dev.aertrace.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** analyzer/man/aertrace.1 documents every subcommand picocli knows, and every option of each (by one of its names). */
class ManPageTest {
    static final Path MAN = Path.of("man/aertrace.1");

    @Test
    void everySubcommandAndOptionIsInTheManPage() throws Exception {
        String man = Files.readString(MAN);
        CommandLine cl = Main.commandLine("--help");
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, CommandLine> c : cl.getSubcommands().entrySet()) {
            if (!man.contains("\n.SS " + roff(c.getKey()) + "\n")) missing.add("command " + c.getKey());
            for (OptionSpec o : c.getValue().getCommandSpec().options()) {
                boolean found = false;
                for (String n : o.names()) found |= man.contains(roff(n));
                if (!found) missing.add(c.getKey() + " " + o.longestName());
            }
        }
        assertTrue(cl.getSubcommands().size() >= 10, cl.getSubcommands().keySet().toString());
        assertEquals(List.of(), missing, "document these in " + MAN);
    }

    /** How roff spells a name: "\-" for every hyphen. */
    private static String roff(String s) {
        return s.replace("-", "\\-");
    }
}
