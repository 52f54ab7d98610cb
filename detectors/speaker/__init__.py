"""Speaker check: is the voice in a recording the person it is claimed to be
(``verifier enroll NAME RECORDING...`` + ``speaker_claim``, used only when
``verify --claimed-speaker NAME`` is given)? Not a spoof detector: a good
voice clone is meant to match the speaker (see MODEL_CARD.md)."""
