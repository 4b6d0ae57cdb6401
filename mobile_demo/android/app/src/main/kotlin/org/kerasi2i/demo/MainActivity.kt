package org.kerasi2i.demo

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.os.Build
import android.os.Bundle
import android.os.SystemClock
import android.util.Log
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.ImageView
import android.widget.Spinner
import android.widget.TextView
import android.widget.Toast
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import org.kerasi2i.core.FrameScheduler
import org.kerasi2i.core.ModelEntry
import org.kerasi2i.core.ModelJson
import org.kerasi2i.core.ModelJsonException
import org.kerasi2i.core.Pixels
import org.kerasi2i.core.RgbImage
import org.kerasi2i.core.RollingStats
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * The camera stream translated live: CameraX hands the newest RGBA frame to the analyzer
 * (STRATEGY_KEEP_ONLY_LATEST), which makes it an upright RGB image and offers it to a
 * one-frame [FrameScheduler]; the inference thread takes the newest frame, runs the chosen
 * direction's model ([LiteRtTranslator]) and shows the result with the FPS/latency overlay.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var previewView: PreviewView
    private lateinit var translatedView: ImageView
    private lateinit var overlay: TextView
    private lateinit var pauseButton: Button

    private lateinit var entries: List<ModelEntry>
    private val scheduler = FrameScheduler<RgbImage>()
    private val stats = RollingStats()
    private val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private val modelLock = Any()
    @Volatile private var translator: LiteRtTranslator? = null
    @Volatile private var running = true
    @Volatile private var lastBitmap: Bitmap? = null
    private var inferenceThread: Thread? = null
    private var threads = 4

    private val cameraPermission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else overlay.text = getString(R.string.no_camera)
    }
    private val storagePermission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) snapshot()
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        previewView = findViewById(R.id.preview)
        translatedView = findViewById(R.id.translated)
        overlay = findViewById(R.id.overlay)
        pauseButton = findViewById(R.id.pause)

        entries = try {
            ModelJson.parse(assets.open(ModelJson.FILE_NAME).bufferedReader().use { it.readText() })
        } catch (err: java.io.IOException) {
            overlay.text = "No model in the app's assets: run\nkeras-i2i export --run RUN --android " +
                "mobile_demo/android/app/src/main/assets\nand build again."
            return
        } catch (err: ModelJsonException) {
            overlay.text = err.message
            return
        }
        setUpPickers()
        pauseButton.setOnClickListener { togglePause() }
        findViewById<Button>(R.id.snapshot).setOnClickListener { snapshotWithPermission() }

        inferenceThread = Thread({ inferenceLoop() }, "keras-i2i-inference").also { it.start() }
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            cameraPermission.launch(Manifest.permission.CAMERA)
        }
    }

    /** The direction picker lists what model.json declares; the threads picker sets the CPU threads. */
    private fun setUpPickers() {
        val directionSpinner = findViewById<Spinner>(R.id.direction)
        directionSpinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, entries.map { it.label })
        directionSpinner.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) {
                loadModel(entries[position])
            }

            override fun onNothingSelected(parent: AdapterView<*>?) {}
        }
        val choices = listOf(1, 2, 4, 6, 8)
        val threadSpinner = findViewById<Spinner>(R.id.threads)
        threadSpinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, choices.map { "$it threads" })
        threadSpinner.setSelection(choices.indexOf(threads))
        threadSpinner.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) {
                if (choices[position] != threads) {
                    threads = choices[position]
                    translator?.let { loadModel(it.entry) }
                }
            }

            override fun onNothingSelected(parent: AdapterView<*>?) {}
        }
    }

    /** Replace the running model (off the UI thread: GPU compilation takes a moment). */
    private fun loadModel(entry: ModelEntry) {
        val wanted = threads
        analysisExecutor.execute {
            val next = try {
                LiteRtTranslator(this, entry, wanted)
            } catch (err: Exception) {
                Log.e(TAG, "cannot load ${entry.file}", err)
                runOnUiThread { overlay.text = "Cannot load ${entry.file}: ${err.message}" }
                return@execute
            }
            synchronized(modelLock) {
                translator?.close()
                translator = next
            }
        }
    }

    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener(Runnable { bindCamera(future.get()) }, ContextCompat.getMainExecutor(this))
    }

    /** The preview and the newest-frame-only RGBA analysis on the back camera. */
    private fun bindCamera(provider: ProcessCameraProvider) {
        val preview = Preview.Builder().build()
        preview.setSurfaceProvider(previewView.surfaceProvider)
        val analysis = ImageAnalysis.Builder()
            .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
            .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
            .build()
        analysis.setAnalyzer(analysisExecutor, ImageAnalysis.Analyzer { image -> onFrame(image) })
        provider.unbindAll()
        provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
    }

    /** Camera thread: the frame as an upright RGB image into the one-frame mailbox. */
    private fun onFrame(image: ImageProxy) {
        try {
            if (!scheduler.paused) {
                val plane = image.planes[0]
                scheduler.offer(Pixels.fromRgba(plane.buffer, image.width, image.height, plane.rowStride,
                                                image.imageInfo.rotationDegrees))
            }
        } finally {
            image.close()
        }
    }

    /** Inference thread: newest frame -> model -> view, until the activity is destroyed. */
    private fun inferenceLoop() {
        while (running) {
            val frame = scheduler.take(100) ?: continue
            val start = SystemClock.elapsedRealtimeNanos()
            val result = synchronized(modelLock) {
                val current = translator ?: return@synchronized null
                try {
                    Triple(current.translate(frame), current.accelerator, current.entry)
                } catch (err: Exception) {
                    Log.e(TAG, "inference failed", err)
                    null
                }
            } ?: continue
            val (output, accelerator, _) = result
            val (pixels, modelNanos) = output
            val bitmap = Bitmap.createBitmap(Pixels.toArgb(pixels), pixels.width, pixels.height, Bitmap.Config.ARGB_8888)
            val now = SystemClock.elapsedRealtimeNanos()
            stats.add(now, modelNanos, now - start)
            val text = (stats.lines(accelerator, false) + "dropped ${scheduler.dropped}").joinToString("\n")
            runOnUiThread {
                lastBitmap = bitmap
                translatedView.setImageBitmap(bitmap)
                overlay.text = text
            }
        }
    }

    private fun togglePause() {
        if (scheduler.paused) {
            scheduler.resume()
            pauseButton.setText(R.string.pause)
        } else {
            scheduler.paused = true
            pauseButton.setText(R.string.resume)
            overlay.text = (stats.lines(translator?.accelerator ?: "-", true)).joinToString("\n")
        }
    }

    private fun snapshotWithPermission() {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.Q &&
            ContextCompat.checkSelfPermission(this, Manifest.permission.WRITE_EXTERNAL_STORAGE) != PackageManager.PERMISSION_GRANTED) {
            storagePermission.launch(Manifest.permission.WRITE_EXTERNAL_STORAGE)
        } else {
            snapshot()
        }
    }

    /** The translated view as shown now, as a PNG in the gallery. */
    private fun snapshot() {
        val bitmap = lastBitmap ?: return
        val direction = translator?.entry?.direction ?: "model"
        analysisExecutor.execute {
            val message = try {
                "Saved ${Snapshots.save(this, bitmap, direction)}"
            } catch (err: Exception) {
                "Snapshot failed: ${err.message}"
            }
            runOnUiThread { Toast.makeText(this, message, Toast.LENGTH_SHORT).show() }
        }
    }

    override fun onDestroy() {
        running = false
        scheduler.close()
        inferenceThread?.join(1000)
        analysisExecutor.shutdown()
        synchronized(modelLock) {
            translator?.close()
            translator = null
        }
        super.onDestroy()
    }

    companion object {
        private const val TAG = "keras-i2i"
    }
}
