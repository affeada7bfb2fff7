"""The evaluation app's pure code: numpy and the standard library only, never Django (tests/test_layout.py
checks it). Metrics, the paper's measures, the prediction and reference file formats, release files, charts.
The offline evaluator (`python -m evaluation.evaluate`) runs on these alone."""
