"""Radiomics engine vs PyRadiomics with matched settings: CPU, wall time, peak memory.

    .venv/bin/python benchmarks/radiomics.py            # everything (~ a few minutes)
    BENCH_BATCH=0 .venv/bin/python benchmarks/radiomics.py     # skip the 20-case batch
    BENCH_REPEATS=1 BENCH_PROFILE=0 ...                          # quicker

Cases: (a) a seeded synthetic CT, 512 x 512 x 120 voxels at 0.8 x 0.8 x 2.5 mm (int16 HU: air,
an elliptic body of soft tissue with fat and a bone ring, a textured ~40 mm lesion with a lumpy
border as the mask); (b) the IBSI validation patient STS_001 CT + mask NIfTI (shared/data).

Matched settings (both engines): native grid (no resampling), re-segmentation range
[-1000, 400] HU, fixed bin width 25 HU, distance 1, 3D. Five rows per case:

- ours-matched vs pyradiomics-matched: the SAME feature set on both sides. The engine computes
  exactly the 104 features that imaging.radiomics.pyradiomics_map pairs with a same-definition
  PyRadiomics feature (RadiomicsSettings.features: shape, first order, histogram entropy and
  uniformity, GLCM and GLRLM 3D averaged, GLSZM, NGTDM, NGLDM 3D); PyRadiomics computes only
  those 102 features (enabledFeatures; two engine features each map onto one PyRadiomics
  feature). The engine skips what these features do not need, e.g. Moran's I / Geary's C.
- ours vs pyradiomics: the same families. PyRadiomics: every feature of firstorder, shape,
  glcm, glrlm, glszm, gldm (gldm_a = 0) and ngtdm; the engine: families morph, stat, ih, cm,
  rlm, szm, ngt, ngl with its 3D aggregations, every feature (adds IBSI features PyRadiomics
  lacks, among them Moran's I and Geary's C, and the 3D-merged GLCM/GLRLM).
- ours-all vs pyradiomics: the engine with all eleven IBSI families (adds local intensity,
  IVH, GLDZM).

Every extraction runs in a fresh subprocess (`--worker`): the case is built or loaded first,
then one extraction is timed with time.process_time (CPU) and time.perf_counter (wall). Peak
memory is the process's peak resident set (VmHWM from /proc/self/status), which counts the
numpy and C allocations that tracemalloc misses; it is reset (/proc/self/clear_refs) once the
case is loaded, so it is the peak *during extraction*, still including the interpreter, the
imports and the loaded image, whose resident set before extraction is printed beside it. The
parent's resource.getrusage(RUSAGE_CHILDREN).ru_maxrss (largest child, loading included) is
printed as a cross-check.

Each row is the best of BENCH_REPEATS (3) runs for CPU and wall, the worst for memory.
Goals (issue 4): >= 10x faster than PyRadiomics (CPU and wall), <= 300 MB peak. Ratios against
the goals print >= 1.00x when met. The batch runs 20 synthetic cases (seeds 1..20) over a
2-process pool and reports total CPU time / wall time (2.0 = both cores busy).
`BENCH_PROFILE=1` (default) adds the cProfile top functions of one ours-matched and one ours
extraction per case and the CPU time of each family.
"""

from __future__ import annotations

import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# This file is named like PyRadiomics' package: keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

