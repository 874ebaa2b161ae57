package dev.aertrace.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** The [HOST:]PORT of --listen and --metrics (record, fleet): HOST defaults to loopback, [v6] brackets allowed. */
record Endpoint(String host, int port) {
    static Endpoint parse(CommandSpec spec, String option, String value) {
        String host = "127.0.0.1", port = value;
        int colon = value.lastIndexOf(':');
        if (colon >= 0) {
            host = value.substring(0, colon);
            port = value.substring(colon + 1);
            if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        }
        try {
            int p = Integer.parseInt(port);
            if (p < 0 || p > 65_535) throw new NumberFormatException();
            return new Endpoint(host, p);
        } catch (NumberFormatException e) {
            throw new ParameterException(spec.commandLine(), option + " " + value + ": expected [HOST:]PORT");
        }
    }
}
