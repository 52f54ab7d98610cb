"""Voice-clone (spoofed speech) detection: corpus, models, training, evaluation, detector.

Import ``detectors.voice_clone.detector`` to register the pipeline detector;
it is not among the built-in detectors until a model with measured held-out
error rates ships (docs/voice.md).
"""
