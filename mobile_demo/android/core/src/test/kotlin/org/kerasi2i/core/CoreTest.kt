package org.kerasi2i.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertSame
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.nio.ByteBuffer
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

private fun modelJson(inputShape: String = "[1, 4, 2, 3]", dtype: String = "float32", range: String = "[-1, 1]") = """
{"schema": "keras_i2i.export/1", "models": [
  {"name": "q", "direction": "a2b", "source_domain": "a", "target_domain": "b", "file": "a2b.fp32.tflite",
   "format": "tflite", "quantization": {"mode": "fp32"}, "conditions": {},
   "input": {"name": "image", "shape": $inputShape, "layout": "NHWC", "dtype": "$dtype", "range": $range, "quantization": null},
   "output": {"name": "out", "shape": [1, 4, 2, 3], "layout": "NHWC", "dtype": "float32", "range": [-1, 1]}},
  {"direction": "b2a", "file": "b2a.onnx", "format": "onnx"},
  {"direction": "b2a", "source_domain": "b", "target_domain": "a", "file": "b2a.int8.tflite", "format": "tflite",
   "quantization": {"mode": "int8"},
   "input": {"shape": [1, 2, 2, 3], "dtype": "uint8", "range": [0, 255]},
   "output": {"shape": [1, 2, 2, 3], "dtype": "uint8", "range": [0, 255]}}
]}
"""

private fun expectError(fragment: String, block: () -> Unit) {
    try {
        block()
    } catch (err: RuntimeException) {
        assertTrue("'${err.message}' should mention '$fragment'", err.message!!.contains(fragment))
        return
    }
    fail("expected an error mentioning '$fragment'")
}

class JsonTest {
    @Test
    fun parsesNestedValues() {
        val value = Json.parse(""" {"a": [1, -2.5e1, true, false, null], "s": "x\"\\\/\n\u00e9", "o": {}} """) as Map<*, *>
        assertEquals(listOf(1.0, -25.0, true, false, null), value["a"])
        assertEquals("x\"\\/\n\u00e9", value["s"])
        assertEquals(emptyMap<String, Any?>(), value["o"])
        assertEquals(listOf("a", "s", "o"), value.keys.toList())
    }

    @Test
    fun reportsWhereItFailed() {
        expectError("offset 6") { Json.parse("""{"a": }""") }
        expectError("end of input") { Json.parse("[1, 2") }
        expectError("expected end of input") { Json.parse("1 2") }
    }
}

class ModelJsonTest {
    @Test
    fun readsTheTfliteEntries() {
        val entries = ModelJson.parse(modelJson())
        assertEquals(listOf("a2b.fp32.tflite", "b2a.int8.tflite"), entries.map { it.file })
        assertEquals(listOf("a2b", "b2a"), ModelJson.directions(entries))
        val a2b = entries[0]
        assertEquals(4, a2b.input.height)
        assertEquals(2, a2b.input.width)
        assertTrue(a2b.input.isFloat)
        assertEquals(-1.0, a2b.input.low, 0.0)
        assertEquals("a2b (a -> b, fp32)", a2b.label)
        assertTrue(entries[1].input.isPixels)
    }

    @Test
    fun refusesWhatTheAppCannotRun() {
        expectError("not [1, H, W, 3]") { ModelJson.parse(modelJson(inputShape = "[1, 1, 4, 2, 3]")) }
        expectError("dtype int16") { ModelJson.parse(modelJson(dtype = "int16")) }
        expectError("no quantization") { ModelJson.parse(modelJson(dtype = "uint8")) }
        expectError("not [low, high]") { ModelJson.parse(modelJson(range = "[1, -1]")) }
        expectError("no 'models' list") { ModelJson.parse("{}") }
        expectError("not valid JSON") { ModelJson.parse("{") }
        expectError("no .tflite file") { ModelJson.parse("""{"models": [{"file": "a.onnx", "format": "onnx"}]}""") }
    }
}

class ImagingTest {
    @Test
    fun centerCropBoxes() {
        assertEquals(CropBox(0, 80, 480, 480), Imaging.centerCropBox(480, 640, 1.0))
        assertEquals(CropBox(80, 0, 480, 480), Imaging.centerCropBox(640, 480, 1.0))
        assertEquals(CropBox(0, 0, 3, 5), Imaging.centerCropBox(3, 5, 5.0 / 3))
        // round half to even, as Python's round: 5 * 0.5 = 2.5 -> 2
        assertEquals(CropBox(1, 0, 2, 5), Imaging.centerCropBox(5, 5, 2.5))
    }

    @Test
    fun resizeToTheSameSizeIsTheImage() {
        val image = RgbImage(3, 2)
        assertSame(image, Imaging.resize(image, 3, 2))
    }

    @Test
    fun areaAverageOfTwoByTwoRoundsHalfUp() {
        // OpenCV's 2x2 path: (sum + 2) >> 2
        val image = RgbImage(2, 2, byteArrayOf(0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1))
        assertEquals(1, Imaging.resize(image, 1, 1).get(0, 0, 0))
    }
}

class PixelsTest {
    private fun rgba(width: Int, height: Int, rowStride: Int): ByteBuffer {
        val buffer = ByteBuffer.allocate(rowStride * height)
        for (y in 0 until height) for (x in 0 until width) {
            buffer.put(y * rowStride + 4 * x, (10 * y + x).toByte()) // R encodes the position
            buffer.put(y * rowStride + 4 * x + 3, 255.toByte())
        }
        return buffer
    }

