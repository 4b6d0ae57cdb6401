package org.kerasi2i.core

/** An RGB image, 8 bits per channel, rows top to bottom, `data[3 * (y * width + x) + c]`. */
class RgbImage(val width: Int, val height: Int, val data: ByteArray) {
    init {
        require(width > 0 && height > 0) { "image size must be positive, got ${width}x$height" }
        require(data.size == width * height * 3) { "expected ${width * height * 3} bytes for ${width}x$height RGB, got ${data.size}" }
    }

    constructor(width: Int, height: Int) : this(width, height, ByteArray(width * height * 3))

    /** The channel `c` of pixel (`x`, `y`), 0..255. */
    fun get(x: Int, y: Int, c: Int): Int = data[3 * (y * width + x) + c].toInt() and 0xFF
}

/** `top`, `left`, `height`, `width` of the part of a frame that is translated. */
class CropBox(val top: Int, val left: Int, val height: Int, val width: Int) {
    override fun equals(other: Any?): Boolean =
        other is CropBox && other.top == top && other.left == left && other.height == height && other.width == width

    override fun hashCode(): Int = ((top * 31 + left) * 31 + height) * 31 + width

    override fun toString(): String = "CropBox(top=$top, left=$left, height=$height, width=$width)"
}

/**
 * Crop and resize exactly as `keras_i2i.runtime.imaging` does with OpenCV, so a camera frame
 * becomes the same model input on the phone as in `keras-i2i webcam`.
 *
 * [resize] is `cv2.resize` with `INTER_AREA` along the axes that shrink and `INTER_CUBIC`
 * along those that grow (one pass each when they differ), reimplemented from OpenCV's
 * `resize.cpp`: the integer-scale area path (2x2 `(sum + 2) >> 2`, other factors
 * `round(sum * (1f / area))`), the general area path (float weights, accumulated in the same
 * order) and the fixed-point bicubic path (11-bit weights, `A = -0.75`).
 */
object Imaging {
    /**
     * The largest centered box of a `height` x `width` frame with `width / height == aspect`
     * (to the pixel), as `keras_i2i.runtime.imaging.center_crop_box`.
     */
    fun centerCropBox(height: Int, width: Int, aspect: Double): CropBox {
        val ch: Int
        val cw: Int
        if (width >= height * aspect) {
            ch = height
            cw = Math.max(1, Math.min(width, Math.rint(height * aspect).toInt()))
        } else {
            cw = width
            ch = Math.max(1, Math.min(height, Math.rint(width / aspect).toInt()))
        }
        return CropBox((height - ch) / 2, (width - cw) / 2, ch, cw)
    }

    /** The pixels of `box` of `image`. */
    fun crop(image: RgbImage, box: CropBox): RgbImage {
        if (box.top == 0 && box.left == 0 && box.width == image.width && box.height == image.height) return image
        require(box.top >= 0 && box.left >= 0 && box.top + box.height <= image.height && box.left + box.width <= image.width) {
            "$box is outside the ${image.width}x${image.height} image"
        }
        val out = ByteArray(box.width * box.height * 3)
        for (y in 0 until box.height) {
            System.arraycopy(image.data, 3 * ((box.top + y) * image.width + box.left), out, 3 * y * box.width, 3 * box.width)
        }
        return RgbImage(box.width, box.height, out)
    }

    /** `image` resized to `width` x `height` (the image itself when the size is right). */
    fun resize(image: RgbImage, width: Int, height: Int): RgbImage {
        val w = image.width
        val h = image.height
        if (w == width && h == height) return image
        if (width <= w && height <= h) return resizeArea(image, width, height)
        if (width >= w && height >= h) return resizeCubic(image, width, height)
        // One axis shrinks, the other grows: area-average the first, then cubic on the second.
        val shrunk = if (width < w) resizeArea(image, width, h) else resizeArea(image, w, height)
        return resizeCubic(shrunk, width, height)
    }

    // ------------------------------------------------------------------------ INTER_AREA
    /** `cv2.resize(..., INTER_AREA)` of a 3-channel uint8 image to a size no larger. */
    fun resizeArea(src: RgbImage, dw: Int, dh: Int): RgbImage {
        val sw = src.width
        val sh = src.height
        if (sw == dw && sh == dh) return src
        val scaleX = 1.0 / (dw.toDouble() / sw)
        val scaleY = 1.0 / (dh.toDouble() / sh)
        val iscaleX = Math.rint(scaleX).toInt()
        val iscaleY = Math.rint(scaleY).toInt()
        val fast = Math.abs(scaleX - iscaleX) < DBL_EPSILON && Math.abs(scaleY - iscaleY) < DBL_EPSILON
        return if (fast) areaFast(src, dw, dh, iscaleX, iscaleY) else areaGeneral(src, dw, dh, scaleX, scaleY)
    }

    private const val DBL_EPSILON = 2.220446049250313e-16