SHARED = Path(os.environ.get("ONCO_SHARED_DATA", ROOT.parent / "shared" / "data"))
STS_001 = SHARED / "ibsi_validation_sts_001" / "nifti" / "STS_001"
RESEGMENTATION = (-1000.0, 400.0)
BIN_WIDTH = 25.0
FAMILIES_MATCHED = ("morph", "stat", "ih", "cm", "rlm", "szm", "ngt", "ngl")
SPEED_GOAL = 10.0
MEMORY_GOAL_MB = 300.0
BATCH = int(os.environ.get("BENCH_BATCH", "20"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
PROFILE = os.environ.get("BENCH_PROFILE", "1") == "1"
# Rows, and the PyRadiomics row each engine row is compared with:
# - ours-matched / pyradiomics-matched: exactly the same features on both sides, the 104 engine
#   features that imaging.radiomics.pyradiomics_map maps to a same-definition PyRadiomics feature
#   (settings.features), and those PyRadiomics features only (enabledFeatures; 102 names: two
#   engine features each map onto one PyRadiomics feature, e.g. dissimilarity and difference
#   average);
# - ours: the same families as pyradiomics (all their features, 3D aggregations; adds Moran's I,
#   Geary's C and the other IBSI features PyRadiomics lacks);
# - ours-all: all eleven IBSI families, against the same pyradiomics row;
# - pyradiomics: every feature of firstorder, shape, glcm, glrlm, glszm, gldm and ngtdm.
ENGINES = ("ours-matched", "pyradiomics-matched", "ours", "ours-all", "pyradiomics")
REFERENCE = {
    "ours-matched": "pyradiomics-matched",
    "ours": "pyradiomics",
    "ours-all": "pyradiomics",
}


# --- cases -------------------------------------------------------------------------------


def synthetic_ct(seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """A 120 x 512 x 512 (z, y, x) int16 CT at (2.5, 0.8, 0.8) mm and a ~40 mm lesion mask."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    shape, spacing = (120, 512, 512), (2.5, 0.8, 0.8)
    y, x = np.ogrid[: shape[1], : shape[2]]
    cy, cx = (y - 256) * spacing[1], (x - 256) * spacing[2]
    body = (cy / 150.0) ** 2 + (cx / 190.0) ** 2 <= 1.0
    fat = body & ((cy / 140.0) ** 2 + (cx / 180.0) ** 2 > 1.0)
    bone = ((cy / 60.0) ** 2 + (cx / 60.0) ** 2 <= 1.0) & ((cy / 50.0) ** 2 + (cx / 50.0) ** 2 > 1)
    plane = np.full(shape[1:], -1000, dtype=np.int16)
    plane[body], plane[fat], plane[bone] = 40, -100, 700
    ct = np.repeat(plane[None], shape[0], axis=0)
    for z in range(shape[0]):  # slice by slice: a float64 noise volume alone would be 250 MB
        ct[z] += rng.normal(0.0, 12.0, size=shape[1:]).astype(np.int16)

    # Lesion: ~40 mm across, centred off the bone, lumpy border, textured interior.
    centre = np.array([60, 256 + 100, 256 - 60]) + rng.integers(-5, 6, size=3)
    half = np.ceil(26.0 / np.array(spacing)).astype(int)
    box = tuple(slice(c - h, c + h + 1) for c, h in zip(centre, half, strict=True))
    axes = (np.arange(-h, h + 1) * s for h, s in zip(half, spacing, strict=True))
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    radius = np.sqrt(zz**2 + yy**2 + xx**2) / 20.0
    lumps = ndimage.gaussian_filter(rng.normal(size=radius.shape), sigma=(1.5, 5, 5))
    mask_box = radius + 2.5 * lumps < 1.0
    texture = ndimage.gaussian_filter(rng.normal(size=radius.shape), sigma=(0.6, 2, 2))
    lesion = 60.0 + 400.0 * texture + rng.normal(0.0, 15.0, size=radius.shape)
    region = ct[box]
    region[mask_box] = np.clip(lesion[mask_box], -200, 300).astype(np.int16)
    mask = np.zeros(shape, dtype=np.uint8)
    mask[box] = mask_box
    return ct, mask, spacing


def load_case(case: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    if case.startswith("synthetic"):
        seed = int(case.partition(":")[2] or 0)
        return synthetic_ct(seed)
    import nibabel as nib

    image: Any = nib.load(str(STS_001 / "CT_image.nii.gz"))
    mask: Any = nib.load(str(STS_001 / "CT_mask.nii.gz"))
    zooms = image.header.get_zooms()[:3]
    return (
        np.ascontiguousarray(np.asarray(image.dataobj).transpose(2, 1, 0)),
        np.ascontiguousarray((np.asarray(mask.dataobj) > 0).transpose(2, 1, 0).astype(np.uint8)),
        (float(zooms[2]), float(zooms[1]), float(zooms[0])),
    )


# --- extraction --------------------------------------------------------------------------


def engine_settings(engine: str) -> Any:
    """The engine's settings for row ``engine`` (ours-matched, ours or ours-all)."""
    from imaging.radiomics import Discretisation, RadiomicsSettings
    from imaging.radiomics.pyradiomics_map import FEATURES as MATCHED

    return RadiomicsSettings(
        name="benchmark",
        resegmentation_range=RESEGMENTATION,
        texture_discretisation=Discretisation("fbs", bin_width=BIN_WIDTH),
        ivh_discretisation=Discretisation("fbs", bin_width=2.5),
        families=FAMILIES_MATCHED if engine == "ours" else (),
        aggregations=("3d_averaged", "3d_merged", "3d"),
        features=tuple(MATCHED) if engine == "ours-matched" else (),
    )


def pyradiomics_matched() -> dict[str, list[str]]:
    """PyRadiomics' enabledFeatures for the matched row: class -> feature names."""
    from imaging.radiomics.pyradiomics_map import FEATURES as MATCHED

    enabled: dict[str, list[str]] = {}
    for name in dict.fromkeys(MATCHED.values()):
        family, _, feature = name.partition("_")
        enabled.setdefault(family, []).append(feature)
    return enabled


def prepare_engine(engine: str, ct: np.ndarray, mask: np.ndarray, spacing: tuple) -> Any:
    """Everything an extraction needs, built before the clock starts; returns a callable."""
    if engine.startswith("ours"):
        from imaging.radiomics import Image, extract_features

        settings = engine_settings(engine)
        image = Image(ct, spacing)
        return lambda: len(extract_features(image, mask, settings))

    import logging

    import SimpleITK as sitk
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    sitk_image = sitk.GetImageFromArray(ct)
    sitk_image.SetSpacing(tuple(reversed(spacing)))
    label = sitk.GetImageFromArray(mask)
    label.CopyInformation(sitk_image)
    extractor = featureextractor.RadiomicsFeatureExtractor(
        resegmentRange=list(RESEGMENTATION), binWidth=BIN_WIDTH, distances=[1], gldm_a=0
    )
    extractor.disableAllFeatures()
    if engine == "pyradiomics-matched":
        extractor.enableFeaturesByName(**pyradiomics_matched())
    else:
        for family in ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm"):
            extractor.enableFeatureClassByName(family)
    return lambda: sum(k.startswith("original_") for k in extractor.execute(sitk_image, label))


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak covers the extraction only."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        print("cannot reset VmHWM: peak includes loading the case", file=sys.stderr)


def worker(engine: str, case: str, profile: bool) -> dict[str, Any]:
    ct, mask, spacing = load_case(case)
    run = prepare_engine(engine, ct, mask, spacing)
    rss_before = _status_mb("VmRSS")
    load_peak = _status_mb("VmHWM")
    reset_peak()
    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    n = run()
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    out: dict[str, Any] = {
        "engine": engine,
        "case": case,
        "features": n,
        "cpu_s": cpu,
        "wall_s": wall,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _status_mb("VmHWM"),
        "load_peak_rss_mb": load_peak,
        "roi_voxels": int(np.count_nonzero(mask)),
    }
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
        out["profile"] = text.getvalue() + family_breakdown(engine, ct, mask, spacing)
    return out


def family_breakdown(engine: str, ct: np.ndarray, mask: np.ndarray, spacing: tuple) -> str:
    """CPU seconds of the preparation (crop, re-segmentation) and of each family, run again."""
    from imaging.radiomics import FAMILIES, Image
    from imaging.radiomics.context import prepare
    from imaging.radiomics.selection import families_for

    settings = engine_settings(engine)
    lines = [f"CPU seconds by step, {engine} (second run, no profiler):"]
    cpu = time.process_time()
    ctx = prepare(Image(ct, spacing), np.asarray(mask) > 0, settings)
    _ = ctx.levels
    lines.append(f"  {'prepare + discretise':22s} {time.process_time() - cpu:6.3f}")
    families = families_for(settings.features) if settings.features else FAMILIES_MATCHED
    for key in FAMILIES if engine == "ours-all" else families:
        cpu = time.process_time()
        FAMILIES[key].compute(ctx)
        lines.append(f"  {key:22s} {time.process_time() - cpu:6.3f}")
    return "\n".join(lines) + "\n"


def in_subprocess(engine: str, case: str, profile: bool = False) -> dict[str, Any]:
    args = [sys.executable, __file__, "--worker", engine, case] + (["--profile"] if profile else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{engine} on {case} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss of children is the largest child so far (KiB): a cross-check, not a per-run value.
    result["children_maxrss_mb"] = after.ru_maxrss / 1024.0
    result["process_cpu_s"] = (after.ru_utime + after.ru_stime) - (
        before.ru_utime + before.ru_stime
    )
    return result


# --- batch -------------------------------------------------------------------------------


def _batch_task(seed: int) -> tuple[float, float, int]:
    from imaging.radiomics import Discretisation, Image, RadiomicsSettings, extract_features

    ct, mask, spacing = synthetic_ct(seed)
    settings = RadiomicsSettings(
        name="benchmark",
        resegmentation_range=RESEGMENTATION,
        texture_discretisation=Discretisation("fbs", bin_width=BIN_WIDTH),
        families=FAMILIES_MATCHED,
        aggregations=("3d_averaged", "3d_merged", "3d"),
    )
    cpu, wall = time.process_time(), time.perf_counter()
    extract_features(Image(ct, spacing), mask, settings)
    return time.process_time() - cpu, time.perf_counter() - wall, os.getpid()


def batch(n: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    with ctx.Pool(2) as pool:
        results = pool.map(_batch_task, range(1, n + 1), chunksize=1)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "cases": n,
        "wall_s": wall,
        "cpu_s": cpu,
        "extraction_cpu_s": sum(r[0] for r in results),
        "extraction_wall_s": sum(r[1] for r in results),
        "processes": len({r[2] for r in results}),
        "load": (load, os.getloadavg()[0]),
    }


# --- report ------------------------------------------------------------------------------


def main() -> None:
    print(f"# radiomics benchmark  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load avg {os.getloadavg()[0]:.2f}; best of {REPEATS} runs per row")  # fmt: skip
    try:
        import radiomics

        print(f"# PyRadiomics {radiomics.__version__} (pyradiomics-bhklab)")
    except ImportError:
        sys.exit("PyRadiomics (pyradiomics-bhklab, test-only dependency) is not installed")
    cases = ["synthetic:0"] + (["sts_001"] if STS_001.exists() else [])
    if len(cases) == 1:
        print(f"# STS_001 missing under {STS_001}: synthetic case only")
    rows = {}
    for case in cases:
        for engine in ENGINES:
            runs = [in_subprocess(engine, case) for _ in range(REPEATS)]
            # Best of REPEATS for times (other processes only ever add), worst for memory.
            rows[case, engine] = r = dict(runs[0])
            r["cpu_s"] = min(x["cpu_s"] for x in runs)
            r["wall_s"] = min(x["wall_s"] for x in runs)
            r["peak_rss_mb"] = max(x["peak_rss_mb"] for x in runs)
            r["rss_before_mb"] = max(x["rss_before_mb"] for x in runs)
            print(f"  measured {engine:19s} {case:12s} cpu {r['cpu_s']:7.2f} s", flush=True)
    print()
    head = f"{'case':12s} {'engine':19s} {'features':>8s} {'ROI vox':>8s} {'CPU s':>8s} "
    head += f"{'wall s':>8s} {'RSS pre MB':>10s} {'peak MB':>8s} {'x CPU':>7s} {'x wall':>7s} "
    head += f"{'vs 10x':>7s} {'vs 300MB':>8s}"
    print(head)
    for case in cases:
        for engine in ENGINES:
            ref = rows[case, REFERENCE.get(engine, engine)]
            r = rows[case, engine]
            speedup = ref["wall_s"] / r["wall_s"]
            cpu_speedup = ref["cpu_s"] / r["cpu_s"]
            worst = min(speedup, cpu_speedup)
            goals = f"{worst / SPEED_GOAL:6.2f}x" if engine in REFERENCE else ""
            print(
                f"{case:12s} {engine:19s} {r['features']:8d} {r['roi_voxels']:8d} "
                f"{r['cpu_s']:8.2f} {r['wall_s']:8.2f} {r['rss_before_mb']:10.0f} "
                f"{r['peak_rss_mb']:8.0f} {cpu_speedup:6.2f}x {speedup:6.2f}x {goals:>7s} "
                f"{MEMORY_GOAL_MB / r['peak_rss_mb']:7.2f}x"
            )
    print("rows: ours-matched = the 104 engine features with a same-definition PyRadiomics "
          "feature (settings.features), vs pyradiomics-matched = those PyRadiomics features "
          "only; ours = engine families morph stat ih cm rlm szm ngt ngl (all features, 3D), "
          "ours-all = all 11 IBSI families, both vs pyradiomics = all features of firstorder "
          "shape glcm glrlm glszm gldm ngtdm")  # fmt: skip
    print("x CPU / x wall = the reference PyRadiomics row's CPU or wall time / this row's "
          "(PyRadiomics' SimpleITK "
          "steps use threads, so its CPU can exceed its wall); "
          "'vs 10x' = the lower of the two speed-ups / 10; "
          "'vs 300MB' = 300 MB / peak RSS of the extraction (>= 1.00x meets the goal); "
          "RSS pre = resident set with the case loaded, before extraction")  # fmt: skip
    print(f"largest child peak RSS (getrusage RUSAGE_CHILDREN): "
          f"{max(r['children_maxrss_mb'] for r in rows.values()):.0f} MB")  # fmt: skip
    if BATCH:
        b = batch(BATCH)
        print(
            f"\nbatch: {b['cases']} synthetic cases over a 2-process pool ({b['processes']} "
            f"workers): wall {b['wall_s']:.1f} s, CPU {b['cpu_s']:.1f} s "
            f"(extraction {b['extraction_cpu_s']:.1f} s, the rest building the seeded CTs), "
            f"CPU / wall = {b['cpu_s'] / b['wall_s']:.2f} (2.00 = both cores busy); "
            f"per-case extraction: CPU {b['extraction_cpu_s'] / b['cases']:.2f} s, wall "
            f"{b['extraction_wall_s'] / b['cases']:.2f} s; load avg {b['load'][0]:.2f} before, "
            f"{b['load'][1]:.2f} after"
        )
    if PROFILE:
        for case in cases:
            for engine in ("ours-matched", "ours"):
                r = in_subprocess(engine, case, profile=True)
                print(f"\n## cProfile, {engine} on {case} (tottime, top 15)\n{r['profile']}")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], "--profile" in sys.argv)))
    else:
        main()
