package dev.lockstep.kernels;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The C2 settings of {@link JitLimits} reach every JVM the project starts: the test JVMs, bin/lockstep's and the JMH forks. */
class JitLimitsTest {

    @Test
    void testJvmRunsWithTheLimitsRaised() {
        assertTrue(JitLimits.raised(), "the test JVM must run with " + JitLimits.FLAGS + " (pom.xml, lockstep.jvm.flags)");
    }

    @Test
    void launcherPassesTheSameFlags() throws IOException {
        Path common = Path.of("..", "bin", "lib", "common.sh");
        String script = Files.readString(common);
        for (String flag : JitLimits.FLAGS.split(" "))
            assertTrue(script.contains(flag), common + " must pass " + flag + " to every Lockstep JVM");
    }

    @Test
    void jmhForksPassTheSameFlags() throws IOException {
        for (String bench : new String[]{"KernelBench", "Int8ActivationBench"}) {
            Path file = Path.of("..", "lockstep-bench", "src", "main", "java", "dev", "lockstep", "jmh", bench + ".java");
            String source = Files.readString(file);
            for (String flag : JitLimits.FLAGS.split(" "))
                assertTrue(source.contains("\"" + flag + "\""), file + " must fork its JVM with " + flag);
        }
    }
}
