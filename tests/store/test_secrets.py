"""Secrets are created once on first use, whoever asks first (R2, R15: the keyed hashes and the
statement signatures of every case depend on one key that never changes)."""
from __future__ import annotations

import multiprocessing
import threading

from cases.settings import Settings


def _secret_in_process(data_dir: str, queue) -> None:
    try:
        queue.put(Settings(data_dir=data_dir).secret("statement").decode())
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        queue.put(f"error: {exc!r}")


def test_a_secret_asked_for_first_by_many_threads_at_once_is_one_secret(tmp_path):
    settings = Settings(data_dir=tmp_path)
    barrier = threading.Barrier(16)
    got: list[str] = []

    def ask() -> None:
        barrier.wait()
        try:
            got.append(settings.secret("statement").decode())
        except Exception as exc:  # noqa: BLE001
            got.append(f"error: {exc!r}")

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 16 and len(set(got)) == 1 and not got[0].startswith("error"), set(got)
    assert settings.secret("statement").decode() == got[0]  # and it stays that one
    assert not list((tmp_path / "secrets").glob("*.tmp")) and not list((tmp_path / "secrets").glob(".*"))


def test_a_secret_asked_for_first_by_several_processes_is_one_secret(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_secret_in_process, args=(str(tmp_path), queue)) for _ in range(6)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(10)
    assert len(set(got)) == 1 and not got[0].startswith("error"), set(got)
