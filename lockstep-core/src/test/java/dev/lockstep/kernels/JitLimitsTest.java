package dev.lockstep.kernels;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The C2 limits of {@link JitLimits} reach every JVM the project starts: the test JVMs and bin/lockstep's. */
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
}
