package dev.aertrace.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code aertrace} command. */
@Command(name = "aertrace", mixinStandardHelpOptions = true, version = "aertrace 0.1.0",
        description = "Rebuilds PCIe AER recovery timelines from aertrace agent traces and finds races with vfio users.",
        subcommands = {AnalyzeCommand.class, RecordCommand.class, BenchCommand.class,
                ChartCommand.class, TimelineCommand.class, ExportCommand.class, CompareCommand.class, HistoryCommand.class, ChartBenchCommand.class, FleetCommand.class,
                AutoComplete.GenerateCompletion.class, CommandLine.HelpCommand.class},
        footer = {"", "Examples:",
                "  aertrace analyze                   # the shipped real 6.1 fatal-race trace",
                "  aertrace analyze t.jsonl.gz        # your trace(s); - reads stdin",
                "  sudo aertrace record --device 0000:01:00.0   # live, until Ctrl-C",
                "  aertrace bench                     # 10M-event throughput and memory",
                "  source <(aertrace generate-completion)       # bash/zsh completion",
                "", "Exit codes: 0 clean, 1 races, 2 usage/input error, 3 inconclusive,",
                "4 recovery failed."})
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(false);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("aertrace " + cmd.getCommandName() + ": " + ex.getMessage());
            return 2;
        });
        return cl.execute(args);
    }
}
