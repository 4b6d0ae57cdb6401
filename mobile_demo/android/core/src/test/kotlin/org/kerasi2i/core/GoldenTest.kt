package org.kerasi2i.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The golden vectors that `tests/mobile/android_golden.py` writes with `keras_i2i.runtime`:
 * the same frame must give the same input tensor, and the same recorded output the same
 * pixels, byte for byte. The folder comes from `-Dgolden.dir` (run_tests.sh sets it).
 */
class GoldenTest {
    private val dir: File = File(System.getProperty("golden.dir")
        ?: throw AssertionError("no -Dgolden.dir: run the tests with mobile_demo/android/core/run_tests.sh"))

    private val models: Map<String, ModelEntry> by lazy {
        ModelJson.parse(File(dir, "model.json").readText()).associateBy { it.file }
    }

    @Suppress("UNCHECKED_CAST")
    private val cases: List<Map<String, Any?>> by lazy {
        (Json.parse(File(dir, "cases.json").readText()) as Map<String, Any?>)["cases"] as List<Map<String, Any?>>
    }

    private fun bytes(case: Map<String, Any?>, key: String): ByteArray = File(dir, case[key] as String).readBytes()

    private fun little(bytes: ByteArray): ByteBuffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)

    private fun frame(case: Map<String, Any?>): RgbImage = RgbImage(
        (case["frame_width"] as Double).toInt(), (case["frame_height"] as Double).toInt(), bytes(case, "frame")
    )

    private fun name(case: Map<String, Any?>): String = case["name"] as String

    private fun pipeline(case: Map<String, Any?>) = FramePipeline(models.getValue(case["model"] as String), case["crop"] as Boolean)

    @Test
    fun hasCases() {
        assertTrue("expected at least 20 golden cases in $dir, found ${cases.size}", cases.size >= 20)
    }

    @Test
    fun cropBoxesMatch() {
        for (case in cases) {
            val frame = frame(case)
            val box = pipeline(case).box(frame.height, frame.width)
            val want = (case["box"] as List<*>).map { (it as Double).toInt() }
            assertEquals(name(case), want, listOf(box.top, box.left, box.height, box.width))
        }
    }

    @Test
    fun inputTensorsMatchByteForByte() {
        for (case in cases) {
            val pipeline = pipeline(case)
            val buffer = Tensors.allocate(pipeline.input)
            pipeline.prepare(frame(case), buffer)
            val got = ByteArray(buffer.remaining())
            buffer.order(ByteOrder.LITTLE_ENDIAN)
            if (pipeline.input.isFloat) {
                // compare as little-endian float32 values: identical bits expected
                val values = FloatArray(pipeline.input.size)
                buffer.asFloatBuffer().get(values)
                val want = FloatArray(values.size)
                little(bytes(case, "input")).asFloatBuffer().get(want)
                for (i in values.indices) {
                    assertEquals("${name(case)} input[$i]", java.lang.Float.floatToIntBits(want[i]), java.lang.Float.floatToIntBits(values[i]))
                }
            } else {
                buffer.get(got)
                assertArrayEqualsReported(name(case) + " input", bytes(case, "input"), got)
            }
        }
    }

    @Test
    fun outputPixelsMatchByteForByte() {
        for (case in cases) {
            val pipeline = pipeline(case)
            val raw = bytes(case, "output")
            val buffer = Tensors.allocate(pipeline.output)
            if (pipeline.output.isFloat) {
                val values = FloatArray(pipeline.output.size)
                little(raw).asFloatBuffer().get(values)
                buffer.asFloatBuffer().put(values)
            } else {
                buffer.put(raw)
            }
            val pixels = pipeline.finish(buffer)
            assertArrayEqualsReported(name(case) + " pixels", bytes(case, "pixels"), pixels.data)
            val want = (case["box"] as List<*>).map { (it as Double).toInt() }
            val final = pipeline.finish(buffer, CropBox(want[0], want[1], want[2], want[3]))
            assertArrayEqualsReported(name(case) + " final", bytes(case, "final"), final.data)
        }
    }

    private fun assertArrayEqualsReported(what: String, want: ByteArray, got: ByteArray) {
        assertEquals("$what: size", want.size, got.size)
        var differ = 0
        var maxDiff = 0
        var first = -1
        for (i in want.indices) {
            val d = Math.abs((want[i].toInt() and 0xFF) - (got[i].toInt() and 0xFF))
            if (d != 0) {
                differ++
                if (first < 0) first = i
            }
            maxDiff = Math.max(maxDiff, d)
        }
        assertEquals("$what: $differ of ${want.size} bytes differ (max by $maxDiff, first at $first)", 0, differ)
    }
}