    @Test
    fun rotatesUpright() {
        // sensor frame 3 wide, 2 high: R = 10 * y + x
        val frame = rgba(3, 2, 16)
        assertArrayEquals(intArrayOf(0, 1, 2, 10, 11, 12), red(Pixels.fromRgba(frame, 3, 2, 16, 0)))
        assertArrayEquals(intArrayOf(10, 0, 11, 1, 12, 2), red(Pixels.fromRgba(frame, 3, 2, 16, 90)))
        assertArrayEquals(intArrayOf(12, 11, 10, 2, 1, 0), red(Pixels.fromRgba(frame, 3, 2, 16, 180)))
        assertArrayEquals(intArrayOf(2, 12, 1, 11, 0, 10), red(Pixels.fromRgba(frame, 3, 2, 16, 270)))
        assertEquals(0, frame.position())
    }

    private fun red(image: RgbImage) = IntArray(image.width * image.height) { image.data[3 * it].toInt() and 0xFF }

    @Test
    fun argbRoundTrip() {
        val argb = intArrayOf(0x7F102030, 0xFFFFFFFF.toInt(), 0xFF000000.toInt(), 0x00ABCDEF)
        val image = Pixels.fromArgb(argb, 2, 2)
        assertEquals(0x10, image.get(0, 0, 0))
        assertEquals(0xEF, image.get(1, 1, 2))
        val back = Pixels.toArgb(image)
        assertArrayEquals(intArrayOf(0xFF102030.toInt(), 0xFFFFFFFF.toInt(), 0xFF000000.toInt(), 0xFFABCDEF.toInt()), back)
        val cropped = Pixels.fromArgb(argb, 2, 2, CropBox(1, 1, 1, 1))
        assertEquals(0xCD, cropped.get(0, 0, 1))
    }
}

class TensorsTest {
    private val entry = ModelJson.parse(modelJson(inputShape = "[1, 4, 2, 3]"))[0]

    @Test
    fun floatIoMapsPixelsToMinusOneOne() {
        val image = RgbImage(2, 4)
        image.data[0] = 255.toByte()
        val x = Tensors.toFloat(image, entry.input)
        assertEquals(1f, x[0], 0f)
        assertEquals(-1f, x[1], 0f)
        val y = FloatArray(24) { if (it == 0) 2f else if (it == 1) -3f else Float.NaN }
        y[2] = 0f
        val pixels = Tensors.fromFloat(y, entry.output)
        assertEquals(255, pixels.get(0, 0, 0)) // clipped
        assertEquals(0, pixels.get(0, 0, 1))
        assertEquals(128, pixels.get(0, 0, 2)) // 127.5 rounds half to even
        assertEquals(0, pixels.get(1, 0, 0)) // NaN -> 0
    }

    @Test
    fun buffersRoundTrip() {
        val spec = entry.input
        val buffer = Tensors.allocate(spec)
        assertEquals(2 * 4 * 3 * 4, buffer.capacity())
        val image = RgbImage(2, 4, ByteArray(24) { (it * 10).toByte() })
        Tensors.writeInput(image, spec, buffer)
        assertArrayEquals(image.data, Tensors.readOutput(buffer, spec).data)
    }
}

class FrameSchedulerTest {
    @Test
    fun keepsOnlyTheNewestFrame() {
        val scheduler = FrameScheduler<Int>()
        assertNull(scheduler.offer(1))
        assertEquals(1, scheduler.offer(2))
        assertEquals(2, scheduler.offer(3))
        assertEquals(3, scheduler.take(10))
        assertNull(scheduler.take(1))
        assertEquals(3L, scheduler.offered)
        assertEquals(2L, scheduler.dropped)
    }

    @Test
    fun pauseHoldsFramesWithoutCountingDrops() {
        val scheduler = FrameScheduler<Int>()
        scheduler.paused = true
        scheduler.offer(1)
        scheduler.offer(2)
        assertNull(scheduler.take(5))
        assertEquals(0L, scheduler.dropped)
        scheduler.resume()
        assertEquals(2, scheduler.take(5))
    }

    @Test
    fun wakesAWaitingThreadAndCloses() {
        val scheduler = FrameScheduler<String>()
        val got = arrayOfNulls<String>(1)
        val done = CountDownLatch(1)
        val worker = Thread { got[0] = scheduler.take(5000); done.countDown() }
        worker.start()
        Thread.sleep(20)
        scheduler.offer("frame")
        assertTrue(done.await(5, TimeUnit.SECONDS))
        assertEquals("frame", got[0])
        scheduler.close()
        assertNull(scheduler.take(5000)) // returns at once
        assertEquals("late", scheduler.offer("late"))
    }
}

class RollingStatsTest {
    @Test
    fun fpsAndMedianLatencyOverTheWindow() {
        val stats = RollingStats(window = 3)
        assertEquals(0.0, stats.fps(), 0.0)
        val ms = 1_000_000L
        stats.add(0, 10 * ms, 20 * ms)
        stats.add(100 * ms, 30 * ms, 40 * ms)
        stats.add(200 * ms, 20 * ms, 30 * ms)
        assertEquals(10.0, stats.fps(), 1e-9)
        assertEquals(20.0, stats.modelMs(), 1e-9)
        stats.add(250 * ms, 40 * ms, 50 * ms) // the first frame leaves the window
        assertEquals(2 / 0.15, stats.fps(), 1e-9)
        assertEquals(30.0, stats.modelMs(), 1e-9)
        assertEquals(4L, stats.frames)
        assertEquals(listOf(" 13.3 FPS", "model 30.0 ms (GPU)", "frame 40.0 ms", "PAUSED"), stats.lines("GPU", true))
    }
}
