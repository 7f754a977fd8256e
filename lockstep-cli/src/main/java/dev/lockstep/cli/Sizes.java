package dev.lockstep.cli;

import picocli.CommandLine;

import java.util.Locale;

/** Parses memory sizes such as {@code 512M}, {@code 2G}, {@code 1.5GiB} or plain bytes. */
final class Sizes implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        return parse(value);
    }

    static long parse(String value) {
        String v = value.trim().toUpperCase(Locale.ROOT).replace("IB", "").replace("B", "");
        long mult = 1;
        if (v.endsWith("K")) mult = 1L << 10;
        else if (v.endsWith("M")) mult = 1L << 20;
        else if (v.endsWith("G")) mult = 1L << 30;
        else if (v.endsWith("T")) mult = 1L << 40;
        if (mult > 1) v = v.substring(0, v.length() - 1);
        try {
            double d = Double.parseDouble(v);
            if (d < 0) throw new NumberFormatException();
            return (long) (d * mult);
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a size (examples: 512M, 2G, 1073741824)");
        }
    }

    static String human(long bytes) {
        if (bytes >= 1L << 30) return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
        if (bytes >= 1L << 20) return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
        if (bytes >= 1L << 10) return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        return bytes + " B";
    }
}
