"""Face-swap detection. ``faces`` (frames, detection, tracking, landmarks,
aligned crops) is shared with the audio-video sync and identity detectors."""
