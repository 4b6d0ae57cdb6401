package org.kerasi2i.demo

import android.content.Context
import android.util.Log
import org.kerasi2i.core.FramePipeline
import org.kerasi2i.core.ModelEntry
import org.kerasi2i.core.RgbImage
import org.kerasi2i.core.Tensors
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import java.io.Closeable
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * One exported model file on LiteRT: GPU delegate first (where the device's compatibility
 * list allows it and the graph compiles), else the CPU with XNNPACK and `threads` threads.
 * All pixel work is [FramePipeline]'s (the `core` module); this class only moves its buffers
 * through the interpreter and times the model.
 */
class LiteRtTranslator(context: Context, val entry: ModelEntry, val threads: Int, preferGpu: Boolean = true) : Closeable {
    private val pipeline = FramePipeline(entry)
    private val input: ByteBuffer = Tensors.allocate(entry.input)
    private val output: ByteBuffer = Tensors.allocate(entry.output)
    private var gpu: GpuDelegate? = null
    private val interpreter: Interpreter

    /** What runs the model: `GPU` or `CPU x4 (XNNPACK)`. */
    val accelerator: String

    init {
        val model = loadAsset(context, entry.file)
        var created: Interpreter? = null
        var name = ""
        if (preferGpu) {
            try {
                CompatibilityList().use { list ->
                    if (list.isDelegateSupportedOnThisDevice) {
                        val delegate = GpuDelegate(list.bestOptionsForThisDevice)
                        try {
                            created = Interpreter(model, Interpreter.Options().addDelegate(delegate).setNumThreads(threads))
                            gpu = delegate
                            name = "GPU"
                        } catch (err: Exception) {
                            delegate.close()
                            throw err
                        }
                    }
                }
            } catch (err: Exception) {
                Log.w(TAG, "GPU delegate unavailable for ${entry.file}, running on the CPU: $err")
            } catch (err: UnsatisfiedLinkError) {
                Log.w(TAG, "GPU delegate library missing, running on the CPU: $err")
            }
        }
        if (created == null) {
            val options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true)
            created = Interpreter(model, options)
            name = "CPU x$threads (XNNPACK)"
        }
        interpreter = created!!
        accelerator = name
        checkTensors()
    }

    /** The interpreter's tensors are those `model.json` describes (else the assets are stale). */
    private fun checkTensors() {
        val inShape = interpreter.getInputTensor(0).shape()
        val outShape = interpreter.getOutputTensor(0).shape()
        check(inShape.contentEquals(entry.input.shape) && outShape.contentEquals(entry.output.shape)) {
            "${entry.file} has input ${inShape.contentToString()} and output ${outShape.contentToString()}, but " +
                "model.json says ${entry.input.shape.contentToString()} and ${entry.output.shape.contentToString()}: " +
                "export again with `keras-i2i export --run RUN --android app/src/main/assets`"
        }
    }

    /** The translated model-size pixels of `frame` and the model's time in nanoseconds. */
    fun translate(frame: RgbImage): Pair<RgbImage, Long> {
        pipeline.prepare(frame, input)
        output.rewind()
        val start = System.nanoTime()
        interpreter.run(input, output)
        val modelNanos = System.nanoTime() - start
        return Pair(pipeline.finish(output), modelNanos)
    }

    override fun close() {
        interpreter.close()
        gpu?.close()
    }

    companion object {
        private const val TAG = "keras-i2i"

        private fun loadAsset(context: Context, name: String): ByteBuffer {
            val bytes = context.assets.open(name).use { it.readBytes() }
            return ByteBuffer.allocateDirect(bytes.size).order(ByteOrder.nativeOrder()).put(bytes).also { it.rewind() }
        }
    }
}
