"""Celery tasks and the training stages they run.

``workers.stages`` is plain Python (no Django, no broker): GRPO, SFT, sampling,
evaluation, rewards. ``workers.tasks`` and ``workers.recording`` are the thin Django
side that claims a stage row, calls the stage code and records what it reports.
"""
