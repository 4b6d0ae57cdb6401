package org.kerasi2i.core

/** A `model.json` the app cannot use; the message says what is wrong and what to do. */
class ModelJsonException(message: String) : RuntimeException(message)

/** `real = scale * (q - zeroPoint)`: the quantization of an input or output tensor. */
class Quantization(val scale: Double, val zeroPoint: Int)

/**
 * An input or output tensor as `model.json` describes it (see `keras_i2i/runtime/metadata.py`).
 *
 * @property shape `[1, height, width, 3]` (NHWC RGB, batch 1).
 * @property dtype `"uint8"` or `"float32"`: the two tensor types the app feeds and reads.
 * @property low the real value of pixel 0 (`-1` for float I/O, `0` for pixel I/O).
 * @property high the real value of pixel 255.
 * @property quantization set when a uint8 tensor is quantized, else null.
 */
class TensorSpec(
    val name: String,
    val shape: IntArray,
    val dtype: String,
    val low: Double,
    val high: Double,
    val quantization: Quantization?
) {
    val height: Int get() = shape[1]
    val width: Int get() = shape[2]
    val isFloat: Boolean get() = dtype == "float32"

    /** True when the tensor holds the pixel values themselves (no conversion at all). */
    val isPixels: Boolean get() = dtype == "uint8" && quantization == null && low == 0.0 && high == 255.0

    /** Number of values in the tensor (`1 * height * width * 3`). */
    val size: Int get() = height * width * 3
}

/**
 * One exported file: an entry of the `models` list of `model.json`.
 *
 * @property file the model file name, next to `model.json` (in the app: in the assets).
 * @property direction the direction's name (`a2b`, `noto2fluent`, `to_fluent` ...).
 * @property mode the quantization mode (`fp32`, `int8` ...), or null when not recorded.
 */
class ModelEntry(
    val file: String,
    val direction: String,
    val sourceDomain: String?,
    val targetDomain: String?,
    val conditions: Map<String, Any?>,
    val mode: String?,
    val format: String?,
    val input: TensorSpec,
    val output: TensorSpec
) {
    /** What the direction picker shows: `a2b (a -> b, int8)`. */
    val label: String
        get() {
            val domains = if (sourceDomain != null && targetDomain != null) "$sourceDomain -> $targetDomain" else null
            val parts = listOf(domains, mode).filterNotNull()
            return if (parts.isEmpty()) direction else "$direction (${parts.joinToString(", ")})"
        }
}

/** Reads `model.json` (schema `keras_i2i.export/1`) and checks what the app needs of it. */
object ModelJson {
    const val SCHEMA = "keras_i2i.export/1"
    const val FILE_NAME = "model.json"
    /** The tensor types the app feeds and reads (LiteRT `UINT8` and `FLOAT32`). */
    val SUPPORTED_DTYPES = listOf("uint8", "float32")
    private const val REEXPORT = "re-export it with `keras-i2i export --run RUN_DIR --android DIR`"

    /** The `.tflite` entries of a `model.json` text, in file order. */
    fun parse(text: String): List<ModelEntry> {
        val root = try {
            Json.parse(text)
        } catch (err: JsonException) {
            throw ModelJsonException("$FILE_NAME is not valid JSON (${err.message}); $REEXPORT.")
        }
        val models = (root as? Map<*, *>)?.get("models") as? List<*>
            ?: throw ModelJsonException("$FILE_NAME has no 'models' list, so it was not written by keras-i2i; $REEXPORT.")
        val entries = models.filterIsInstance<Map<*, *>>()
            .filter { (it["format"] ?: "tflite") == "tflite" && (it["file"] as? String)?.endsWith(".tflite") == true }
            .map { entry(it) }
        if (entries.isEmpty()) {
            throw ModelJsonException("$FILE_NAME lists no .tflite file; $REEXPORT.")
        }
        return entries
    }

    /** The directions in the order `model.json` first names them. */
    fun directions(entries: List<ModelEntry>): List<String> = entries.map { it.direction }.distinct()

    private fun entry(map: Map<*, *>): ModelEntry {
        val file = map["file"] as String
        val direction = map["direction"] as? String ?: file.substringBefore('.')
        val quant = map["quantization"] as? Map<*, *>
        @Suppress("UNCHECKED_CAST")
        val conditions = (map["conditions"] as? Map<String, Any?>) ?: emptyMap()
        return ModelEntry(
            file, direction, map["source_domain"] as? String, map["target_domain"] as? String, conditions,
            quant?.get("mode") as? String, map["format"] as? String,
            tensor(map, "input", file), tensor(map, "output", file)
        )
    }

    private fun tensor(entry: Map<*, *>, key: String, file: String): TensorSpec {
        fun bad(what: String) = ModelJsonException("$FILE_NAME: the '$key' of $file $what; $REEXPORT.")
        val block = entry[key] as? Map<*, *> ?: throw bad("is missing")
        val shapeList = block["shape"] as? List<*>
        val shape = shapeList?.map { (it as? Double)?.takeIf { d -> d == Math.floor(d) && d > 0 }?.toInt() ?: -1 }
        if (shape == null || shape.size != 4 || shape.any { it < 1 } || shape[0] != 1 || shape[3] != 3) {
            throw bad("has shape $shapeList, not [1, H, W, 3] (the app runs batch-1 NHWC RGB models of rank 4)")
        }
        val layout = block["layout"] as? String ?: "NHWC"
        if (layout != "NHWC") throw bad("has layout $layout; only NHWC is supported")
        val dtype = block["dtype"] as? String
        if (dtype !in SUPPORTED_DTYPES) {
            throw bad("has dtype $dtype; the app supports ${SUPPORTED_DTYPES.joinToString(" and ")}")
        }
        val range = (block["range"] as? List<*>)?.map { it as? Double }
        if (range == null || range.size != 2 || range[0] == null || range[1] == null || !(range[1]!! > range[0]!!)) {
            throw bad("has range ${block["range"]}, not [low, high]")
        }
        val q = block["quantization"] as? Map<*, *>
        var quantization: Quantization? = null
        if (q != null && q.isNotEmpty()) {
            val scale = q["scale"] as? Double
            val zero = q["zero_point"] as? Double
            if (scale == null || !(scale > 0) || zero == null) throw bad("has quantization $q, not {scale > 0, zero_point}")
            quantization = Quantization(scale, zero.toInt())
        } else if (dtype == "uint8" && !(range[0] == 0.0 && range[1] == 255.0)) {
            throw bad("is uint8 with range $range but no quantization parameters")
        }
        return TensorSpec(block["name"] as? String ?: key, shape.toIntArray(), dtype!!, range[0]!!, range[1]!!, quantization)
    }
}
