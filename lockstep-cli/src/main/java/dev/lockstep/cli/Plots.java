package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Line charts written as PNG (XChart, headless). */
final class Plots {
    private Plots() {}

    record Series(String name, List<? extends Number> x, List<? extends Number> y) {}

    static void line(Path out, String title, String xLabel, String yLabel, List<Series> series) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        chart.getStyler().setMarkerSize(4);
        for (Series s : series) if (!s.x().isEmpty()) chart.addSeries(s.name(), s.x(), s.y());
        String base = out.toString().endsWith(".png") ? out.toString().substring(0, out.toString().length() - 4) : out.toString();
        try {
            BitmapEncoder.saveBitmap(chart, base, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new LockstepException("cannot write " + out + ": " + e.getMessage());
        }
    }
}
