"""Composition root: settings, app factory, worker, CLI and the processing pipeline."""
