package dev.blender.nativebridge.chat;

import dev.blender.nativebridge.chat.ChatTemplateException.Kind;
import java.time.DayOfWeek;
import java.time.LocalDateTime;
import java.time.Month;
import java.time.format.TextStyle;
import java.time.temporal.ChronoField;
import java.util.Locale;

/** Python's datetime.strftime in the C locale, for {@code strftime_now}; glibc's {@code %-d} unpadded forms too. */
final class StrFTime {
    private StrFTime() {}

    static String format(LocalDateTime t, String fmt) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                sb.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            boolean unpadded = false;
            if (d == '-' && i + 1 < fmt.length()) {
                unpadded = true;
                d = fmt.charAt(++i);
            }
            String s = switch (d) {
                case 'Y' -> Integer.toString(t.getYear());
                case 'y' -> two(t.getYear() % 100);
                case 'm' -> two(t.getMonthValue());
                case 'd' -> two(t.getDayOfMonth());
                case 'e' -> (t.getDayOfMonth() < 10 ? " " : "") + t.getDayOfMonth();
                case 'H' -> two(t.getHour());
                case 'I' -> two(hour12(t));
                case 'M' -> two(t.getMinute());
                case 'S' -> two(t.getSecond());
                case 'f' -> String.format("%06d", t.getNano() / 1000);
                case 'p' -> t.getHour() < 12 ? "AM" : "PM";
                case 'B' -> month(t.getMonth(), TextStyle.FULL);
                case 'b', 'h' -> month(t.getMonth(), TextStyle.SHORT);
                case 'A' -> day(t.getDayOfWeek(), TextStyle.FULL);
                case 'a' -> day(t.getDayOfWeek(), TextStyle.SHORT);
                case 'j' -> String.format("%03d", t.getDayOfYear());
                case 'w' -> Integer.toString(t.getDayOfWeek().getValue() % 7);
                case 'u' -> Integer.toString(t.getDayOfWeek().getValue());
                case 'U' -> two((t.getDayOfYear() + 6 - t.getDayOfWeek().getValue() % 7) / 7);
                case 'W' -> two((t.getDayOfYear() + 6 - (t.getDayOfWeek().getValue() + 6) % 7) / 7);
                case 'V' -> two(t.get(java.time.temporal.IsoFields.WEEK_OF_WEEK_BASED_YEAR));
                case 'G' -> Integer.toString(t.get(java.time.temporal.IsoFields.WEEK_BASED_YEAR));
                case 'c' -> day(t.getDayOfWeek(), TextStyle.SHORT) + " " + month(t.getMonth(), TextStyle.SHORT) + " "
                        + (t.getDayOfMonth() < 10 ? " " : "") + t.getDayOfMonth() + " " + two(t.getHour()) + ":" + two(t.getMinute())
                        + ":" + two(t.getSecond()) + " " + t.getYear();
                case 'x' -> two(t.getMonthValue()) + "/" + two(t.getDayOfMonth()) + "/" + two(t.getYear() % 100);
                case 'X', 'T' -> two(t.getHour()) + ":" + two(t.getMinute()) + ":" + two(t.getSecond());
                case 'D' -> two(t.getMonthValue()) + "/" + two(t.getDayOfMonth()) + "/" + two(t.getYear() % 100);
                case 'F' -> t.getYear() + "-" + two(t.getMonthValue()) + "-" + two(t.getDayOfMonth());
                case 'R' -> two(t.getHour()) + ":" + two(t.getMinute());
                case 'Z', 'z' -> "";
                case 'n' -> "\n";
                case 't' -> "\t";
                case '%' -> "%";
                default -> throw new ChatTemplateException(Kind.UNSUPPORTED, 0, "strftime directive '%" + d + "' is not supported");
            };
            if (unpadded) s = s.replaceFirst("^[0 ]+(?=.)", "");
            sb.append(s);
        }
        return sb.toString();
    }

    private static int hour12(LocalDateTime t) {
        int h = t.get(ChronoField.CLOCK_HOUR_OF_AMPM);
        return h;
    }

    private static String two(int v) {
        return v < 10 ? "0" + v : Integer.toString(v);
    }

    private static String month(Month m, TextStyle style) {
        return m.getDisplayName(style, Locale.ENGLISH);
    }

    private static String day(DayOfWeek d, TextStyle style) {
        return d.getDisplayName(style, Locale.ENGLISH);
    }
}
