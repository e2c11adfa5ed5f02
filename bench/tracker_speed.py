"""Speed of the tracker's decode and detect stages (SPEC §5), reported as ratios to video time, in one run.

    .venv/bin/python bench/tracker_speed.py [--seconds 30] [--every-s 0.2] [--max-height 640] [--threads N]
    .venv/bin/python bench/tracker_speed.py --pipeline [--pipeline-seconds 60] [--naive-seconds 5]

Decode: full-rate decode to numpy (every frame converted to 1080p BGR, the naive way) vs. our sampled and
downscaled `iter_frames`, on a generated 1080p30 clip (testsrc2 + noise, ~8 Mbit/s like a broadcast; the
content is synthetic, which is fine for decode timing) and on the real practice clip when ../shared exists.
Detect: ms/frame on real broadcast frames, Ultralytics running the export as shipped (640x640) vs our
`PersonTracker` (the graph rewritten for the frame's aspect) on each runtime (LiteRT, OpenVINO) at imgsz 640, 512
and 352x640.
RTF = wall time / video time.

Pipeline (`--pipeline`): the whole `track_video` (broadcast preset) with our `SpeedOptions` vs the naive loop
(`pipeline.NAIVE`: inline decode, every frame detected, every wanted crop read with all views), in one run, on
the real clips (practice: #19 red; broadcast: #77 EDM navy #041e42) and on a generated 1080p30 clip of moving coloured
rectangles (`--pipeline-seconds`, detection cost per sampled frame does not depend on content; OCR cost does,
which is why the real clips are reported too). The naive loop runs on the first `--naive-seconds` of each
video (stream-copied slice) and so does ours, for a like-for-like ratio; ours also runs on the whole video.
Per-stage seconds come from `TrackingStats.stage_seconds`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PRACTICE = SHARED / "media" / "nhl_closeup_CHI_practice_tiktok_11s.mp4"
BROADCAST = SHARED / "media" / "nhl_broadcast_BUF-EDM_2016-10-16_12s.mp4"
TFLITE = SHARED / "models" / "yolov8n_int8.tflite"


class Clock:
    """Wall time and this process's CPU time (all threads). On a busy shared machine the CPU time is the
    robust number: on an idle 2-core machine wall time is at least CPU time / 2."""

    def __init__(self) -> None:
        self.wall0 = time.perf_counter()
        self.cpu0 = time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall0, time.process_time() - self.cpu0


def generate_1080p(path: Path, seconds: float) -> None:
    import imageio_ffmpeg

    if path.exists() and path.stat().st_size > 0:
        return
    tmp = path.with_suffix(".part.mp4")
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-v", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=960x540:rate=30:duration={seconds}",
        "-vf", "scale=1920:1080:flags=bicubic,noise=alls=6:allf=t",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-maxrate", "8M", "-bufsize", "16M",
        "-g", "60", "-bf", "2", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
        str(tmp),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    tmp.rename(path)


def duration_s(src: str) -> float:
    from shiftclipper_tracker.decode import video_info

    return video_info(src).duration_s


def decode_full(src: str, convert: bool) -> tuple[tuple[float, float], int]:
    """Every frame decoded (threaded); with `convert`, every frame also turned into a full-size BGR array."""
    import av

    clock = Clock()
    n = 0
    with av.open(src) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for frame in c.decode(s):
            if convert:
                frame.to_ndarray(format="bgr24")
            n += 1
    return clock.stop(), n


def decode_ours(
    src: str, every_s: float, max_height: int, skip_unused: bool = True
) -> tuple[tuple[float, float], int, tuple[int, ...]]:
    from shiftclipper_tracker.decode import iter_frames

    clock = Clock()
    n = 0
    shape: tuple[int, ...] = ()
    for f in iter_frames(src, every_s, max_height, skip_unused=skip_unused):
        n += 1
        shape = f.image.shape
    return clock.stop(), n, shape


def bench_decode(name: str, src: str, every_s: float, max_height: int) -> dict[str, object]:
    dur = duration_s(src)
    decode_full(src, convert=False)  # warm the page cache
    (t_dec, c_dec), n_all = decode_full(src, convert=False)
    (t_full, c_full), _ = decode_full(src, convert=True)
    (t_noskip, c_noskip), _, _ = decode_ours(src, every_s, max_height, skip_unused=False)
    (t_ours, c_ours), n_ours, shape = decode_ours(src, every_s, max_height)
    row = {
        "video": name,
        "duration_s": round(dur, 2),
        "frames": n_all,
        "rtf_decode_only_no_numpy": round(t_dec / dur, 4),
        "rtf_full_rate_to_numpy": round(t_full / dur, 4),
        "rtf_ours_without_skip_unused": round(t_noskip / dur, 4),
        "rtf_ours_sampled_downscaled": round(t_ours / dur, 4),
        "cpu_rtf_decode_only_no_numpy": round(c_dec / dur, 4),
        "cpu_rtf_full_rate_to_numpy": round(c_full / dur, 4),
        "cpu_rtf_ours_without_skip_unused": round(c_noskip / dur, 4),
        "cpu_rtf_ours_sampled_downscaled": round(c_ours / dur, 4),
        "ours_frames": n_ours,
        "ours_shape": list(shape),
        "speedup_full_over_ours_wall": round(t_full / t_ours, 2),
        "speedup_full_over_ours_cpu": round(c_full / c_ours, 2),
    }
    print(
        f"[decode] {name}: {n_all} frames / {dur:.1f} s, RTF wall (cpu-s per video-s): "
        f"decode only {t_dec / dur:.3f} ({c_dec / dur:.3f}) | full-rate to numpy {t_full / dur:.3f} "
        f"({c_full / dur:.3f}) | ours every {every_s}s <= {max_height} rows ({n_ours} frames {shape}) "
        f"{t_ours / dur:.3f} ({c_ours / dur:.3f}), without B-frame skipping {t_noskip / dur:.3f} "
        f"({c_noskip / dur:.3f}) | full/ours = {t_full / t_ours:.2f}x wall, {c_full / c_ours:.2f}x cpu"
    )
    return row


def bench_detect(every_s: float, max_height: int, threads: int, n: int) -> list[dict[str, object]]:
    """Ms per frame on real 16:9 broadcast frames: Ultralytics running the export as shipped (fixed 640x640,
    the baseline) vs our `PersonTracker` (graph rewritten for the frame's aspect) on each runtime at a few sizes."""
    from shiftclipper_tracker.decode import iter_frames
    from shiftclipper_tracker.detect import PersonTracker, _force_offline

    frames = [f.image for f in iter_frames(str(BROADCAST), every_s, max_height)][:n]
    _force_offline()
    import ultralytics.nn.backends.litert as litert
    from ultralytics import YOLO

    litert.NUM_THREADS = threads
    baseline = YOLO(str(TFLITE), task="detect")
    trackers = {rt: PersonTracker(TFLITE, threads=threads, runtime=rt) for rt in ("litert", "openvino")}
    runs: list[tuple[str, object]] = [("ultralytics, export as shipped", 640)]
    runs += [(f"ours, {rt}", size) for rt in trackers for size in (640, 512, (352, 640))]
    rows: list[dict[str, object]] = []
    for name, imgsz in runs:
        tracker = trackers.get(name.removeprefix("ours, "))
        if tracker is not None:
            detect = lambda img, sz=imgsz, t=tracker: len(t.detect_batch([img], imgsz=sz)[0])  # type: ignore[misc]  # noqa: E731
        else:
            detect = lambda img: len(baseline.predict(img, imgsz=640, conf=0.1, classes=[0], verbose=False)[0])  # noqa: E731
        for img in frames[:2]:  # warm-up (and, for ours, building the interpreter for this size)
            detect(img)
        clock = Clock()
        persons = sum(detect(img) for img in frames)
        wall, cpu = clock.stop()
        ms, cpu_ms = wall / len(frames) * 1000, cpu / len(frames) * 1000
        ran = tracker.input_size if tracker is not None else (640, 640)
        row = {
            "runner": name,
            "imgsz_requested": imgsz,
            "imgsz_run": ran,
            "ms_per_frame": round(ms, 1),
            "cpu_ms_per_frame": round(cpu_ms, 1),
            "persons_per_frame": round(persons / len(frames), 2),
            "detect_rtf_at_sampling": round(ms / 1000 / every_s, 3),
        }
        print(
            f"[detect] {name}: imgsz {imgsz} runs at {ran}: {ms:.1f} ms/frame ({cpu_ms:.0f} cpu-ms), "
            f"{row['persons_per_frame']} persons/frame on {len(frames)} broadcast frames | "
            f"at one frame per {every_s}s: detect RTF {ms / 1000 / every_s:.3f}"
        )
        rows.append(row)
    base = float(rows[0]["ms_per_frame"])  # type: ignore[arg-type]
    print(
        "[detect] speed-up vs the export as shipped: "
        + ", ".join(
            f"{r['runner']} {r['imgsz_requested']}: {base / float(r['ms_per_frame']):.2f}x"
            for r in rows[1:]  # type: ignore[arg-type]
        )
    )
    return rows


def generate_rects_1080p(path: Path, seconds: float) -> None:
    """1080p30 H.264 of coloured rectangles drifting over an ice-grey background, written with PyAV."""
    import av
    import numpy as np

    if path.exists() and path.stat().st_size > 0:
        return
    tmp = path.with_suffix(".part.mp4")
    rng = np.random.default_rng(0)
    n = 12
    pos = rng.uniform([0, 0], [1800, 900], (n, 2))
    vel = rng.uniform(-8, 8, (n, 2))
    colours = rng.integers(0, 255, (n, 3), dtype=np.uint8)
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "crf": "23", "g": "60"})
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        base = np.full((1080, 1920, 3), 215, np.uint8)
        for _ in range(round(seconds * 30)):
            img = base.copy()
            pos = (pos + vel) % [1800, 900]
            for (x, y), c in zip(pos.astype(int), colours, strict=True):
                img[y : y + 160, x : x + 70] = c
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.rename(path)


