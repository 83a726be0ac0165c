"""Predictions: ``Model`` declarations and their backends, and ``Classify``."""
