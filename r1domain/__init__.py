"""The torch-free domain: prompt and output formats, parsing, rule rewards, the reflection
detector, dataset file formats and config field checks.

The web process may import anything here; nothing here may import torch, transformers,
TRL or datasets (an import-linter contract checks it). Torch code lives in
``workers.stages``, which only workers import.
"""
