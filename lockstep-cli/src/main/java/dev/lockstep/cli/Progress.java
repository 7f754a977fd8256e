package dev.lockstep.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;

/** A terminal progress bar (on stderr) for long-running commands, counting MiB. */
final class Progress implements AutoCloseable {
    private final ProgressBar bar;

    Progress(String task, long totalBytes) {
        this.bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(Math.max(1, totalBytes >> 20))
                .setUnit(" MiB", 1).setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(
                        new PrintStream(System.err, true))).showSpeed().build();
    }

    void bytes(long done) {
        bar.stepTo(done >> 20);
    }

    @Override
    public void close() {
        bar.close();
    }
}
