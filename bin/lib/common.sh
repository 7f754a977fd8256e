# Shared by bin/lockstep and bin/test: find a JDK >= 25 and build the jars when sources changed.
# Sourced, not executed.

LOCKSTEP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCKSTEP_MIN_JAVA=25

# Prints the feature version (e.g. 25) of the java binary in JDK home $1, or nothing.
lockstep_java_version() {
  local home="$1"
  [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || return 0
  "$home/bin/java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

# Sets JAVA_HOME to a JDK >= 25: $JAVA_HOME if it is one, else the newest under the usual folders.
lockstep_find_jdk() {
  local v
  if [ -n "${JAVA_HOME:-}" ]; then
    v="$(lockstep_java_version "$JAVA_HOME")"
    if [ -n "$v" ] && [ "$v" -ge "$LOCKSTEP_MIN_JAVA" ]; then export JAVA_HOME; return 0; fi
  fi
  local best="" bestv=0 home
  for home in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /Library/Java/JavaVirtualMachines/*/Contents/Home \
              "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*; do
    [ -d "$home" ] || continue
    v="$(lockstep_java_version "$home")"
    if [ -n "$v" ] && [ "$v" -ge "$LOCKSTEP_MIN_JAVA" ] && [ "$v" -gt "$bestv" ]; then best="$home"; bestv="$v"; fi
  done
  if [ -z "$best" ] && command -v javac >/dev/null 2>&1; then
    home="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
    v="$(lockstep_java_version "$home")"
    if [ -n "$v" ] && [ "$v" -ge "$LOCKSTEP_MIN_JAVA" ]; then best="$home"; fi
  fi
  if [ -z "$best" ]; then
    cat >&2 <<MSG
lockstep: no JDK ${LOCKSTEP_MIN_JAVA} or newer found.
  Looked at \$JAVA_HOME (${JAVA_HOME:-unset}), /usr/lib/jvm, /usr/java, /opt/java, ~/.sdkman and the javac on PATH.
  Lockstep needs JDK ${LOCKSTEP_MIN_JAVA}+ (Vector API, FFM). Install one (e.g. Temurin 25) and/or set JAVA_HOME to it.
MSG
    exit 1
  fi
  export JAVA_HOME="$best"
}

# Maven itself (Guice) calls sun.misc.Unsafe; JDK 24+ warns about it on every build. Quiet that.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"

# JVM flags every Lockstep process uses (Vector API incubator module, FFM without warnings).
# The two C2 limits: a kernel inlines hundreds of shared Vector API methods, and C2 sums their trap and
# deoptimization counts over the whole compilation; past the default limits (100 traps, 201 decompiles)
# it compiles each vector call with a virtual fallback, whose merge boxes every vector: decoding ran
# 2-10x slower in a third to half of the bench runs (README, "JVM flags"). Raised, the fallback is a trap again.
# See JitLimits.
LOCKSTEP_JVM_FLAGS=(--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC
  -XX:PerMethodTrapLimit=100000 -XX:PerMethodRecompilationCutoff=100000)

LOCKSTEP_CLI_JAR="$LOCKSTEP_ROOT/lockstep-cli/target/lockstep-cli.jar"
LOCKSTEP_STAMP="$LOCKSTEP_ROOT/lockstep-cli/target/.lockstep-built"

# True (0) when some pom.xml or source file is newer than the last successful build.
lockstep_sources_changed() {
  [ -f "$LOCKSTEP_STAMP" ] && [ -f "$LOCKSTEP_CLI_JAR" ] || return 0
  [ -n "$(find "$LOCKSTEP_ROOT" -path "$LOCKSTEP_ROOT/.git" -prune -o -path '*/target' -prune -o \
        \( -name pom.xml -o -path '*/src/main/*' \) -type f -newer "$LOCKSTEP_STAMP" -print -quit)" ]
}

# Builds the jars (tests skipped) when missing or out of date. Serialised with a lock so that
# concurrent invocations do not build twice.
lockstep_ensure_built() {
  lockstep_sources_changed || return 0
  mkdir -p "$LOCKSTEP_ROOT/lockstep-cli/target"
  (
    flock 9
    if lockstep_sources_changed; then
      echo "lockstep: building (first run or sources changed) ..." >&2
      if ! (cd "$LOCKSTEP_ROOT" && ./mvnw -q -B -DskipTests package >&2); then
        echo "lockstep: build failed (see the Maven output above)." >&2
        exit 1
      fi
      touch "$LOCKSTEP_STAMP"
    fi
  ) 9>"$LOCKSTEP_ROOT/lockstep-cli/target/.build.lock"
}
