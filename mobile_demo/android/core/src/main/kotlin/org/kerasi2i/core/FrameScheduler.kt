package org.kerasi2i.core

import java.util.concurrent.TimeUnit
import java.util.concurrent.locks.ReentrantLock

/**
 * A one-frame mailbox between the camera and the inference thread: [offer] replaces a frame
 * the model has not taken yet (counted in [dropped]), [take] waits for the newest one. The
 * model always works on the latest frame and never falls behind the camera, as the desktop
 * webcam's `_Newest` mailbox. While [paused], frames are neither delivered nor counted as
 * dropped.
 */
class FrameScheduler<T> {
    private val lock = ReentrantLock()
    private val ready = lock.newCondition()
    private var item: T? = null
    private var closed = false

    /** Frames offered, and those replaced before the model took them. */
    @Volatile var offered: Long = 0
        private set
    @Volatile var dropped: Long = 0
        private set
    @Volatile var paused: Boolean = false

    /** Put the newest frame; returns the frame it replaced (to recycle), or null. */
    fun offer(frame: T): T? {
        lock.lock()
        try {
            if (closed) return frame
            val previous = item
            item = frame
            offered++
            if (previous != null && !paused) dropped++
            ready.signalAll()
            return previous
        } finally {
            lock.unlock()
        }
    }

    /**
     * The newest frame, waiting up to `timeoutMs` for one; null on timeout, while paused, or
     * once [close]d.
     */
    fun take(timeoutMs: Long): T? {
        lock.lock()
        try {
            var nanos = TimeUnit.MILLISECONDS.toNanos(timeoutMs)
            while ((item == null || paused) && !closed) {
                if (nanos <= 0) return null
                nanos = ready.awaitNanos(nanos)
            }
            if (closed) return null
            val frame = item
            item = null
            return frame
        } finally {
            lock.unlock()
        }
    }

    /** Wake the waiting thread for good; later offers are refused (returned to the caller). */
    fun close() {
        lock.lock()
        try {
            closed = true
            item = null
            ready.signalAll()
        } finally {
            lock.unlock()
        }
    }

    fun resume() {
        lock.lock()
        try {
            paused = false
            ready.signalAll()
        } finally {
            lock.unlock()
        }
    }
}

/**
 * End-to-end FPS and model latency over the last `window` frames, for the overlay (the
 * desktop webcam's `_Rolling`): FPS from the first to the last shown frame, latency as the
 * median model time.
 */
class RollingStats(private val window: Int = 30) {
    init {
        require(window >= 2) { "window must be at least 2 frames, got $window" }
    }

    private val times = LongArray(window)
    private val modelNanos = LongArray(window)
    private val totalNanos = LongArray(window)
    private var count = 0
    private var next = 0

    /** Frames recorded since the start. */
    var frames: Long = 0
        private set

    /** Record a shown frame: when it was shown, the model's time and the whole frame's time (ns). */
    @Synchronized
    fun add(nowNanos: Long, modelTimeNanos: Long, frameTimeNanos: Long = modelTimeNanos) {
        times[next] = nowNanos
        modelNanos[next] = modelTimeNanos
        totalNanos[next] = frameTimeNanos
        next = (next + 1) % window
        if (count < window) count++
        frames++
    }

    /** Shown frames per second over the window (0 until two frames were shown). */
    @Synchronized
    fun fps(): Double {
        if (count < 2) return 0.0
        val newest = times[(next - 1 + window) % window]
        val oldest = times[(next - count + window) % window]
        return if (newest > oldest) (count - 1) * 1e9 / (newest - oldest) else 0.0
    }

    /** Median model time in milliseconds (0 before the first frame). */
    @Synchronized
    fun modelMs(): Double = median(modelNanos) / 1e6

    /** Median time from frame to shown pixels (pre + model + post) in milliseconds. */
    @Synchronized
    fun frameMs(): Double = median(totalNanos) / 1e6

    private fun median(values: LongArray): Double {
        if (count == 0) return 0.0
        val sorted = values.copyOfRange(0, count)
        sorted.sort()
        return if (count % 2 == 1) sorted[count / 2].toDouble() else (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0
    }

    /** The overlay's lines: `"  29.8 FPS"`, `"model 21.3 ms (GPU)"`, `"frame 30.1 ms"`, and `"PAUSED"`. */
    @Synchronized
    fun lines(accelerator: String, paused: Boolean): List<String> {
        val out = mutableListOf(
            String.format(java.util.Locale.US, "%5.1f FPS", fps()),
            String.format(java.util.Locale.US, "model %.1f ms (%s)", modelMs(), accelerator),
            String.format(java.util.Locale.US, "frame %.1f ms", frameMs())
        )
        if (paused) out.add("PAUSED")
        return out
    }
}
