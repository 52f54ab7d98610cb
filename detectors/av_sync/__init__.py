"""Audio-video synchronisation: does the speech match the visible mouth, and
at what offset? See ``detector.py`` for the registered ``av_sync`` detector and
``docs/av_sync.md`` for the method and its measured error rates."""
