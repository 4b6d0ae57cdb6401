package org.kerasi2i.core

import java.nio.ByteBuffer

/**
 * One model's pixel pipeline on camera frames, as `keras_i2i.apps.webcam.FrameTranslator`:
 * [prepare] (center crop to the model's aspect or the whole frame, resize to the model size,
 * preprocess into the input buffer) and [finish] (postprocess the output buffer, resize back
 * to the box). The app only moves buffers between this and LiteRT.
 *
 * @param entry the `model.json` entry of the model file.
 * @param crop true: translate the centered box with the model's aspect ratio (the app's
 *     default, `--resize crop` on the desktop); false: stretch the whole frame.
 */
class FramePipeline(val entry: ModelEntry, val crop: Boolean = true) {
    val input: TensorSpec = entry.input
    val output: TensorSpec = entry.output

    /** The part of a `height` x `width` frame that is translated. */
    fun box(height: Int, width: Int): CropBox =
        if (crop) Imaging.centerCropBox(height, width, input.width.toDouble() / input.height) else CropBox(0, 0, height, width)

    /** The model-size RGB image of `frame`'s box. */
    fun modelImage(frame: RgbImage, box: CropBox = box(frame.height, frame.width)): RgbImage =
        Imaging.resize(Imaging.crop(frame, box), input.width, input.height)

    /** Fill `inputBuffer` (from [Tensors.allocate] of [input]) from `frame`; returns the box used. */
    fun prepare(frame: RgbImage, inputBuffer: ByteBuffer): CropBox {
        val box = box(frame.height, frame.width)
        Tensors.writeInput(modelImage(frame, box), input, inputBuffer)
        return box
    }

    /**
     * The translated pixels from `outputBuffer`: at the model size when `box` is null (the view
     * scales them), else resized back to the box as the desktop runtime does.
     */
    fun finish(outputBuffer: ByteBuffer, box: CropBox? = null): RgbImage {
        val pixels = Tensors.readOutput(outputBuffer, output)
        return if (box == null) pixels else Imaging.resize(pixels, box.width, box.height)
    }
}
