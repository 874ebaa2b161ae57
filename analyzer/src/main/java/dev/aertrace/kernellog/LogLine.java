package dev.aertrace.kernellog;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One kernel-log line split into its time and its message, for every shape a kernel log reaches an SRE in:
 * {@code dmesg} (raw seconds, {@code -T}, {@code --time-format iso}, {@code -r}, {@code -x}), a serial console
 * capture, {@code /dev/kmsg} records, and {@code journalctl -k -o short-precise | short-monotonic | short-iso |
 * json}. The message is what printk was given, e.g. {@code pcieport 0000:00:02.0: AER: ...}.
 *
 * <p>{@code clock} says what {@code ts} counts: {@link Clock#MONO} is the printk clock (ns since boot, which is
 * CLOCK_MONOTONIC's base on the hosts we record, within clock drift), {@link Clock#REALTIME} ns since the epoch,
 * {@link Clock#WALL_NO_YEAR} ns since January 1 of an unknown year in an unknown zone (journalctl's short
 * formats and {@code dmesg -T} print local time without a zone). {@code resolutionNs} is the finest step the
 * format can show (1 µs for most, 1 s for {@code dmesg -T} and {@code journalctl -o short}).
 */
record LogLine(Format format, Clock clock, long ts, long resolutionNs, String message, String bootId, String host,
               Long realtimeNs) {

    /** {@code realtimeNs}: the line's wall-clock time when the format gives one besides {@code ts}. */
    LogLine(Format format, Clock clock, long ts, long resolutionNs, String message, String bootId, String host) {
        this(format, clock, ts, resolutionNs, message, bootId, host, clock == Clock.REALTIME ? ts : null);
    }

    enum Clock { MONO, REALTIME, WALL_NO_YEAR }

    enum Format {
        DMESG("dmesg (raw seconds since boot) or a console capture"),
        KMSG("/dev/kmsg records"),
        DMESG_CTIME("dmesg -T"),
        ISO("dmesg --time-format iso"),
        JOURNAL_MONOTONIC("journalctl -o short-monotonic"),
        JOURNAL_PRECISE("journalctl -o short-precise / short"),
        JOURNAL_ISO("journalctl -o short-iso / short-iso-precise"),
        JOURNAL_JSON("journalctl -o json");

        final String what;

        Format(String what) { this.what = what; }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    // "<6>" (dmesg -r) and "kern  :info  : " (dmesg -x) may precede the time.
    private static final String PRE = "^(?:<\\d{1,3}>)?(?:[a-z]+\\s*:[a-z]+\\s*: )?";
    private static final Pattern SECONDS = Pattern.compile(PRE + "\\[\\s*(\\d{1,10})\\.(\\d{1,9})\\] ?(.*)$");
    private static final Pattern MONO_HOST = Pattern.compile("^\\S+ kernel: (.*)$");
    private static final Pattern KMSG = Pattern.compile("^(\\d{1,3}),(\\d{1,20}),(\\d{1,20}),[^;]*;(.*)$");
    private static final Pattern CTIME = Pattern.compile(PRE
            + "\\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) {1,2}(\\d{1,2}) (\\d\\d):(\\d\\d):(\\d\\d) (\\d{4})\\] ?(.*)$");
    private static final Pattern ISO = Pattern.compile(PRE
            + "(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d)[,.](\\d{1,9})([+-]\\d\\d:?\\d\\d|Z) (.*)$");
    private static final Pattern J_PRECISE = Pattern.compile(
            "^([A-Z][a-z]{2}) {1,2}(\\d{1,2}) (\\d\\d):(\\d\\d):(\\d\\d)(?:\\.(\\d{1,9}))? (\\S+) kernel: (.*)$");
    private static final Pattern J_ISO = Pattern.compile(
            "^(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d)(?:[,.](\\d{1,9}))?([+-]\\d\\d:?\\d\\d|Z) (\\S+) kernel: (.*)$");
    private static final String MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";

    /** The line as a kernel-log line, or null when it is none of the formats (blank, a journal banner, junk). */
    static LogLine parse(String raw) {
        String s = strip(raw);
        if (s.isEmpty()) return null;
        char c0 = s.charAt(0);
        if (c0 == '{') return json(s);
        Matcher m;
        if (c0 == '[' || c0 == '<' || Character.isLetter(c0)) {
            if ((m = SECONDS.matcher(s)).matches()) {
                long ts = secondsNs(m.group(1), m.group(2));
                Matcher h = MONO_HOST.matcher(m.group(3));
                // journalctl -o short-monotonic puts "host kernel:" after the time; dmesg does not
                if (h.matches() && !m.group(3).startsWith("kernel:"))
                    return new LogLine(Format.JOURNAL_MONOTONIC, Clock.MONO, ts, 1000, h.group(1), null, hostOf(m.group(3)));
                return new LogLine(Format.DMESG, Clock.MONO, ts, resolution(m.group(2)), m.group(3), null, null);
            }
            if ((m = CTIME.matcher(s)).matches()) {
                int mon = MONTHS.indexOf(m.group(1));
                if (mon < 0 || mon % 3 != 0) return null;
                try {
                    LocalDateTime t = LocalDateTime.of(Integer.parseInt(m.group(6)), mon / 3 + 1, Integer.parseInt(m.group(2)),
                            Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)));
                    // dmesg -T is local time without a zone: kept as a wall time, never joined to another clock
                    return new LogLine(Format.DMESG_CTIME, Clock.WALL_NO_YEAR, t.toEpochSecond(ZoneOffset.UTC) * 1_000_000_000L,
                            1_000_000_000L, m.group(7), null, null);
                } catch (java.time.DateTimeException e) {
                    return null;
                }
            }
            if ((m = J_PRECISE.matcher(s)).matches()) {
                int mon = MONTHS.indexOf(m.group(1));
                if (mon < 0 || mon % 3 != 0) return null;
                try {
                    LocalDateTime t = LocalDateTime.of(2000, mon / 3 + 1, Integer.parseInt(m.group(2)),
                            Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)));
                    long ns = (t.toEpochSecond(ZoneOffset.UTC) - LocalDateTime.of(2000, 1, 1, 0, 0).toEpochSecond(ZoneOffset.UTC))
                            * 1_000_000_000L + (m.group(6) == null ? 0 : fraction(m.group(6)));
                    return new LogLine(Format.JOURNAL_PRECISE, Clock.WALL_NO_YEAR, ns,
                            m.group(6) == null ? 1_000_000_000L : resolution(m.group(6)), m.group(8), null, m.group(7));
                } catch (java.time.DateTimeException e) {
                    return null;
                }
            }
        }
        if (Character.isDigit(c0)) {
            if ((m = KMSG.matcher(s)).matches()) {
                try {
                    return new LogLine(Format.KMSG, Clock.MONO, Math.multiplyExact(Long.parseLong(m.group(3)), 1000L),
                            1000, m.group(4), null, null);
                } catch (ArithmeticException | NumberFormatException e) {
                    return null;
                }
            }
            // journalctl's "host kernel:" first: dmesg --time-format iso would take it as message text
            if ((m = J_ISO.matcher(s)).matches()) {
                Long ns = iso(m.group(1), m.group(2), m.group(3));
                return ns == null ? null : new LogLine(Format.JOURNAL_ISO, Clock.REALTIME, ns,
                        m.group(2) == null ? 1_000_000_000L : resolution(m.group(2)), m.group(5), null, m.group(4));
            }
            if ((m = ISO.matcher(s)).matches()) {
                Long ns = iso(m.group(1), m.group(2), m.group(3));
                return ns == null ? null : new LogLine(Format.ISO, Clock.REALTIME, ns, resolution(m.group(2)), m.group(4), null, null);
            }
        }
        return null;
    }

    /** Console captures carry carriage returns and sometimes terminal escapes; printk text never starts with them. */
    private static String strip(String raw) {
        int i = 0, n = raw.length();
        while (i < n && (raw.charAt(i) == '\r' || raw.charAt(i) == '\0')) i++;
        while (n > i && (raw.charAt(n - 1) == '\r' || raw.charAt(n - 1) == ' ')) n--;
        String s = raw.substring(i, n);
        return s.indexOf('\u001b') >= 0 ? s.replaceAll("\u001b\\[[0-9;?]*[A-Za-z]", "") : s;
    }

    private static String hostOf(String rest) {
        int sp = rest.indexOf(' ');
        return sp > 0 ? rest.substring(0, sp) : null;
    }

    private static LogLine json(String s) {
        JsonNode n;
        try {
            n = JSON.readTree(s);
        } catch (java.io.IOException e) {
            return null;
        }
        if (n == null || !n.isObject() || !n.has("MESSAGE")) return null;
        JsonNode msg = n.get("MESSAGE");
        if (!msg.isTextual()) return null; // journald stores non-UTF-8 messages as byte arrays: not printk text we know
        String transport = n.path("_TRANSPORT").asText("kernel");
        if (!transport.equals("kernel")) return null;
        // The kernel's own printk time when journald kept it; else journald's reception time on the same clock.
        Long mono = micros(n.get("_SOURCE_MONOTONIC_TIMESTAMP"));
        if (mono == null) mono = micros(n.get("__MONOTONIC_TIMESTAMP"));
        String boot = n.hasNonNull("_BOOT_ID") ? n.get("_BOOT_ID").asText() : null;
        String host = n.hasNonNull("_HOSTNAME") ? n.get("_HOSTNAME").asText() : null;
        Long real = micros(n.get("__REALTIME_TIMESTAMP"));
        if (mono != null) {
            // journald's realtime is when it received the line; its own monotonic stamp is on the same clock, so
            // realtime - (reception mono - printk mono) is the printk time on the wall clock
            Long recv = micros(n.get("__MONOTONIC_TIMESTAMP"));
            Long rt = real == null ? null : recv == null ? real : real - (recv - mono);
            return new LogLine(Format.JOURNAL_JSON, Clock.MONO, mono, 1000, msg.asText(), boot, host, rt);
        }
        if (real != null) return new LogLine(Format.JOURNAL_JSON, Clock.REALTIME, real, 1000, msg.asText(), boot, host);
        return null;
    }

    private static Long micros(JsonNode v) {
        if (v == null || v.isNull()) return null;
        try {
            return Math.multiplyExact(Long.parseLong(v.asText()), 1000L);
        } catch (NumberFormatException | ArithmeticException e) {
            return null;
        }
    }

    private static Long iso(String dateTime, String frac, String zone) {
        try {
            String z = zone.equals("Z") ? "Z" : zone.length() == 5 ? zone.substring(0, 3) + ":" + zone.substring(3) : zone;
            OffsetDateTime t = OffsetDateTime.parse(dateTime + z, DateTimeFormatter.ISO_OFFSET_DATE_TIME.withLocale(Locale.ROOT));
            return Math.addExact(Math.multiplyExact(t.toEpochSecond(), 1_000_000_000L), frac == null ? 0 : fraction(frac));
        } catch (DateTimeParseException | ArithmeticException e) {
            return null;
        }
    }

    private static long secondsNs(String sec, String frac) {
        return Long.parseLong(sec) * 1_000_000_000L + fraction(frac);
    }

    /** ",123456" → 123456000 ns. */
    private static long fraction(String f) {
        long v = Long.parseLong(f);
        for (int i = f.length(); i < 9; i++) v *= 10;
        return v;
    }

    private static long resolution(String frac) {
        long r = 1;
        for (int i = frac.length(); i < 9; i++) r *= 10;
        return r;
    }
}
