"""Placeholder so the import contracts resolve; written by its owner."""
