"""Benchmark histories: the demo generator's deliveries, generated once and cached.

One timeline of GitHub deliveries from the demo generator (``generate_demo``, 26 repositories,
real webhook payload templates, ~8 KB a delivery, ~280 deliveries a day) is generated in chunks
of ``CHUNK_DAYS`` days, newest first, each with its own seed, and cached under
``bench/data/<key>/`` (git-ignored). The key hashes the generator's source and templates and
the parameters below, so a change to the generator regenerates the data.

A history of N deliveries is the *latest* whole days ending on ``HISTORY_END`` whose records
add up to at least N: every size has the same current month and the same density of
deliveries per day, so only the length of history grows with N (a big organisation's history
grows with time). The files are the generator's own: one NDJSON file per UTC day plus one
single-envelope .json file per redelivery (3%, which bronze counts as duplicates).

The incremental drop is the first ``DROP_DELIVERIES`` deliveries generated after
``HISTORY_END`` (the same chunk continues past it), written as one NDJSON file.

Why chunks rather than one call: ``generate_demo`` keeps every envelope in memory (~37 KB of
Python objects per delivery), so one call for 1M deliveries would need ~37 GB. Each chunk starts
the simulated organisation afresh (same repositories, new branch heads), which is harmless for a
benchmark, except for one thing: GitHub numbers a repository's issues and pull requests from one
growing sequence, and a fresh start would reuse numbers of earlier chunks (issue #812 of 2019 and
of 2026 would be one issue). Chunk k's numbers therefore start k * 100,000 higher. Two chunks
are generated at a time (2 cores).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from importlib import resources
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"  # git-ignored

REPOS = 26
SEED = 9
CHUNK_DAYS = 64
HISTORY_END = date(2026, 9, 30)  # the last day of every history (a Wednesday)
DROP_DAYS = 7  # generated after HISTORY_END, in chunk 0, for the incremental drop
DROP_DELIVERIES = 1000
FORMAT_VERSION = 2
NUMBERS_PER_CHUNK = 100_000  # issue/PR numbers of chunk k start k * NUMBERS_PER_CHUNK higher


@dataclass(frozen=True)
class Day:
    """One UTC day of the timeline: its files and how many records they hold."""

    day: date
    chunk: int
    records: int  # NDJSON lines + redelivery files
    redeliveries: int
    bytes: int
    files: tuple[str, ...]  # relative to the chunk's landing folder
    last_received_at: str


@dataclass(frozen=True)
class History:
    """The landing files of a history of ``records`` records ending on HISTORY_END."""

    records: int
    redeliveries: int
    bytes: int
    first_day: date
    last_day: date
    files: list[tuple[Path, str]]  # (cached file, landing-relative name)
    last_received_at: datetime


@dataclass(frozen=True)
class Timeline:
    """Where the cache lives and how long its chunks are (the smoke test uses small ones)."""

    data_dir: Path = DATA_DIR
    chunk_days: int = CHUNK_DAYS

    @property
    def root(self) -> Path:
        return self.data_dir / f"timeline-{cache_key(self.chunk_days)}"

    def chunk_dir(self, chunk: int) -> Path:
        return self.root / "chunks" / f"{chunk:04d}"


def cache_key(chunk_days: int = CHUNK_DAYS) -> str:
    """Changes whenever the generator, its templates or the parameters change."""
    digest = hashlib.sha256()
    package = resources.files("dora_assets.demo")
    modules = sorted((entry for entry in package.iterdir() if entry.name.endswith(".py")), key=lambda item: item.name)
    for module in modules:
        digest.update(module.name.encode())
        digest.update(module.read_bytes())
    templates = package.joinpath("templates", "github")
    for entry in sorted(templates.iterdir(), key=lambda item: item.name):
        digest.update(entry.name.encode())
        digest.update(entry.read_bytes())
    digest.update(json.dumps([FORMAT_VERSION, REPOS, SEED, chunk_days, str(HISTORY_END), DROP_DAYS]).encode())
    return digest.hexdigest()[:12]


def chunk_range(chunk: int, chunk_days: int) -> tuple[date, date]:
    """First and last day of a chunk; chunk 0 ends DROP_DAYS after HISTORY_END."""
    last = HISTORY_END - timedelta(days=chunk * chunk_days)
    first = last - timedelta(days=chunk_days - 1)
    if chunk == 0:
        last = HISTORY_END + timedelta(days=DROP_DAYS)
    return first, last


def _generate_chunk(timeline: Timeline, chunk: int) -> str:
    """Generate one chunk into its folder and write its manifest (in a worker process)."""
    from dora_assets.demo.generator import generate_demo

    first, last = chunk_range(chunk, timeline.chunk_days)
    target = timeline.chunk_dir(chunk)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    landing = partial / "landing"
    generate_demo(
        landing,
        days=(last - first).days + 1,
        repos=REPOS,
        seed=SEED + chunk,
        end=last,
        until=datetime.combine(last + timedelta(days=1), day_start(), UTC),
        number_offset=chunk * NUMBERS_PER_CHUNK,  # numbers never repeat across chunks (see the module docstring)
    )
    days = []
    for ndjson in sorted(landing.rglob("deliveries.ndjson")):
        folder = ndjson.parent
        day = date(int(folder.parent.parent.name), int(folder.parent.name), int(folder.name))
        with ndjson.open("rb") as handle:
            lines = handle.read().splitlines()
        redeliveries = sorted((folder / "redeliveries").glob("*.json")) if (folder / "redeliveries").is_dir() else []
        files = [ndjson, *redeliveries]
        days.append(
            {
                "day": day.isoformat(),
                "chunk": chunk,
                "records": len(lines) + len(redeliveries),
                "redeliveries": len(redeliveries),
                "bytes": sum(path.stat().st_size for path in files),
                "files": [path.relative_to(landing).as_posix() for path in files],
                "last_received_at": json.loads(lines[-1])["received_at"],
            }
        )
    (partial / "manifest.json").write_text(json.dumps(days), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return str(target)


def _load_days(timeline: Timeline, chunk: int) -> list[Day] | None:
    manifest = timeline.chunk_dir(chunk) / "manifest.json"
    if not manifest.is_file():
        return None
    return [
        Day(
            day=date.fromisoformat(item["day"]),
            chunk=item["chunk"],
            records=item["records"],
            redeliveries=item["redeliveries"],
            bytes=item["bytes"],
            files=tuple(item["files"]),
            last_received_at=item["last_received_at"],
        )
        for item in json.loads(manifest.read_text(encoding="utf-8"))
    ]


def ensure_timeline(timeline: Timeline, records: int, *, workers: int = 2, log=print) -> list[Day]:
    """Days of the cached timeline (newest first, up to HISTORY_END + DROP_DAYS), generating
    chunks until the days up to HISTORY_END hold at least ``records`` records."""
    root = timeline.root
    root.mkdir(parents=True, exist_ok=True)
    days: list[Day] = []
    chunk = 0
    started = time.perf_counter()
    generated = 0
    while True:
        history = sum(day.records for day in days if day.day <= HISTORY_END)
        if history >= records:
            break
        # Chunks are independent: generate the next few missing ones in parallel.
        wave = []
        estimate = max(1, (records - history) // (timeline.chunk_days * 250) + 1)
        for candidate in range(chunk, chunk + min(max(workers, 1) * 2, estimate)):
            if _load_days(timeline, candidate) is None:
                wave.append(candidate)
        if wave:
            log(f"bench data: generating chunks {wave[0]}..{wave[-1]} ({timeline.chunk_days} days each) into {root}")
            with ProcessPoolExecutor(max_workers=min(workers, len(wave))) as pool:
                list(pool.map(_generate_chunk, [timeline] * len(wave), wave))
            generated += len(wave)
        while (loaded := _load_days(timeline, chunk)) is not None:
            days.extend(sorted(loaded, key=lambda item: item.day, reverse=True))
            chunk += 1
            history = sum(day.records for day in days if day.day <= HISTORY_END)
            if history >= records:
                break
    if generated:
        log(f"bench data: {generated} chunks generated in {time.perf_counter() - started:.0f} s")
    return days


def history(timeline: Timeline, records: int, days: list[Day]) -> History:
    """The latest whole days up to HISTORY_END holding at least ``records`` records."""
    chosen: list[Day] = []
    total = 0
    for day in days:
        if day.day > HISTORY_END:
            continue
        chosen.append(day)
        total += day.records
        if total >= records:
            break
    files = [(timeline.chunk_dir(day.chunk) / "landing" / name, name) for day in reversed(chosen) for name in day.files]
    return History(
        records=total,
        redeliveries=sum(day.redeliveries for day in chosen),
        bytes=sum(day.bytes for day in chosen),
        first_day=chosen[-1].day,
        last_day=chosen[0].day,
        files=files,
        last_received_at=datetime.fromisoformat(chosen[0].last_received_at.replace("Z", "+00:00")),
    )


def drop_file(timeline: Timeline, days: list[Day]) -> tuple[Path, datetime]:
    """The incremental drop: the first DROP_DELIVERIES NDJSON lines after HISTORY_END, as one
    NDJSON file (cached), and the received_at of its last delivery."""
    target = timeline.root / f"drop-{DROP_DELIVERIES}.ndjson"
    after = sorted((day for day in days if day.day > HISTORY_END), key=lambda item: item.day)
    lines: list[bytes] = []
    for day in after:
        ndjson = timeline.chunk_dir(day.chunk) / "landing" / day.files[0]
        lines.extend(ndjson.read_bytes().splitlines())
        if len(lines) >= DROP_DELIVERIES:
            break
    if len(lines) < DROP_DELIVERIES:
        raise RuntimeError(f"only {len(lines)} deliveries after {HISTORY_END}; raise DROP_DAYS")
    lines = lines[:DROP_DELIVERIES]
    if not target.is_file():
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(b"\n".join(lines) + b"\n")
        os.replace(temporary, target)
    last = json.loads(lines[-1])["received_at"]
    return target, datetime.fromisoformat(last.replace("Z", "+00:00"))


def link_files(files: list[tuple[Path, str]], landing: Path) -> None:
    """Hard-link cached files into a landing folder (no copy; ingestion never modifies a landing
    file, and a symlink leading out of the landing folder would be quarantined)."""
    for source, name in files:
        target = landing / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)


if __name__ == "__main__":  # python bench/datagen.py 1000000: fill the cache
    wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    cached = Timeline()
    chosen = history(cached, wanted, ensure_timeline(cached, wanted))
    print(f"{chosen.records} records, {chosen.bytes / 1e9:.2f} GB, {chosen.first_day} to {chosen.last_day}")
