package dev.aertrace.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code aertrace} command. */
@Command(name = "aertrace", mixinStandardHelpOptions = true, version = "aertrace 0.1.0",
        description = "Rebuilds PCIe AER recovery timelines from aertrace agent traces and finds races with vfio users.",
        subcommands = {AnalyzeCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String... args) {
        return new CommandLine(new Main()).execute(args);
    }
}
