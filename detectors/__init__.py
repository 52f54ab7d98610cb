"""Detectors: small objects registered by name that turn media into Findings."""

from detectors.base import Detector, DetectorContext, available_detectors, get_detector, register

__all__ = ["Detector", "DetectorContext", "available_detectors", "get_detector", "register"]
