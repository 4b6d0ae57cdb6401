package org.kerasi2i.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Pixels in and out of the model, per `model.json`, exactly as
 * `keras_i2i.runtime.Translator.preprocess` / `postprocess`:
 *
 * - input: pixel I/O feeds the RGB bytes; float I/O feeds `p / (255 / (high - low)) + low` in
 *   float32 (`p / 127.5f - 1` for `[-1, 1]`); a quantized input `round(x / scale) + zero_point`.
 * - output: dequantize if quantized, `(y - low) * (255 / (high - low))` in double, round half
 *   to even, clip to 0..255.
 */
object Tensors {
    /** Bytes of the model's input tensor (`1 * H * W * 3` values of its dtype). */
    fun inputBytes(spec: TensorSpec): Int = spec.size * if (spec.isFloat) 4 else 1

    /** A direct buffer in native order, sized for `spec` (what LiteRT reads and writes). */
    fun allocate(spec: TensorSpec): ByteBuffer =
        ByteBuffer.allocateDirect(inputBytes(spec)).order(ByteOrder.nativeOrder())

    private fun checkSize(image: RgbImage, spec: TensorSpec) {
        require(image.width == spec.width && image.height == spec.height) {
            "image is ${image.width}x${image.height}, the model takes ${spec.width}x${spec.height}"
        }
    }

    /** `image` (at the model size) as the float32 input values. */
    fun toFloat(image: RgbImage, spec: TensorSpec): FloatArray {
        checkSize(image, spec)
        val out = FloatArray(spec.size)
        val convert = !(spec.low == 0.0 && spec.high == 255.0)
        val divisor = (255.0 / (spec.high - spec.low)).toFloat()
        val low = spec.low.toFloat()
        val data = image.data
        for (i in out.indices) {
            val p = (data[i].toInt() and 0xFF).toFloat()
            out[i] = if (convert) p / divisor + low else p
        }
        return out
    }

    /** `image` (at the model size) as the uint8 input values (pixels, or quantized). */
    fun toUint8(image: RgbImage, spec: TensorSpec): ByteArray {
        checkSize(image, spec)
        val q = spec.quantization ?: return image.data.copyOf()
        val x = toFloat(image, spec)
        val scale = q.scale.toFloat()
        val out = ByteArray(x.size)
        for (i in x.indices) {
            val v = Math.rint((x[i] / scale).toDouble()) + q.zeroPoint
            out[i] = (if (v < 0) 0 else if (v > 255) 255 else v.toInt()).toByte()
        }
        return out
    }

    /** Write `image` into `buffer` (rewound) as the model's input tensor. */
    fun writeInput(image: RgbImage, spec: TensorSpec, buffer: ByteBuffer) {
        buffer.rewind()
        if (spec.isFloat) buffer.asFloatBuffer().put(toFloat(image, spec)) else buffer.put(toUint8(image, spec))
        buffer.rewind()
    }

    /** The output pixels from float32 output values. */
    fun fromFloat(values: FloatArray, spec: TensorSpec): RgbImage {
        require(values.size == spec.size) { "expected ${spec.size} output values, got ${values.size}" }
        val out = ByteArray(values.size)
        for (i in values.indices) out[i] = toPixel(values[i].toDouble(), spec).toByte()
        return RgbImage(spec.width, spec.height, out)
    }

    /** The output pixels from uint8 output values (pixels, or quantized). */
    fun fromUint8(values: ByteArray, spec: TensorSpec): RgbImage {
        require(values.size == spec.size) { "expected ${spec.size} output values, got ${values.size}" }
        if (spec.isPixels) return RgbImage(spec.width, spec.height, values.copyOf())
        val out = ByteArray(values.size)
        for (i in values.indices) out[i] = toPixel((values[i].toInt() and 0xFF).toDouble(), spec).toByte()
        return RgbImage(spec.width, spec.height, out)
    }

