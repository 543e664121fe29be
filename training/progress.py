"""Progress reporting for long loops: tqdm when it is installed, a plain fallback otherwise.

The fallback redraws one line (with ``\\r``) at most a few times a second when the
stream is a terminal, and otherwise stays quiet until ``close``, so CI logs get one
line per bar instead of thousands.
"""

from __future__ import annotations

import sys
import time


class _PlainBar:
    def __init__(self, total: int, desc: str, stream):
        self.total, self.desc, self.stream = total, desc, stream
        self.count, self.postfix = 0, ""
        self.start = self.last_draw = time.perf_counter()
        self.live = hasattr(stream, "isatty") and stream.isatty()

    def update(self, n: int = 1) -> None:
        self.count += n
        now = time.perf_counter()
        if self.live and now - self.last_draw > 0.2:
            self.last_draw = now
            self.stream.write("\r" + self._line(now))
            self.stream.flush()

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def _line(self, now: float) -> str:
        elapsed = now - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        return f"{self.desc}: {self.count}/{self.total} [{elapsed:.1f}s, {rate:.0f}/s] {self.postfix}"

    def close(self) -> None:
        self.stream.write(("\r" if self.live else "") + self._line(time.perf_counter()) + "\n")
        self.stream.flush()


class _SilentBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool = True, stream=None):
    """A bar with ``update(n)``, ``set_postfix_str(text)`` and ``close()``."""
    if not enabled:
        return _SilentBar()
    stream = sys.stderr if stream is None else stream
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainBar(total, desc, stream)
    return tqdm(total=total, desc=desc, file=stream, leave=True, dynamic_ncols=True)
