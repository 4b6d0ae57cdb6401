#!/usr/bin/env bash
# Compile mobile_demo/android/core (pure Kotlin) and run its JUnit 4 tests on the JVM with
# Debian's kotlin (1.3.31), junit4 and a JDK: no Gradle, no Android SDK, no network beyond apt.
#
#   run_tests.sh [GOLDEN_DIR]   compile and run every test; GoldenTest reads the golden
#                               vectors in GOLDEN_DIR (default: written now into a temp folder
#                               with `python -m tests.mobile.android_golden`, PYTHON=python3)
#   run_tests.sh --install      only install the Debian packages when missing (as root)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
PACKAGES=(kotlin junit4 default-jdk-headless)
JARS=/usr/share/java

missing() {
    command -v kotlinc >/dev/null 2>&1 || return 0
    command -v javac >/dev/null 2>&1 || return 0
    [ -f "$JARS/junit4.jar" ] && [ -f "$JARS/hamcrest-core.jar" ] && [ -f "$JARS/kotlin-stdlib.jar" ] || return 0
    return 1
}

if missing; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing ${PACKAGES[*]} (Debian packages) for the Kotlin core tests..." >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null; }
    else
        echo "Error: the Kotlin core tests need kotlinc, a JDK and JUnit 4: run as root, or" \
             "sudo apt-get install ${PACKAGES[*]}" >&2
        exit 2
    fi
fi
[ "${1:-}" = "--install" ] && exit 0

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
GOLDEN="${1:-}"
if [ -z "$GOLDEN" ]; then
    GOLDEN="$WORK/golden"
    (cd "$ROOT" && "${PYTHON:-python3}" -m tests.mobile.android_golden "$GOLDEN")
fi

CP="$JARS/junit4.jar:$JARS/hamcrest-core.jar"
start=$(date +%s%N)
kotlinc "$HERE/src/main/kotlin" "$HERE/src/test/kotlin" -cp "$CP" -d "$WORK/classes" -nowarn 2>&1 \
    | grep -v -e "^OpenJDK 64-Bit Server VM warning" >&2 || true
[ -d "$WORK/classes/org" ] || { echo "Error: kotlinc failed" >&2; exit 1; }
compiled=$(date +%s%N)
echo "kotlinc: $(( (compiled - start) / 1000000 )) ms" >&2
TESTS=$(cd "$WORK/classes" && find . -name '*Test.class' ! -name '*$*' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort)
java -Dgolden.dir="$GOLDEN" -cp "$WORK/classes:$CP:$JARS/kotlin-stdlib.jar" org.junit.runner.JUnitCore $TESTS