    private fun areaFast(src: RgbImage, dw: Int, dh: Int, sx: Int, sy: Int): RgbImage {
        val s = src.data
        val out = ByteArray(dw * dh * 3)
        val area = sx * sy
        val scale = 1f / area
        val pairs = sx == 2 && sy == 2
        val sw = src.width
        for (dy in 0 until dh) {
            val y0 = dy * sy
            for (dx in 0 until dw) {
                val x0 = dx * sx
                for (c in 0 until 3) {
                    var sum = 0
                    var count = 0
                    for (yy in y0 until Math.min(y0 + sy, src.height)) {
                        for (xx in x0 until Math.min(x0 + sx, sw)) {
                            sum += s[3 * (yy * sw + xx) + c].toInt() and 0xFF
                            count++
                        }
                    }
                    val v = when {
                        count != area -> roundToByte(sum.toFloat() / count) // OpenCV's edge cells
                        pairs -> (sum + 2) shr 2
                        else -> roundToByte(sum * scale)
                    }
                    out[3 * (dy * dw + dx) + c] = v.toByte()
                }
            }
        }
        return RgbImage(dw, dh, out)
    }

    /** OpenCV's `computeResizeAreaTab`: (source index, destination index, weight) triples. */
    private class AreaTab(val si: IntArray, val di: IntArray, val alpha: FloatArray, val size: Int)

    private fun areaTab(ssize: Int, dsize: Int, scale: Double): AreaTab {
        val si = IntArray(ssize * 2 + 2)
        val di = IntArray(ssize * 2 + 2)
        val alpha = FloatArray(ssize * 2 + 2)
        var k = 0
        for (dx in 0 until dsize) {
            val fsx1 = dx * scale
            val fsx2 = fsx1 + scale
            val cellWidth = Math.min(scale, ssize - fsx1)
            var sx1 = Math.ceil(fsx1).toInt()
            var sx2 = Math.floor(fsx2).toInt()
            sx2 = Math.min(sx2, ssize - 1)
            sx1 = Math.min(sx1, sx2)
            if (sx1 - fsx1 > 1e-3) {
                di[k] = dx; si[k] = sx1 - 1; alpha[k++] = ((sx1 - fsx1) / cellWidth).toFloat()
            }
            for (sx in sx1 until sx2) {
                di[k] = dx; si[k] = sx; alpha[k++] = (1.0 / cellWidth).toFloat()
            }
            if (fsx2 - sx2 > 1e-3) {
                di[k] = dx; si[k] = sx2
                alpha[k++] = (Math.min(Math.min(fsx2 - sx2, 1.0), cellWidth) / cellWidth).toFloat()
            }
        }
        return AreaTab(si, di, alpha, k)
    }

    private fun areaGeneral(src: RgbImage, dw: Int, dh: Int, scaleX: Double, scaleY: Double): RgbImage {
        val xtab = areaTab(src.width, dw, scaleX)
        val ytab = areaTab(src.height, dh, scaleY)
        val s = src.data
        val out = ByteArray(dw * dh * 3)
        val dn = dw * 3
        val buf = FloatArray(dn)
        val sum = FloatArray(dn)
        var prevDy = ytab.di[0]
        for (j in 0 until ytab.size) {
            val beta = ytab.alpha[j]
            val dy = ytab.di[j]
            val rowStart = ytab.si[j] * src.width * 3
            java.util.Arrays.fill(buf, 0f)
            for (k in 0 until xtab.size) {
                val sxn = rowStart + xtab.si[k] * 3
                val dxn = xtab.di[k] * 3
                val a = xtab.alpha[k]
                buf[dxn] = buf[dxn] + (s[sxn].toInt() and 0xFF) * a
                buf[dxn + 1] = buf[dxn + 1] + (s[sxn + 1].toInt() and 0xFF) * a
                buf[dxn + 2] = buf[dxn + 2] + (s[sxn + 2].toInt() and 0xFF) * a
            }
            if (dy != prevDy) {
                val d = prevDy * dn
                for (x in 0 until dn) {
                    out[d + x] = roundToByte(sum[x]).toByte()
                    sum[x] = beta * buf[x]
                }
                prevDy = dy
            } else {
                for (x in 0 until dn) sum[x] = sum[x] + beta * buf[x]
            }
        }
        val d = prevDy * dn
        for (x in 0 until dn) out[d + x] = roundToByte(sum[x]).toByte()
        return RgbImage(dw, dh, out)
    }

    /** `saturate_cast<uchar>(float)`: round half to even, then clamp to 0..255. */
    private fun roundToByte(v: Float): Int {
        val r = Math.rint(v.toDouble())
        return if (r < 0) 0 else if (r > 255) 255 else r.toInt()
    }

    // ------------------------------------------------------------------------ INTER_CUBIC
    private const val COEF_BITS = 11
    private const val COEF_SCALE = 1 shl COEF_BITS
    private const val VSCALE = 1f / (COEF_SCALE * COEF_SCALE)

