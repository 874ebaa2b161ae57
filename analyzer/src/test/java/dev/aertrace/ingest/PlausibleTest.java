package dev.aertrace.ingest;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The hand-written PCI-name check says exactly what the regex it replaced says. */
class PlausibleTest {
    /** The rule as it was written before (pci_name(): "%04x:%02x:%02x.%d", wider domains, device 0..31, fn 0..7). */
    private static final Pattern PCI_NAME = Pattern.compile("[0-9a-f]{4,8}:[0-9a-f]{2}:[01][0-9a-f]\\.[0-7]");

    @Test
    void namesOfEveryShape() {
        for (String ok : new String[] {"0000:01:00.0", "0000:00:1f.7", "10000:ff:1f.7", "abcdef01:00:00.0"})
            assertTrue(Plausible.pciName(ok), ok);
        for (String bad : new String[] {"", "0000:01:00", "000:01:00.0", "0000:01:20.0", "0000:01:00.8", "0000:01:00.0 ",
                "0000:1:00.0", "0000:01:00:0", "0000-01:00.0", "0000:0G:00.0", "0000:01:00.00", "123456789:00:00.0", "0000:01:0a.9"})
            assertFalse(Plausible.pciName(bad), bad);
    }

    @Test
    void sameAsTheRegexOnRandomAndMutatedNames() {
        Random r = new Random(13);
        String alphabet = "0123456789abcdefABCDEFg:.-x /";
        String[] valid = {"0000:01:00.0", "0000:00:1f.7", "12345678:ff:1f.3", "00000:0a:10.1"};
        int agreeTrue = 0;
        for (int i = 0; i < 300_000; i++) {
            String s;
            if (i % 2 == 0) {
                StringBuilder b = new StringBuilder();
                for (int k = r.nextInt(18); k > 0; k--) b.append(alphabet.charAt(r.nextInt(alphabet.length())));
                s = b.toString();
            } else { // a valid name with one to three characters replaced, inserted or removed
                StringBuilder b = new StringBuilder(valid[r.nextInt(valid.length)]);
                for (int k = 1 + r.nextInt(3); k > 0; k--) {
                    int at = r.nextInt(b.length() + 1), op = r.nextInt(4);
                    char c = alphabet.charAt(r.nextInt(alphabet.length()));
                    if (op == 0 && at < b.length()) b.setCharAt(at, c);
                    else if (op == 1) b.insert(at, c);
                    else if (op == 2 && at < b.length()) b.deleteCharAt(at);
                }
                s = b.toString();
            }
            boolean want = PCI_NAME.matcher(s).matches();
            assertEquals(want, Plausible.pciName(s), s);
            if (want) agreeTrue++;
        }
        assertTrue(agreeTrue > 1000, "the mutants include valid names too: " + agreeTrue);
    }
}
