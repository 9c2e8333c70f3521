"""Containerfile templates for `rhcos-layer init`, one folder each (shipped as package data)."""
