"""Programming problems: their tests, the program a completion gives, judging it in the
sandbox, and pass@k. Plain Python: no Django, no torch."""
