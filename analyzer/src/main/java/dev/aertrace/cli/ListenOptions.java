package dev.aertrace.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.net.InetSocketAddress;

/** record's --listen and its limits: agents connecting with --connect, each connection its own stream. */
final class ListenOptions {
    @Option(names = "--listen", paramLabel = "[HOST:]PORT",
            description = {"Do not start an agent: accept agents connecting with --connect (another host or a VM),",
                    "each connection its own stream and report. HOST defaults to 127.0.0.1 (loopback)."})
    String listen;

    @Option(names = "--listen-remote", description = "Allow --listen on a non-loopback address (the port has no authentication).")
    boolean listenRemote;

    @Option(names = "--max-clients", paramLabel = "N", defaultValue = "64",
            description = "With --listen: at most N clients at once; more are refused with a message (default: ${DEFAULT-VALUE}).")
    int maxClients;

    @Option(names = "--clients", paramLabel = "N", defaultValue = "0",
            description = "With --listen: end after N clients have ended (default: until Ctrl-C).")
    int clientCount;

    @Option(names = "--client-idle", paramLabel = "SECONDS", defaultValue = "600",
            description = "With --listen: end a client's stream after SECONDS without a byte (default: ${DEFAULT-VALUE}).")
    double clientIdle;

    @Option(names = "--max-line-bytes", paramLabel = "N", defaultValue = "1048576",
            description = "With --listen: end a client's stream at a line longer than N bytes (default: ${DEFAULT-VALUE}).")
    int maxLineBytes;

    /** The address to bind, checked: resolvable, loopback unless --listen-remote, sane limits. */
    InetSocketAddress address(CommandSpec spec) {
        Endpoint e = Endpoint.parse(spec, "--listen", listen);
        InetSocketAddress at = new InetSocketAddress(e.host(), e.port());
        if (at.isUnresolved())
            throw new ParameterException(spec.commandLine(), "--listen " + listen + ": unknown host " + e.host());
        // No authentication on this port: anyone who reaches it can feed the analyzer. Loopback unless asked.
        if (!at.getAddress().isLoopbackAddress() && !listenRemote)
            throw new ParameterException(spec.commandLine(), "--listen " + listen
                    + ": not a loopback address; the port has no authentication, so binding " + e.host()
                    + " needs --listen-remote (or tunnel: ssh -R PORT:127.0.0.1:PORT)");
        if (maxClients < 1 || clientIdle <= 0 || maxLineBytes < 1024 || clientCount < 0)
            throw new ParameterException(spec.commandLine(), "--max-clients must be >= 1, --client-idle > 0, --max-line-bytes >= 1024");
        return at;
    }

    Listener.Limits limits(boolean json) {
        return new Listener.Limits(maxClients, (long) (clientIdle * 1000), maxLineBytes, json);
    }
}
