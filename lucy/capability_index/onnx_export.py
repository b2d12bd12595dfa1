"""ONNX exports of a sentence-transformers model, made locally at first use and cached.

The export is sentence-transformers' own (``backend="onnx"`` through optimum), run from the
model's local files: nothing is downloaded. It lands in ``<cache>/<digest of the source's files>/``
as a whole sentence-transformers folder (tokenizer, pooling, ``onnx/model.onnx``), written to
a temporary folder and renamed into place, under a file lock, so two processes starting at
once export it once and neither sees half a folder. The int8 variant is ORT's dynamic
quantisation of that export, for the instruction set this CPU has.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

from lucy.settings import Backend

FP32_FILE = "onnx/model.onnx"
Loader = Callable[[str, str | None], Any]
"""``load(path, file_name)``: a sentence-transformers model on the ONNX backend (a None file
name exports the model first)."""


def int8_config() -> str:
    """ORT's quantisation preset for this CPU: VNNI where it has it, else AVX2's (whose
    reduced range avoids the saturation of 8-bit products without VNNI)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    return "avx512_vnni" if "avx512_vnni" in flags else "avx2"


def int8_file(config: str) -> str:
    return f"onnx/model_{'qint8' if config == 'avx512_vnni' else 'quint8'}_{config}.onnx"


def export_dir(source: str, cache: Path) -> Path:
    """The export's folder: named by the source and, for a local model, every file's path,
    size and modification time, so new weights at the same path get a new export."""
    digest = hashlib.sha256(source.encode())
    folder = Path(source)
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(
                f"\0{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
    return cache / digest.hexdigest()[:16]


def ensure_export(source: str, cache: Path, backend: Backend, load: Loader) -> tuple[Path, str]:
    """The folder and ONNX file name for ``backend`` (``onnx`` or ``onnx-int8``), exporting
    (and quantising) ``source`` first if the cache lacks it."""
    target = export_dir(source, cache)
    cache.mkdir(parents=True, exist_ok=True)
    file_name = FP32_FILE if backend == "onnx" else int8_file(int8_config())
    if (target / file_name).is_file():
        return target, file_name
    with FileLock(str(target) + ".lock"):
        if not (target / FP32_FILE).is_file():
            _export_fp32(source, target, load)
        if not (target / file_name).is_file():
            _quantise(target, file_name, load)
    return target, file_name


def _export_fp32(source: str, target: Path, load: Loader) -> None:
    with warnings.catch_warnings():  # the exporters' deprecation notices: nothing to act on
        warnings.simplefilter("ignore")
        model = load(source, None)  # no ONNX file in the source: sentence-transformers exports
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        model.save(str(tmp))
        if target.exists():
            shutil.rmtree(target)  # an export without its model file: start again
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _drop_scratch(model)


def _drop_scratch(model: Any) -> None:
    """optimum exports into a TemporaryDirectory it keeps on the model; remove it now rather
    than (with a ResourceWarning) whenever the model is collected."""
    for module in model:
        scratch = getattr(
            getattr(module, "auto_model", None), "_model_save_dir_tempdirectory_instance", None
        )
        if isinstance(scratch, tempfile.TemporaryDirectory):
            scratch.cleanup()


def _quantise(target: Path, file_name: str, load: Loader) -> None:
    from sentence_transformers import export_dynamic_quantized_onnx_model

    model = load(str(target), FP32_FILE)
    tmp = Path(tempfile.mkdtemp(prefix=".quantise-", dir=target.parent))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_dynamic_quantized_onnx_model(model, int8_config(), str(tmp))
        (tmp / file_name).rename(target / file_name)  # whole, or not there at all
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
