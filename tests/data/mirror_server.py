"""A real HTTP server on 127.0.0.1 over a folder laid out like a data mirror, with faults on demand."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.data.bigbench_tasks import write_task


class _Mirror(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; `/truncated/...` stops halfway, `/corrupt/...` flips one byte."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        fault, _, rest = self.path.lstrip("/").partition("/")
        if fault not in ("truncated", "corrupt"):
            super().do_GET()
            return
        body = (Path(self.directory) / rest).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "truncated":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.close()  # the connection dies mid-body
        else:
            self.wfile.write(body[:100] + bytes([body[100] ^ 1]) + body[101:])

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """The base URL of a server over `folder` while the block runs."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Mirror(*a, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def mirror_folder(folder: Path, shared_data: Path, tasks: dict[str, list[object]]) -> Path:
    """`folder` as a mirror: the shared `bbh/` and `nlu/` (linked, not copied) and `bigbench/<task>/task.json`
    for each of `tasks`; no `bb_minus_bbh/`, so the pools can only be rebuilt."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("bbh", "nlu"):
        (folder / name).symlink_to(shared_data / name, target_is_directory=True)
    for task, examples in tasks.items():
        write_task(folder, task, examples)  # type: ignore[arg-type]
    return folder
