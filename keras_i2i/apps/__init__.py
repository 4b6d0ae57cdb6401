"""Applications on top of :mod:`keras_i2i.runtime`: the live webcam runner
(:mod:`keras_i2i.apps.webcam`, ``keras-i2i webcam``)."""
