package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code lockstep}: the command line. Each sub-command is a class of its own; user errors
 * ({@link LockstepException}) are printed as one line without a stack trace.
 */
@Command(name = "lockstep", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Lockstep: a deterministic, batch-invariant LLM inference engine in pure Java.",
        subcommands = {GenerateCommand.class, ChatCommand.class, TokenizeCommand.class, DetokenizeCommand.class,
                InfoCommand.class, SynthCommand.class, QuantizeCommand.class, ConvertTttCommand.class, VerifyCommand.class, PerplexityCommand.class,
                BenchCommand.class, ServeCommand.class, EmbedCommand.class, TrainTokenizerCommand.class, TrainCommand.class, DistillCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI on the process's standard streams (UTF-8) and returns its exit code. */
    public static int run(String... args) {
        return run(new java.io.PrintWriter(new java.io.OutputStreamWriter(System.out, java.nio.charset.StandardCharsets.UTF_8), true),
                new java.io.PrintWriter(new java.io.OutputStreamWriter(System.err, java.nio.charset.StandardCharsets.UTF_8), true), args);
    }

    /** Runs the CLI with the given output streams (tests call this in-process). */
    public static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable e = ex;
            while (!(e instanceof LockstepException) && e.getCause() != null && e.getCause() != e) e = e.getCause();
            if (e instanceof LockstepException) {
                cmd.getErr().println("lockstep: " + e.getMessage());
                return 1;
            }
            cmd.getErr().println("lockstep: internal error: " + ex);
            if (System.getenv("LOCKSTEP_DEBUG") != null) ex.printStackTrace(cmd.getErr());
            else cmd.getErr().println("(set LOCKSTEP_DEBUG=1 for the stack trace; this is a bug, please report it)");
            return 3;
        });
        try {
            return cl.execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"lockstep " + (v == null ? "dev" : v) + " (Java " + Runtime.version() + ")"};
        }
    }
}
