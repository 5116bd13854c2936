#!/usr/bin/env python
"""Classifier speed and memory: batch throughput on one core, single-item latency, worker memory.

Targets (issue 3): 3,000 items/s batched on one core, single-item p99 of 5 ms or less, and a
worker with the model loaded under 300 MB resident.

The texts are the held-apart corpus lines (real-looking citizen messages, 10 to 800 characters),
repeated. The process is pinned to one CPU and BLAS to one thread, so "one core" means one core.
It prints numbers and never fails on a slow result. Beside the wall-clock figures it prints the same
ones in CPU time of this process (the target's "one core" when other work shares the machine: a loaded
machine makes wall-clock latency wait for the CPU, not the classifier).

    .venv/bin/python bench/classifier.py [--items 20000] [--single 2000] [--model PATH]
"""

from __future__ import annotations

import os

# One core, one BLAS thread: set before numpy is imported.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_RATE, TARGET_P99_MS, TARGET_MB = 3000, 5.0, 300

_MEMORY_PROBE = """
import json, sys
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
base = rss()
import hotline.worker, hotline.pipeline  # what a worker imports
before = rss()
import classifier
model = classifier.load(sys.argv[1])
model.classify('Cây đổ chắn ngang đường Nguyễn Huệ, phường Sài Gòn')  # warm every lazy part
print(json.dumps({"interpreter": base, "worker_code": before, "with_model": rss()}))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=20_000, help="items for the batch run")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--single", type=int, default=2000, help="single-item calls for latency")
    parser.add_argument("--model", help="model file (default: the built one; trained here if missing)")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from classifier.corpus import HELDOUT_DIR, load_dir
    from classifier.predict import TextClassifier, load_model
    from classifier.training import DEFAULT_MODEL, build

    path = Path(args.model) if args.model else DEFAULT_MODEL
    if not path.exists():
        print(f"no model at {path}: training one (hotline train)")
        build().save(path)
    clf = load_model(path)
    plain = TextClassifier(clf.model, with_entities=False)
    texts = [e.text for e in load_dir(HELDOUT_DIR)]
    print("classifier benchmark")
    print(f"machine: {os.cpu_count()} CPUs, pinned to 1; python {platform.python_version()}; model {clf.version}"
          f" ({clf.model.info.get('features')} features)")
    print(f"texts: {len(texts)} held-apart corpus lines, mean {statistics.mean(map(len, texts)):.0f} characters")

    # Warm up.
    plain.classify_batch(texts[:200])
    for t in texts[:50]:
        clf.classify(t)

    items = (texts * (args.items // len(texts) + 1))[:args.items]
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(items), args.batch_size):
        plain.classify_batch(items[i:i + args.batch_size])
    elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    rate, rate_cpu = len(items) / elapsed, len(items) / elapsed_cpu

    single = (texts * (args.single // len(texts) + 1))[:args.single]
    lat_plain, cpu_plain, lat_full = [], [], []
    for t in single:
        t0, c0 = time.perf_counter(), time.process_time()
        plain.classify(t)
        lat_plain.append((time.perf_counter() - t0) * 1000)
        cpu_plain.append((time.process_time() - c0) * 1000)
    for t in single:
        t0 = time.perf_counter()
        clf.classify(t)
        lat_full.append((time.perf_counter() - t0) * 1000)

    probe = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(path)], capture_output=True, text=True,
                           cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    memory = json.loads(probe.stdout.strip().splitlines()[-1]) if probe.returncode == 0 else None

    print()
    print(f"batched ({args.batch_size} per call), 1 core: {rate:,.0f} items/s"
          f"  (target >= {TARGET_RATE:,}: {'met' if rate >= TARGET_RATE else 'not met'});"
          f" in CPU time {rate_cpu:,.0f}/s")
    p50, p99 = percentile(lat_plain, 0.5), percentile(lat_plain, 0.99)
    print(f"single item, field + confidence + urgency + language: p50 {p50:.2f} ms, p99 {p99:.2f} ms"
          f"  (target p99 <= {TARGET_P99_MS:g} ms: {'met' if p99 <= TARGET_P99_MS else 'not met'});"
          f" in CPU time p50 {percentile(cpu_plain, 0.5):.2f} ms, p99 {percentile(cpu_plain, 0.99):.2f} ms")
    print(f"single item, plus spaCy entities (what a worker runs per case): p50 {percentile(lat_full, 0.5):.2f} ms,"
          f" p99 {percentile(lat_full, 0.99):.2f} ms")
    if memory:
        mb = memory["with_model"]
        print(f"worker resident memory: {mb:.0f} MB with the model and spaCy loaded (interpreter"
              f" {memory['interpreter']:.0f} MB, worker code {memory['worker_code']:.0f} MB, model and spaCy"
              f" +{mb - memory['worker_code']:.0f} MB)"
              f"  (target < {TARGET_MB} MB: {'met' if mb < TARGET_MB else 'not met'})")
    else:
        print(f"memory probe failed: {probe.stderr[-500:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
