"""Programming problems: their tests (``specs``, read from public row shapes by ``rows``),
the program a completion gives (``programs``), judging it in the sandbox with one outcome
per test (``judge``), output comparison (``compare``) and pass@k (``metrics``). Plain
Python: no Django, no torch."""