    /** The output pixels from the model's output `buffer` (rewound first). */
    fun readOutput(buffer: ByteBuffer, spec: TensorSpec): RgbImage {
        buffer.rewind()
        return if (spec.isFloat) {
            val values = FloatArray(spec.size)
            buffer.asFloatBuffer().get(values)
            fromFloat(values, spec)
        } else {
            val values = ByteArray(spec.size)
            buffer.get(values)
            buffer.rewind()
            fromUint8(values, spec)
        }
    }

    private fun toPixel(raw: Double, spec: TensorSpec): Int {
        var y = raw
        val q = spec.quantization
        if (q != null) y = (y - q.zeroPoint) * q.scale
        if (!(spec.low == 0.0 && spec.high == 255.0)) y = (y - spec.low) * (255.0 / (spec.high - spec.low))
        val r = Math.rint(y)
        return if (r.isNaN() || r < 0) 0 else if (r > 255) 255 else r.toInt()
    }
}

/** Conversions between camera/bitmap pixel formats and [RgbImage]. */
object Pixels {
    /** Android `Bitmap` ARGB ints (`0xAARRGGBB`) of `box` as RGB (alpha dropped). */
    fun fromArgb(argb: IntArray, width: Int, height: Int, box: CropBox = CropBox(0, 0, height, width)): RgbImage {
        require(argb.size >= width * height) { "expected ${width * height} pixels, got ${argb.size}" }
        val out = ByteArray(box.width * box.height * 3)
        var o = 0
        for (y in box.top until box.top + box.height) {
            for (x in box.left until box.left + box.width) {
                val p = argb[y * width + x]
                out[o++] = (p shr 16).toByte()
                out[o++] = (p shr 8).toByte()
                out[o++] = p.toByte()
            }
        }
        return RgbImage(box.width, box.height, out)
    }

    /**
     * RGBA_8888 bytes as CameraX's `ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888` delivers them
     * (one plane, `rowStride` bytes per row, 4 bytes per pixel), as RGB, rotated clockwise by
     * `rotationDegrees` (the frame's `imageInfo.rotationDegrees`: 0, 90, 180 or 270) so that
     * the image is upright.
     */
    fun fromRgba(rgba: ByteBuffer, width: Int, height: Int, rowStride: Int, rotationDegrees: Int = 0): RgbImage {
        require(rotationDegrees == 0 || rotationDegrees == 90 || rotationDegrees == 180 || rotationDegrees == 270) {
            "rotation must be 0, 90, 180 or 270 degrees, got $rotationDegrees"
        }
        val row = ByteArray(width * 4)
        val upright = rotationDegrees == 0 || rotationDegrees == 180
        val ow = if (upright) width else height
        val oh = if (upright) height else width
        val out = ByteArray(ow * oh * 3)
        val start = rgba.position()
        for (y in 0 until height) {
            rgba.position(start + y * rowStride)
            rgba.get(row, 0, width * 4)
            for (x in 0 until width) {
                // (x, y) in the sensor frame -> (ox, oy) in the upright image
                val ox: Int
                val oy: Int
                when (rotationDegrees) {
                    90 -> { ox = height - 1 - y; oy = x }
                    180 -> { ox = width - 1 - x; oy = height - 1 - y }
                    270 -> { ox = y; oy = width - 1 - x }
                    else -> { ox = x; oy = y }
                }
                val o = 3 * (oy * ow + ox)
                out[o] = row[4 * x]
                out[o + 1] = row[4 * x + 1]
                out[o + 2] = row[4 * x + 2]
            }
        }
        rgba.position(start)
        return RgbImage(ow, oh, out)
    }

    /** `image` as opaque ARGB ints (for `Bitmap.setPixels` / `createBitmap`). */
    fun toArgb(image: RgbImage): IntArray {
        val d = image.data
        val out = IntArray(image.width * image.height)
        for (i in out.indices) {
            out[i] = (0xFF shl 24) or ((d[3 * i].toInt() and 0xFF) shl 16) or
                ((d[3 * i + 1].toInt() and 0xFF) shl 8) or (d[3 * i + 2].toInt() and 0xFF)
        }
        return out
    }
}
