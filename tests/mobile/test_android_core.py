"""The Android app's Kotlin core (``mobile_demo/android/core``), compiled with Debian's
kotlinc and run with JUnit 4 on the golden vectors that :mod:`keras_i2i.runtime` writes
here: same input tensors and output pixels byte for byte."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.mobile.android_golden import write_golden

SCRIPT = Path(__file__).resolve().parents[2] / "mobile_demo" / "android" / "core" / "run_tests.sh"


def test_kotlin_core_matches_the_runtime(tmp_path):
    manifest = write_golden(tmp_path / "golden")
    assert len(manifest["cases"]) >= 20
    result = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "golden")], capture_output=True, text=True,
                            env={**os.environ, "PYTHON": sys.executable}, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    count = re.search(r"OK \((\d+) tests\)", output)
    assert count and int(count.group(1)) >= 19, output[-4000:]