def cut(src: Path, dst: Path, seconds: float) -> None:
    """First `seconds` of `src`, video stream copied (cut at the next keyframe after it)."""
    import imageio_ffmpeg

    if not dst.exists():
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-t", str(seconds)]
        subprocess.run([*cmd, "-map", "0:v:0", "-c", "copy", str(dst)], check=True)


def run_pipeline(models: object, src: Path, number: str, colour: str, naive: bool) -> dict[str, object]:
    from shiftclipper_contracts.events import TrackWork
    from shiftclipper_contracts.job_setup import setup_from_obj
    from shiftclipper_tracker.decode import video_info
    from shiftclipper_tracker.pipeline import NAIVE, Hooks, Models, track_video

    assert isinstance(models, Models)
    info = video_info(str(src))
    setup = setup_from_obj({"jersey_number": number, "jersey_color": colour})
    work = TrackWork(job_id="bench", attempt=1, video_key="bench", video=info, setup=setup)
    hooks = Hooks(lambda s: None, lambda f, s: None, lambda c: None, lambda: False)
    clock = Clock()
    out = track_video(models, str(src), work, hooks, speed=NAIVE if naive else None)
    wall, cpu = clock.stop()
    st = out.stats
    return {
        "video_s": info.duration_s,
        "rtf": round(wall / info.duration_s, 3),
        "cpu_rtf": round(cpu / info.duration_s, 3),
        "stage_rtf": {k: round(v / info.duration_s, 3) for k, v in st.stage_seconds.items()},
        "frames_decoded": st.frames_decoded,
        "frames_detected": st.frames_detected,
        "ocr_reads": st.ocr_reads,
        "shifts": [(s.start_s, s.end_s) for s in out.segments],
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def bench_pipeline(args: argparse.Namespace) -> dict[str, object]:
    from shiftclipper_contracts.config import load_config
    from shiftclipper_tracker.pipeline import Models

    models = Models(load_config({}, model_path=str(TFLITE)))
    gen = args.work_dir / f"rects_1080p30_{int(args.pipeline_seconds)}s.mp4"
    t0 = time.perf_counter()
    generate_rects_1080p(gen, args.pipeline_seconds)
    print(f"[gen] {gen} ({gen.stat().st_size / 1e6:.1f} MB, ready in {time.perf_counter() - t0:.1f} s)")
    videos = [("generated_rects_1080p30", gen, "19", "red")]
    videos += [
        (n, c, num, col)
        for n, c, num, col in (("practice", PRACTICE, "19", "red"), ("broadcast", BROADCAST, "77", "#041e42"))
        if c.is_file()
    ]
    rows: dict[str, object] = {}
    for name, clip, number, colour in videos:
        short = args.work_dir / f"{clip.stem}_first{args.naive_seconds:g}s.mp4"
        cut(clip, short, args.naive_seconds)
        runs = {
            "naive_slice": run_pipeline(models, short, number, colour, naive=True),
            "ours_slice": run_pipeline(models, short, number, colour, naive=False),
            "ours_full": run_pipeline(models, clip, number, colour, naive=False),
        }
        ratio = float(runs["naive_slice"]["rtf"]) / max(float(runs["ours_slice"]["rtf"]), 1e-9)  # type: ignore[arg-type]
        rows[name] = {**runs, "speedup_slice_wall": round(ratio, 2)}
        for kind, r in runs.items():
            print(
                f"[pipeline] {name} {kind} ({r['video_s']} s): RTF {r['rtf']} (cpu {r['cpu_rtf']}) "
                f"stages {r['stage_rtf']} "
                f"frames {r['frames_decoded']}/{r['frames_detected']} detected, {r['ocr_reads']} OCR crops, "
                f"shifts {r['shifts']}, load {r['load_avg']}"
            )
        print(f"[pipeline] {name}: naive/ours on the same {args.naive_seconds:g} s slice = {ratio:.2f}x wall")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the generated 1080p30 clip")
    ap.add_argument("--every-s", type=float, default=0.2, help="sampling interval of the tracker")
    ap.add_argument("--max-height", type=int, default=640)
    ap.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch and detector (LiteRT, OpenVINO) threads"
    )
    ap.add_argument("--detect-frames", type=int, default=30)
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "shiftclipper_bench")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--pipeline", action="store_true", help="full track_video RTF, ours vs naive (only this)")
    ap.add_argument("--pipeline-seconds", type=float, default=60.0, help="length of the generated pipeline clip")
    ap.add_argument("--naive-seconds", type=float, default=5.0, help="slice the naive pipeline runs on")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    env = {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "detector_threads": args.threads,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"[env] {env}")
    results: dict[str, object] = {"env": env, "decode": [], "detect": []}

    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.pipeline:
        if not TFLITE.is_file():
            print(f"[skip] {TFLITE} absent (../shared): pipeline bench skipped")
            return 0
        results["pipeline"] = bench_pipeline(args)
        env["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        print(f"[env] load average at end: {env['load_avg_at_end']}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    gen = args.work_dir / f"testsrc2_1080p30_{int(args.seconds)}s.mp4"
    t0 = time.perf_counter()
    generate_1080p(gen, args.seconds)
    print(f"[gen] {gen} ({gen.stat().st_size / 1e6:.1f} MB, ready in {time.perf_counter() - t0:.1f} s)")

    decode_rows = results["decode"]
    assert isinstance(decode_rows, list)
    decode_rows.append(bench_decode("generated_1080p30", str(gen), args.every_s, args.max_height))
    for name, clip in (("broadcast_1280x720", BROADCAST), ("practice_576x1024", PRACTICE)):
        if clip.is_file():
            decode_rows.append(bench_decode(name, str(clip), args.every_s, args.max_height))
        else:
            print(f"[skip] {clip} absent (../shared): skipped")

    if BROADCAST.is_file() and TFLITE.is_file():
        results["detect"] = bench_detect(args.every_s, args.max_height, args.threads, args.detect_frames)
        # ours on the default runtime at imgsz 640 (the broadcast preset)
        det = next(r for r in results["detect"] if r["runner"] == "ours, openvino" and r["imgsz_requested"] == 640)  # type: ignore[union-attr, index]
        dec = decode_rows[0]["rtf_ours_sampled_downscaled"]
        total = float(dec) + float(det["detect_rtf_at_sampling"])
        print(
            f"[total] decode (1080p) + detect at one frame per {args.every_s}s: RTF {total:.3f} "
            f"(target <= 0.33 on 2 cores; stretch 0.2)"
        )
        results["projected_rtf_decode_plus_detect"] = round(total, 3)
    env["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"[env] load average at end: {env['load_avg_at_end']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