    /** OpenCV's `interpolateCubic` (A = -0.75) as 11-bit fixed-point weights. */
    private fun cubicWeights(x: Float, out: IntArray, at: Int) {
        val a = -0.75f
        val c0 = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
        val c1 = ((a + 2) * x - (a + 3)) * x * x + 1
        val c2 = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
        val c3 = 1f - c0 - c1 - c2
        out[at] = saturateShort(c0 * COEF_SCALE)
        out[at + 1] = saturateShort(c1 * COEF_SCALE)
        out[at + 2] = saturateShort(c2 * COEF_SCALE)
        out[at + 3] = saturateShort(c3 * COEF_SCALE)
    }

    private fun saturateShort(v: Float): Int {
        val r = Math.rint(v.toDouble())
        return if (r < Short.MIN_VALUE) Short.MIN_VALUE.toInt() else if (r > Short.MAX_VALUE) Short.MAX_VALUE.toInt() else r.toInt()
    }

    /** `cv2.resize(..., INTER_CUBIC)` of a 3-channel uint8 image (fixed-point path). */
    fun resizeCubic(src: RgbImage, dw: Int, dh: Int): RgbImage {
        val sw = src.width
        val sh = src.height
        val scaleX = 1.0 / (dw.toDouble() / sw)
        val scaleY = 1.0 / (dh.toDouble() / sh)
        val xofs = IntArray(dw)
        val alpha = IntArray(dw * 4)
        for (dx in 0 until dw) {
            var fx = ((dx + 0.5) * scaleX - 0.5).toFloat()
            val sx = Math.floor(fx.toDouble()).toInt()
            fx -= sx
            xofs[dx] = sx
            cubicWeights(fx, alpha, dx * 4)
        }
        val yofs = IntArray(dh)
        val beta = IntArray(dh * 4)
        for (dy in 0 until dh) {
            var fy = ((dy + 0.5) * scaleY - 0.5).toFloat()
            val sy = Math.floor(fy.toDouble()).toInt()
            fy -= sy
            yofs[dy] = sy
            cubicWeights(fy, beta, dy * 4)
        }
        // Horizontal pass on each source row (int), clamping columns to the edge (BORDER_REPLICATE).
        val s = src.data
        val rows = Array(sh) { IntArray(dw * 3) }
        for (y in 0 until sh) {
            val row = rows[y]
            val base = y * sw * 3
            for (dx in 0 until dw) {
                for (c in 0 until 3) {
                    var v = 0
                    for (k in 0 until 4) {
                        val x = Math.min(Math.max(xofs[dx] - 1 + k, 0), sw - 1)
                        v += (s[base + 3 * x + c].toInt() and 0xFF) * alpha[dx * 4 + k]
                    }
                    row[dx * 3 + c] = v
                }
            }
        }
        // Vertical pass: the 4 rows around each output row, then (v + 2^21) >> 22, saturated.
        val out = ByteArray(dw * dh * 3)
        val dn = dw * 3
        for (dy in 0 until dh) {
            val r0 = rows[Math.min(Math.max(yofs[dy] - 1, 0), sh - 1)]
            val r1 = rows[Math.min(Math.max(yofs[dy], 0), sh - 1)]
            val r2 = rows[Math.min(Math.max(yofs[dy] + 1, 0), sh - 1)]
            val r3 = rows[Math.min(Math.max(yofs[dy] + 2, 0), sh - 1)]
            val b0 = beta[dy * 4]
            val b1 = beta[dy * 4 + 1]
            val b2 = beta[dy * 4 + 2]
            val b3 = beta[dy * 4 + 3]
            val d = dy * dn
            // OpenCV's SIMD loop (VResizeCubicVec_32s8u, 8 values at a time): float weights
            // beta / 2^22, b0*S0 + (b1*S1 + (b2*S2 + b3*S3)), round half to even, saturate.
            val f0 = b0 * VSCALE
            val f1 = b1 * VSCALE
            val f2 = b2 * VSCALE
            val f3 = b3 * VSCALE
            val simd = (dn / 8) * 8
            for (x in 0 until simd) {
                val t = f0 * r0[x].toFloat() + (f1 * r1[x].toFloat() + (f2 * r2[x].toFloat() + r3[x].toFloat() * f3))
                out[d + x] = roundToByte(t).toByte()
            }
            // Its scalar tail: fixed point, (v + 2^21) >> 22.
            for (x in simd until dn) {
                val v = (r0[x] * b0 + r1[x] * b1 + r2[x] * b2 + r3[x] * b3 + (1 shl (2 * COEF_BITS - 1))) shr (2 * COEF_BITS)
                out[d + x] = (if (v < 0) 0 else if (v > 255) 255 else v).toByte()
            }
        }
        return RgbImage(dw, dh, out)
    }
}
