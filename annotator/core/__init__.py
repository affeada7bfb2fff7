"""The annotator app's pure code: numpy and the standard library only, never Django (tests/test_layout.py
checks it). Consensus and agreement maths, the vote and import file formats, the vocabulary parser."""
