"""Writer process used by the concurrency and crash tests.

Appends COUNT records and prints "ACK <index> <tag>" after each append has
committed (append returns only after commit), flushing stdout so a parent that
kills us knows exactly which appends were acknowledged.
"""

import sys
from pathlib import Path

from verifier.config import Settings
from verifier.ledger import Ledger

data_dir, url, tag, count, every = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
led = Ledger.open(Settings(data_dir=Path(data_dir), ledger_url=url or None), checkpoint_every=every)
for i in range(count):
    e = led.append({"schema": "test/concurrency", "writer": tag, "n": i})
    sys.stdout.write(f"ACK {e.index} {tag} {i}\n")
    sys.stdout.flush()
led.close()
