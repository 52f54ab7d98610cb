"""Rotator process for the rotation-race test: rotates the key COUNT times, printing "ROT <index>"."""

import sys
from pathlib import Path

from verifier.config import Settings
from verifier.ledger import Ledger

data_dir, count = sys.argv[1], int(sys.argv[2])
led = Ledger.open(Settings(data_dir=Path(data_dir), ledger_url=None))
for _ in range(count):
    _, _, index = led.rotate_key()
    sys.stdout.write(f"ROT {index}\n")
    sys.stdout.flush()
led.close()
