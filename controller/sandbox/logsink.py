"""The sandbox's own log lines while the demo owns the terminal: kept for debugging, off the screen.

``greenlane demo`` points structlog here unless ``--verbose``. Lines are held in memory (the most recent
``limit``) until the sandbox has a state directory, then appended to ``<state>/logs/sandbox.log`` beside
the servers' own logs; ``--keep`` keeps them all. A failed start leaves them in :attr:`LogSink.held`.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import TextIO

LOG_NAME = "sandbox.log"


class LogSink:
    """A text stream (``write``/``flush``) for ``structlog.PrintLoggerFactory``; thread-safe."""

    def __init__(self, limit: int = 2000) -> None:
        self._lock = threading.Lock()
        self._held: deque[str] = deque(maxlen=limit)
        self._file: TextIO | None = None
        self.path: Path | None = None

    def write(self, text: str) -> int:
        with self._lock:
            if self._file is not None:
                self._file.write(text)
            else:
                self._held.append(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def isatty(self) -> bool:
        return False

    @property
    def held(self) -> str:
        """What was written while no file was attached (most recent ``limit`` writes)."""
        with self._lock:
            return "".join(self._held)

    def attach(self, directory: Path) -> Path:
        """Append from now on (and what was held) to ``directory/sandbox.log``; returns its path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / LOG_NAME
        handle = path.open("a", encoding="utf-8")
        with self._lock:
            if self._file is not None:
                self._file.close()
            handle.write("".join(self._held))
            handle.flush()
            self._held.clear()
            self._file, self.path = handle, path
        return path

    def detach(self) -> None:
        """Back to holding lines in memory (the state directory may be gone)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
            self._file = None
