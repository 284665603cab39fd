"""Everything that reads a finished corpus: the sample reader, the integrity checks, and the
commands ``validate``, ``audit``, ``regenerate`` and ``evaluate`` (with its detectors)."""
