"""What an export did: :class:`ExportReport` (also written to ``export_report.json``) and
the parity table ``keras-i2i export`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExportReport:
    """The outcome of :func:`~keras_i2i.export.export_run`, also written to ``export_report.json``.

    ``results`` has one dict per file: ``file``, ``direction``, ``source_domain``,
    ``target_domain``, ``format``, ``runtime``, ``mode``, ``io``, ``status`` (``ok``,
    ``rejected`` or ``error``), ``min_psnr_db``, ``parity`` (``psnr_db``,
    ``max_abs_error``, ``mean_abs_error``, ``images``, ``source``, ``runtime``), ``checks``
    (op counts, problems), ``calibration``, ``path``, ``reason``, ``seconds``, ``macs``
    (multiply-accumulates per image, :mod:`keras_i2i.macs`).
    """

    run_dir: str
    out_dir: str
    checkpoint: str
    size: int
    created: str
    results: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r["status"] == "ok" for r in self.results)

    @property
    def written(self) -> list[str]:
        return [r["path"] for r in self.results if r["status"] == "ok"]

    def result(self, file: str) -> dict:
        return next(r for r in self.results if r["file"] == file)

    def to_json(self) -> dict:
        from keras_i2i import __version__

        return {
            "created": self.created, "keras_i2i_version": __version__, "run_dir": self.run_dir,
            "out_dir": self.out_dir, "source_checkpoint": self.checkpoint, "size": self.size,
            "ok": self.ok, "results": self.results,
        }

    def table(self) -> str:
        return format_table(self.results)


def format_table(rows: list[dict]) -> str:
    """The parity table printed by ``keras-i2i export``: one line per file."""
    header = ("file", "runtime", "io", "GMAC", "PSNR dB", "max err", "min dB", "status")
    lines = [header]
    for r in rows:
        parity = r.get("parity") or {}
        lines.append((
            r["file"], r["runtime"], r["io"], f"{r['macs'] / 1e9:.3f}" if r.get("macs") is not None else "-",
            f"{parity['psnr_db']:.2f}" if "psnr_db" in parity else "-",
            f"{parity['max_abs_error']:.0f}" if "max_abs_error" in parity else "-",
            f"{r['min_psnr_db']:.1f}" if r.get("min_psnr_db") is not None else "-",
            r["status"],
        ))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    right = {3, 4, 5, 6}
    return "\n".join(
        "  ".join(str(v).rjust(w) if i in right else str(v).ljust(w) for i, (v, w) in enumerate(zip(line, widths))).rstrip()
        for line in lines
    )
