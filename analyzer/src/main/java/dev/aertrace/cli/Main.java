package dev.aertrace.cli;

import dev.aertrace.report.Totals;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code aertrace} command. */
@Command(name = "aertrace", mixinStandardHelpOptions = true, version = "aertrace 0.1.0",
        description = "Rebuilds PCIe AER recovery timelines from aertrace agent traces and finds races with vfio users.",
        footer = {"", "Examples:",
                "  aertrace analyze                   # the shipped real 6.1 fatal-race trace",
                "  aertrace analyze t.jsonl.gz        # your trace(s); - reads stdin",
                "  sudo aertrace record --device 0000:01:00.0   # live, until Ctrl-C",
                "  aertrace bench                     # 10M-event throughput and memory",
                "  source <(aertrace generate-completion)       # bash/zsh completion",
                "", "Exit codes: 0 clean, 1 races, 2 usage/input error, 3 inconclusive,",
                "4 recovery failed, 70 internal error (a bug: the message says so, with its stack trace)."})
public final class Main {
    /**
     * An aertrace bug or a JVM limit (out of memory, stack overflow): never 1 ("race found") or 2 ("your
     * input"), so a script can tell our fault from its own. 70 is sysexits' EX_SOFTWARE.
     */
    public static final int INTERNAL = 70;

    public static void main(String[] args) {
        // A thread other than main dying of an Error would otherwise leave main waiting or exiting "clean".
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            try {
                internal(System.err, "thread " + t.getName(), e);
            } finally {
                Runtime.getRuntime().halt(INTERNAL);
            }
        });
        System.exit(run(args));
    }

    /**
     * The subcommands, in the order `aertrace --help` lists them. Only the one a command line names is built (below):
     * picocli reads every annotated field of every command it is given, which took 130-160 ms of a 0.3 s start
     * (issue 13: time to the first result) and a hundred JIT compilations, for commands the run never uses.
     */
    private static final java.util.Map<String, Class<?>> COMMANDS = commands();

    private static java.util.Map<String, Class<?>> commands() {
        java.util.Map<String, Class<?>> m = new java.util.LinkedHashMap<>();
        m.put("analyze", AnalyzeCommand.class);
        m.put("record", RecordCommand.class);
        m.put("bench", BenchCommand.class);
        m.put("chart", ChartCommand.class);
        m.put("timeline", TimelineCommand.class);
        m.put("export", ExportCommand.class);
        m.put("compare", CompareCommand.class);
        m.put("history", HistoryCommand.class);
        m.put("chart-bench", ChartBenchCommand.class);
        m.put("fleet", FleetCommand.class);
        m.put("generate-completion", AutoComplete.GenerateCompletion.class);
        m.put("help", CommandLine.HelpCommand.class);
        return m;
    }

    /**
     * The command line's model: the top-level command with only the subcommand args[0] names, or with all of them
     * when it names none (help, completion, a version flag, a typo that picocli answers with suggestions).
     */
    static CommandLine commandLine(String... args) {
        CommandLine cl = new CommandLine(new Main());
        Class<?> one = args.length > 0 ? COMMANDS.get(args[0]) : null;
        if (one != null && one != CommandLine.HelpCommand.class && one != AutoComplete.GenerateCompletion.class) {
            cl.addSubcommand(args[0], one);
            return cl;
        }
        // a loop, not cl::addSubcommand: the archive's dump would resolve that method reference (see Handler)
        for (java.util.Map.Entry<String, Class<?>> c : COMMANDS.entrySet()) cl.addSubcommand(c.getKey(), c.getValue());
        cl.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(false);
        return cl;
    }

    public static int run(String... args) {
        try {
            CommandLine cl = commandLine(args);
            cl.setExecutionExceptionHandler(new Handler());
            return cl.execute(args);
        } catch (ThreadDeath stop) {
            throw stop; // not an error of ours: whoever stopped the thread wants it gone
        } catch (Throwable e) {
            // picocli hands Errors (OutOfMemoryError, StackOverflowError) straight through
            return handle(e, "", new java.io.PrintWriter(System.err, true));
        }
    }

    /**
     * A class, not a lambda: the class-data archive's dump resolves a lambda's interface, and picocli's classes
     * (Java 5 class files) once resolved at dump time are left out of the archive, CommandLine with them.
     */
    private static final class Handler implements CommandLine.IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
            return handle(ex, cmd.getCommandName(), cmd.getErr());
        }
    }

    /**
     * The one error contract: what the user can fix (a file that cannot be read or written) is 2 with a
     * one-line message; anything else is our bug: "internal error", the stack trace, {@link #INTERNAL}.
     */
    static int handle(Throwable ex, String command, java.io.PrintWriter err) {
        String who = "aertrace" + (command.isEmpty() || command.equals("aertrace") ? "" : " " + command);
        Throwable io = ex instanceof java.io.UncheckedIOException u ? u.getCause() : ex;
        if (io instanceof java.io.IOException && !(io instanceof java.nio.charset.CharacterCodingException)) {
            err.println(who + ": " + describe(io));
            err.flush();
            return Totals.USAGE;
        }
        internal(err, who, ex);
        return INTERNAL;
    }

    private static String describe(Throwable io) {
        if (io instanceof java.nio.file.NoSuchFileException n) return n.getFile() + ": no such file or directory";
        if (io instanceof java.nio.file.AccessDeniedException a) return a.getFile() + ": permission denied";
        if (io instanceof java.nio.file.FileSystemException f)
            return f.getFile() + ": " + (f.getReason() != null ? f.getReason() : f.getClass().getSimpleName());
        return io.getMessage() != null ? io.getMessage() : io.getClass().getSimpleName();
    }

    private static void internal(java.io.PrintWriter err, String who, Throwable ex) {
        try {
            err.println(who + ": internal error (exit " + INTERNAL + "; please report it with the trace): " + ex);
            if (ex instanceof OutOfMemoryError)
                err.println(who + ": the Java heap is full (the launcher's default is -Xmx256m; more with"
                        + " AERTRACE_JAVA_OPTS=-Xmx1g)");
            ex.printStackTrace(err);
            err.flush();
        } catch (Throwable again) {
            // out of memory while reporting it: the exit code still says what happened
        }
    }

    private static void internal(java.io.PrintStream err, String who, Throwable ex) {
        internal(new java.io.PrintWriter(err, true), who, ex);
    }
}
