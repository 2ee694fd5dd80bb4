"""Benchmark of ``monitor ingest`` on SQLite: articles per second, a plain-sqlite3 floor, scaling.

Run:  .venv/bin/python bench/ingest.py [--sizes 10000,100000] [--repeat 3] [--large-repeat 1]
                                       [--probe 1000] [--probe-repeat 5] [--profile]
                                       [--json FILE] [--workdir DIR]
Quick look:  .venv/bin/python bench/ingest.py --sizes 2000 --repeat 1 --probe 0

For each size N, N synthetic seed files (bench/newsgen.py: about 3 KB each, many distinct
stories, 90% with a date marker, 1% near-duplicates, 0.2% identical copies, 2% matching the
shipped topic) are written once, then the real CLI ingests them into a new SQLite database:
``python -m monitor --config TMP ingest --no-deliver FOLDER`` in a subprocess, timed from start
to exit (interpreter start-up included), its summary line parsed. Sizes up to 20,000 run
``--repeat`` times (default 3) and report the median; larger sizes run ``--large-repeat`` times
(default 1). At 800-1,500 articles/s the default run (10,000 x 3, 100,000 x 1, the probe
and no profile) takes 5 to 10 minutes on two cores.
Alerts are planned (the topic matches) but not delivered. Besides wall-clock rates the table
gives articles per CPU-second of the ingest process, which other load on the machine does
not distort.

The floor is the least any ingest must do: the same files read, decoded and inserted as rows
with plain sqlite3 (one table, executemany, one transaction per 500 rows, WAL), in-process.

Scaling: ``--probe`` fresh articles (default 1,000, dated within the last day of the stream so
they meet a full story window) are ingested into a copy of a database that already holds 1,000
articles and into a copy of the largest run's. Each probe is run twice, with one article and
with all of them, so start-up (imports, schema check, rebuilding the story window from the
database) and the marginal cost per article are reported apart; ``--probe-repeat`` times
(default 5: the marginal cost is a difference of two noisy timings, and with three runs the
ratio moved by more than the difference it measures), the two databases alternating, every
figure the median.

Peak memory is each ingest process's maximum resident set size from ``/usr/bin/time -v``
(without it: ``getrusage(RUSAGE_CHILDREN)``, the maximum over all children so far).
``--profile`` adds a cProfile of the smallest size: the top functions by cumulative time (past
the CLI's own wrappers) and by own time.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import pstats
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from newsgen import NewsGenerator, days_back

#: The shipped topic, so topic matching and alert planning run for the matching 2%.
TOPIC_QUERY = (
    "(Ukraine OR Ukrainian OR Kyiv OR Kiev OR Zelenskyy) AND (Russia OR Russian OR Kremlin OR Moscow) "
    'AND (talks OR negotiat* OR "peace deal" OR ceasefire OR envoy)'
)
#: The stories issue's target, with grouping, duplicate detection and topic matching.
TARGET_PER_SECOND = 1_000
#: The foundation's first-stage targets, set before articles were grouped: kept for comparison.
FIRST_STAGE_PER_SECOND = 2_000
FIRST_STAGE_FLOOR_RATIO = 3.0
TARGET_SCALING_RATIO = 1.3
#: Sizes above this run --large-repeat times instead of --repeat.
LARGE_SIZE = 20_000
#: The "already stored" baseline the largest database is compared with.
SMALL_STORE = 1_000
FLOOR_BATCH = 500
SUMMARY = re.compile(
    r"(?P<stored>\d+) stored, (?P<known>\d+) already known, (?P<rejected>\d+) rejected, "
    r"(?P<stories>\d+) new stories, (?P<alerts>\d+) alerts"
)
TIME_BINARY = Path("/usr/bin/time")
#: Functions shown per profile listing.
PROFILE_TOP = 15


@dataclass
class Run:
    """One timed ``monitor ingest`` process: wall and CPU seconds, peak memory, its summary."""

    files: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.files / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.files / self.cpu_seconds


def write_config(folder: Path, database: Path) -> Path:
    config = folder / f"{database.stem}.yaml"
    config.write_text(
        f"database: sqlite:///{database}\n"
        "notifiers:\n  console: {}\n"
        "topics:\n"
        "  - name: russia-ukraine-talks\n"
        f"    query: '{TOPIC_QUERY}'\n"
        "    notify: [console]\n",
        encoding="utf-8",
    )
    return config


def compile_package() -> None:
    """Write the bytecode of monitor's modules, as installing the package does.

    An editable install under ``PYTHONDONTWRITEBYTECODE`` never writes it, and every run would
    then compile each module from source first: a cost no installed worker pays.
    """
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "monitor", quiet=1)


def monitor_command(config: Path, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "monitor", "--config", str(config), "--log-level", "WARNING", *arguments]


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ingest(workdir: Path, database: Path, paths: list[Path], files: int) -> Run:
    """Ingest ``paths`` (folders or files) into ``database`` with the real CLI; time the process."""
    config = write_config(workdir, database)
    command = monitor_command(config, "ingest", "--no-deliver", *map(str, paths))
    rss_file = workdir / "time.txt"
    if TIME_BINARY.exists():
        command = [str(TIME_BINARY), "-v", "-o", str(rss_file), *command]
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    cpu_seconds = children_cpu_seconds() - cpu_before
    if result.returncode != 0:
        raise SystemExit(f"monitor ingest failed ({result.returncode}):\n{result.stderr[-3000:]}")
    match = SUMMARY.search(result.stderr)
    if match is None:
        raise SystemExit(f"no summary line in monitor's output:\n{result.stderr[-3000:]}")
    summary = {key: int(value) for key, value in match.groupdict().items()}
    return Run(files, seconds, cpu_seconds, peak_rss_mb(rss_file), summary)


def peak_rss_mb(time_output: Path) -> float:
    if time_output.exists():
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_output.read_text())
        time_output.unlink()
        if found:
            return int(found.group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def floor_run(folder: Path, database: Path) -> tuple[float, float]:
    """Wall and CPU seconds to read, decode and insert every file with plain sqlite3."""
    remove_database(database)
    started, cpu_started = time.perf_counter(), time.process_time()
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE articles (id INTEGER PRIMARY KEY, path TEXT NOT NULL, body TEXT NOT NULL)"
    )
    rows: list[tuple[str, str]] = []
    for path in sorted(folder.glob("*.txt")):
        rows.append((str(path), path.read_bytes().decode("utf-8")))
        if len(rows) == FLOOR_BATCH:
            insert(connection, rows)
            rows = []
    if rows:
        insert(connection, rows)
    connection.close()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    remove_database(database)
    return seconds, cpu_seconds


def insert(connection: sqlite3.Connection, rows: list[tuple[str, str]]) -> None:
    connection.execute("BEGIN")
    connection.executemany("INSERT INTO articles (path, body) VALUES (?, ?)", rows)
    connection.execute("COMMIT")


def copy_database(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy2(f"{source}{suffix}", f"{target}{suffix}")


def remove_database(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def generate(folder: Path, count: int, *, seed: int, per_day: int, start: datetime, prefix: str) -> float:
    started = time.perf_counter()
    NewsGenerator(seed, per_day=per_day).write(folder, count, start=start, prefix=prefix)
    return time.perf_counter() - started


@dataclass
class SizeResult:
    count: int
    runs: list[Run]
    floors: list[tuple[float, float]]

    @property
    def rate(self) -> float:
        return statistics.median(run.per_second for run in self.runs)

    @property
    def cpu_rate(self) -> float:
        return statistics.median(run.per_cpu_second for run in self.runs)

    @property
    def floor_rate(self) -> float:
        return self.count / statistics.median(wall for wall, _ in self.floors)

    @property
    def floor_cpu_rate(self) -> float:
        return self.count / statistics.median(cpu for _, cpu in self.floors)

    def as_json(self) -> dict[str, object]:
        return {
            "runs": [
                asdict(run) | {"per_second": run.per_second, "per_cpu_second": run.per_cpu_second}
                for run in self.runs
            ],
            "floor_wall_and_cpu_seconds": self.floors,
            "monitor_per_second_median": self.rate,
            "monitor_per_cpu_second_median": self.cpu_rate,
            "floor_per_second_median": self.floor_rate,
            "floor_per_cpu_second_median": self.floor_cpu_rate,
        }


def measure_size(
    workdir: Path, count: int, repeats: int, per_day: int, keep_last: bool
) -> tuple[SizeResult, Path | None]:
    """Ingest ``count`` fresh articles ``repeats`` times, then the floor as often."""
    folder = workdir / f"articles-{count}"
    spent = generate(folder, count, seed=count, per_day=per_day, start=days_back(count, per_day), prefix="a")
    print(f"N={count:,}: generated in {spent:.0f}s", flush=True)
    runs: list[Run] = []
    kept: Path | None = None
    for attempt in range(repeats):
        database = workdir / f"ingest-{count}-{attempt}.sqlite"
        run = run_ingest(workdir, database, [folder], count)
        runs.append(run)
        print(
            f"  monitor run {attempt + 1}/{repeats}: {run.seconds:.1f}s wall, {run.cpu_seconds:.1f}s CPU, "
            f"{run.per_second:,.0f} articles/s, peak RSS {run.peak_rss_mb:,.0f} MB; {run.summary}",
            flush=True,
        )
        if keep_last and attempt == repeats - 1:
            kept = database
        else:
            remove_database(database)
    floors = [floor_run(folder, workdir / f"floor-{count}.sqlite") for _ in range(repeats)]
    shutil.rmtree(folder)
    return SizeResult(count, runs, floors), kept


def print_table(results: list[SizeResult]) -> None:
    print()
    print(
        f"{'N':>9} {'runs':>4} {'monitor art/s':>14} {'floor art/s':>12} {'ratio':>7} "
        f"{'monitor art/CPU-s':>18} {'floor art/CPU-s':>16} {'ratio':>7} {'peak RSS':>9}"
    )
    for result in results:
        peak = max(run.peak_rss_mb for run in result.runs)
        print(
            f"{result.count:>9,} {len(result.runs):>4} {result.rate:>14,.0f} {result.floor_rate:>12,.0f} "
            f"{result.floor_rate / result.rate:>6.1f}x {result.cpu_rate:>18,.0f} "
            f"{result.floor_cpu_rate:>16,.0f} "
            f"{result.floor_cpu_rate / result.cpu_rate:>6.1f}x {peak:>6,.0f} MB"
        )
    slowest = min(result.rate for result in results)
    worst = max(result.floor_rate / result.rate for result in results)
    print(
        f"target (wall clock, every size): >= {TARGET_PER_SECOND:,} articles/s: "
        f"{verdict(slowest >= TARGET_PER_SECOND)}"
    )
    print(
        f"first-stage targets, before grouping: >= {FIRST_STAGE_PER_SECOND:,} articles/s: "
        f"{verdict(slowest >= FIRST_STAGE_PER_SECOND)}; "
        f"<= {FIRST_STAGE_FLOOR_RATIO:g}x the floor: {verdict(worst <= FIRST_STAGE_FLOOR_RATIO)}"
    )


def probe(workdir: Path, base: Path, probe_folder: Path, count: int) -> dict[str, float]:
    """Start-up and marginal per-article cost of ingesting the probe into a copy of ``base``."""
    one_file = sorted(probe_folder.glob("*.txt"))[0]
    figures: dict[str, float] = {}
    for label, paths, files in (("one", [one_file], 1), ("all", [probe_folder], count)):
        database = workdir / f"probe-{base.stem}-{label}.sqlite"
        copy_database(base, database)
        run = run_ingest(workdir, database, paths, files)
        remove_database(database)
        figures[f"{label}_seconds"] = run.seconds
        figures[f"{label}_cpu_seconds"] = run.cpu_seconds
        figures[f"{label}_rss_mb"] = run.peak_rss_mb
    figures["per_article_ms"] = (figures["all_seconds"] - figures["one_seconds"]) / (count - 1) * 1000
    figures["per_article_cpu_ms"] = (
        (figures["all_cpu_seconds"] - figures["one_cpu_seconds"]) / (count - 1) * 1000
    )
    figures["whole_command_per_article_ms"] = figures["all_seconds"] / count * 1000
    return figures


def median_figures(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs (ratios are taken of the medians, not per run)."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def scaling_probe(
    workdir: Path, largest_db: Path, largest: int, count: int, per_day: int, repeat: int
) -> dict[str, object]:
    """Cost of ``count`` fresh articles into a database holding 1,000 vs ``largest`` articles.

    The marginal cost is a difference of two runs, so a single pair is at the mercy of the
    machine's noise: each probe runs ``repeat`` times, the two sizes alternating, and every
    figure is a median."""
    small_folder = workdir / "articles-small-store"
    start = days_back(SMALL_STORE, per_day)
    generate(small_folder, SMALL_STORE, seed=SMALL_STORE, per_day=per_day, start=start, prefix="s")
    small_db = workdir / "store-small.sqlite"
    run_ingest(workdir, small_db, [small_folder], SMALL_STORE)
    shutil.rmtree(small_folder)
    probe_folder = workdir / "articles-probe"
    # Within the stream's last day, so the probe meets a full story window.
    start = days_back(0, per_day) - timedelta(days=1)
    generate(probe_folder, count, seed=987_654, per_day=per_day, start=start, prefix="p")
    small_runs: list[dict[str, float]] = []
    large_runs: list[dict[str, float]] = []
    for _ in range(repeat):
        small_runs.append(probe(workdir, small_db, probe_folder, count))
        large_runs.append(probe(workdir, largest_db, probe_folder, count))
    small, large = median_figures(small_runs), median_figures(large_runs)
    remove_database(small_db)
    shutil.rmtree(probe_folder)
    ratio = large["per_article_ms"] / small["per_article_ms"]
    cpu_ratio = large["per_article_cpu_ms"] / small["per_article_cpu_ms"]
    whole_ratio = large["whole_command_per_article_ms"] / small["whole_command_per_article_ms"]
    print(
        f"\n{count:,} fresh articles into a copy of a database already holding N articles "
        f"(medians of {repeat} runs each):"
    )
    print(
        f"{'N':>9} {'1-article run s':>16} {'whole run s':>12} {'marginal ms/art':>16} "
        f"{'marginal CPU ms/art':>20} {'whole ms/art':>13} {'peak RSS':>9}"
    )
    for stored, figures in ((SMALL_STORE, small), (largest, large)):
        print(
            f"{stored:>9,} {figures['one_seconds']:>16.1f} {figures['all_seconds']:>12.1f} "
            f"{figures['per_article_ms']:>16.2f} {figures['per_article_cpu_ms']:>20.2f} "
            f"{figures['whole_command_per_article_ms']:>13.2f} {figures['all_rss_mb']:>6,.0f} MB"
        )
    print(
        f"marginal cost {largest:,} vs {SMALL_STORE:,} stored: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
        f"(target <= {TARGET_SCALING_RATIO}x: {verdict(ratio <= TARGET_SCALING_RATIO)}); "
        f"whole command per article: {whole_ratio:.2f}x"
    )
    return {
        "stored_small": SMALL_STORE,
        "stored_large": largest,
        "small": small,
        "large": large,
        "ratio": ratio,
    }


def profile(workdir: Path, count: int, per_day: int) -> str:
    """cProfile of one ``monitor ingest`` of ``count`` fresh articles: top functions two ways."""
    folder = workdir / "articles-profile"
    generate(folder, count, seed=count, per_day=per_day, start=days_back(count, per_day), prefix="a")
    database = workdir / "profile.sqlite"
    config = write_config(workdir, database)
    output = workdir / "ingest.prof"
    command = [sys.executable, "-m", "cProfile", "-o", str(output), *monitor_command(config)[1:]]
    subprocess.run(
        [*command, "ingest", "--no-deliver", str(folder)], cwd=workdir, capture_output=True, check=True
    )
    remove_database(database)
    shutil.rmtree(folder)
    report = workdir / "profile.txt"
    with report.open("w", encoding="utf-8") as stream:
        stats = pstats.Stats(str(output), stream=stream).strip_dirs()
        # The first dozen cumulative entries are the CLI's own wrappers; show enough to pass them.
        stream.write("--- by cumulative time ---\n")
        stats.sort_stats("cumulative").print_stats(PROFILE_TOP + 15)
        stream.write("--- by own time ---\n")
        stats.sort_stats("tottime").print_stats(PROFILE_TOP)
    return report.read_text(encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated article counts")
    parser.add_argument("--repeat", type=int, default=3, help=f"runs per size up to {LARGE_SIZE:,} (median)")
    parser.add_argument("--large-repeat", type=int, default=1, help=f"runs per size above {LARGE_SIZE:,}")
    parser.add_argument(
        "--probe", type=int, default=1000, help="fresh articles in the scaling probe (0: skip)"
    )
    parser.add_argument("--probe-repeat", type=int, default=5, help="runs of each scaling probe (median)")
    parser.add_argument("--per-day", type=int, default=1000, help="articles per day of publication time")
    parser.add_argument("--profile", action="store_true", help="also profile the smallest size with cProfile")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--workdir", type=Path, help="where files and databases go (default: a temp folder)")
    args = parser.parse_args()
    sizes = sorted(int(size.replace("_", "")) for size in args.sizes.split(","))

    compile_package()
    own_workdir = args.workdir is None
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="monitor-ingest-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {workdir}", flush=True)
    report: dict[str, object] = {"started": datetime.now(UTC).isoformat(), "cpus": os.cpu_count()}
    try:
        results: list[SizeResult] = []
        largest_db: Path | None = None
        for count in sizes:
            repeats = args.repeat if count <= LARGE_SIZE else args.large_repeat
            result, kept = measure_size(workdir, count, repeats, args.per_day, keep_last=count == sizes[-1])
            results.append(result)
            largest_db = kept or largest_db
            report["sizes"] = {str(r.count): r.as_json() for r in results}
        print_table(results)
        if args.probe and largest_db is not None:
            report["probe"] = scaling_probe(
                workdir, largest_db, sizes[-1], args.probe, args.per_day, args.probe_repeat
            )
        if largest_db is not None:
            remove_database(largest_db)
        if args.profile:
            text = profile(workdir, sizes[0], args.per_day)
            report["profile"] = text
            print(f"\ncProfile of monitor ingest, N={sizes[0]:,}:")
            print(text)
    finally:
        if args.json:
            args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


if __name__ == "__main__":
    main()
