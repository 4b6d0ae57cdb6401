// Pure Kotlin: no Android imports, so the same sources compile and test on any JVM
// (run_tests.sh does it with Debian's kotlinc 1.3.31 and JUnit 4; here `gradle :core:test`).
plugins {
    id("org.jetbrains.kotlin.jvm")
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    // GoldenTest reads the vectors that `python -m tests.mobile.android_golden DIR` writes.
    systemProperty("golden.dir", (project.findProperty("goldenDir") ?: "${rootDir}/build/golden").toString())
}
