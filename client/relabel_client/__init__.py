"""relabel: a command-line client for a ReLabel server's REST API (see `relabel --help`)."""

__version__ = "0.1.0"
